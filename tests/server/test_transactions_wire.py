"""Transactions on the data path, through the wire: transactional batches produced with our
codec over a socket, markers written with WriteTxnMarkers (as a transaction coordinator sends
them), then read by clients we did not write — confluent-kafka (librdkafka), kafka-python and
Kafka's own Java consumer (kafka-console-consumer) — with isolation.level read_committed and
read_uncommitted; kafka-transactions.sh describe-producers shows the open transaction.

The log of the main test (offsets):
  0-1 producer A's transaction (committed at 4)   2 producer B's (aborted at 5)
  3   a plain record                               6 producer C's (never ended)
  7   a plain record after C's open transaction
read_committed sees A's two records and the plain one at 3, nothing of B's, and stops at C's
open transaction (LSO 6); read_uncommitted sees every data record.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from data_broker import Client, DataBroker, data_broker

import kafka_support as ks
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.describe_producers import DescribeProducersRequest
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.protocol.messages.write_txn_markers import WriteTxnMarkersRequest
from ferrokafka.storage import BatchBuilder, build_control_batch
from kafka import KafkaConsumer
from kafka import TopicPartition as KTopicPartition

TOPIC = "txn"
PRODUCE_V = 11
MARKERS_V = 1
A, B, C = 7001, 7002, 7003
# Bounds of the consumers' polling (the records are there before they start).
CONSUME_TIMEOUT_S = 20.0
POLL_S = 0.5
EMPTY_POLLS_AFTER_DATA = 4


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataBroker]:
    with data_broker(tmp_path_factory.mktemp("txn") / "b", NO_VERIFICATION) as b:
        b.create_topic(TOPIC)
        yield b


@pytest.fixture(scope="module")
def client(broker: DataBroker) -> Iterator[Client]:
    with Client(broker.bootstrap_servers) as c:
        yield c


# These tests write transactional batches by hand, without a transaction coordinator that
# knows them: as on Kafka, that needs the leaders' verification (KIP-890) off.
NO_VERIFICATION = {"transaction.partition.verification.enable": "false"}


def records(pid: int, seq: int, values: list[bytes], *, txn: bool = True, epoch: int = 0) -> bytes:
    builder = (
        BatchBuilder(producer_id=pid, producer_epoch=epoch, base_sequence=seq, is_transactional=txn)
        if pid >= 0
        else BatchBuilder()
    )
    for value in values:
        builder.append(value, key=b"k")
    return builder.build()


def produce(
    client: Client, data: bytes, *, topic: str = TOPIC, transactional_id: str | None = "tx"
) -> Any:
    request = ProduceRequest(
        transactional_id=transactional_id,
        acks=-1,
        timeout_ms=5_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=topic,
                topic_id=uuid.UUID(int=0),
                partition_data=[ProduceRequest.PartitionProduceData(index=0, records=data)],
            )
        ],
    )
    return client.call(request, PRODUCE_V).responses[0].partition_responses[0]


def write_marker(
    client: Client,
    pid: int,
    commit: bool,
    *,
    epoch: int = 0,
    coordinator_epoch: int = 0,
    topic: str = TOPIC,
    partitions: tuple[int, ...] = (0,),
) -> list[int]:
    request = WriteTxnMarkersRequest(
        markers=[
            WriteTxnMarkersRequest.WritableTxnMarker(
                producer_id=pid,
                producer_epoch=epoch,
                transaction_result=commit,
                coordinator_epoch=coordinator_epoch,
                topics=[
                    WriteTxnMarkersRequest.WritableTxnMarkerTopic(
                        name=topic, partition_indexes=list(partitions)
                    )
                ],
            )
        ]
    )
    response = client.call(request, MARKERS_V)
    [result] = response.markers
    assert result.producer_id == pid
    [topic_result] = result.topics
    assert topic_result.name == topic
    return [p.error_code for p in topic_result.partitions]


@pytest.fixture(scope="module")
def transactions(broker: DataBroker, client: Client) -> DataBroker:
    """The log of the module docstring."""
    offsets = [
        produce(client, records(A, 0, [b"a0", b"a1"])).base_offset,
        produce(client, records(B, 0, [b"b0"])).base_offset,
        produce(client, records(-1, -1, [b"plain3"], txn=False), transactional_id=None).base_offset,
    ]
    assert write_marker(client, A, commit=True) == [0]
    assert write_marker(client, B, commit=False) == [0]
    offsets.append(produce(client, records(C, 0, [b"c0"])).base_offset)
    offsets.append(
        produce(client, records(-1, -1, [b"plain7"], txn=False), transactional_id=None).base_offset
    )
    assert offsets == [0, 2, 3, 6, 7]
    return broker


def confluent_values(bootstrap: str, isolation: str) -> tuple[list[bytes], int]:
    """Every value the consumer gets from the start, and its position when it ran dry."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"txn-{isolation}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    try:
        tp = TopicPartition(TOPIC, 0, OFFSET_BEGINNING)
        consumer.assign([tp])
        values: list[bytes] = []
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        empty = 0
        while time.monotonic() < deadline and empty < EMPTY_POLLS_AFTER_DATA:
            message = consumer.poll(POLL_S)
            if message is None:
                empty += 1 if values else 0
                continue
            assert message.error() is None, message.error()
            values.append(message.value())
        [position] = consumer.position([TopicPartition(TOPIC, 0)])
        return values, position.offset
    finally:
        consumer.close()


def kafka_python_values(bootstrap: str, isolation: str) -> tuple[list[bytes], int]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation,
        enable_auto_commit=False,
        group_id=None,
    )
    try:
        tp = KTopicPartition(TOPIC, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        values: list[bytes] = []
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        empty = 0
        while time.monotonic() < deadline and empty < EMPTY_POLLS_AFTER_DATA:
            batch = consumer.poll(timeout_ms=int(POLL_S * 1000))
            got = [r.value for rs in batch.values() for r in rs]
            if not got:
                empty += 1 if values else 0
            values.extend(got)
        end = consumer.end_offsets([tp])[tp]
        return values, end
    finally:
        consumer.close()


COMMITTED = [b"a0", b"a1", b"plain3"]
EVERYTHING = [b"a0", b"a1", b"b0", b"plain3", b"c0", b"plain7"]


def test_confluent_read_committed_sees_committed_records_only(transactions: DataBroker) -> None:
    values, position = confluent_values(transactions.bootstrap_servers, "read_committed")
    assert values == COMMITTED
    assert position == 6  # blocked at C's open transaction (the LSO)


def test_confluent_read_uncommitted_sees_everything(transactions: DataBroker) -> None:
    values, position = confluent_values(transactions.bootstrap_servers, "read_uncommitted")
    assert values == EVERYTHING
    assert position == 8


def test_kafka_python_read_committed(transactions: DataBroker) -> None:
    values, end = kafka_python_values(transactions.bootstrap_servers, "read_committed")
    assert values == COMMITTED
    assert end == 6  # ListOffsets with isolation_level 1: the LSO


def test_kafka_python_read_uncommitted(transactions: DataBroker) -> None:
    values, end = kafka_python_values(transactions.bootstrap_servers, "read_uncommitted")
    assert values == EVERYTHING
    assert end == 8


def test_describe_producers_shows_open_transactions(
    transactions: DataBroker, client: Client
) -> None:
    request = DescribeProducersRequest(
        topics=[DescribeProducersRequest.TopicRequest(name=TOPIC, partition_indexes=[0])]
    )
    [topic] = client.call(request, 0).topics
    [partition] = topic.partitions
    by_pid = {p.producer_id: p for p in partition.active_producers}
    assert by_pid[C].current_txn_start_offset == 6
    assert by_pid[A].current_txn_start_offset == -1 and by_pid[A].coordinator_epoch == 0


def test_marker_refusals(transactions: DataBroker, client: Client) -> None:
    topic = "txn-refusals"  # not the log the consumers read
    transactions.create_topic(topic)
    pid = 7100

    def send(data: bytes) -> int:
        return int(produce(client, data, topic=topic).error_code)

    def end(commit: bool, **kw: Any) -> list[int]:
        return write_marker(client, pid, commit, topic=kw.pop("topic", topic), **kw)

    assert send(records(pid, 0, [b"x"])) == 0
    assert end(False, coordinator_epoch=3) == [0]
    assert send(records(pid, 0, [b"y"])) == 0  # seq 0 after a marker
    # A zombie coordinator, then a fenced producer epoch.
    assert end(True, coordinator_epoch=2) == [ec.TRANSACTION_COORDINATOR_FENCED]
    assert end(True, coordinator_epoch=3) == [0]
    # A producer bumped to epoch 1 fences markers of epoch 0.
    assert send(records(pid, 0, [b"z"], epoch=1)) == 0
    assert end(True, coordinator_epoch=3) == [ec.INVALID_PRODUCER_EPOCH]
    assert end(True, epoch=1, coordinator_epoch=3) == [0]
    # Not hosted here / unknown topic.
    assert end(True, partitions=(5,)) == [ec.UNKNOWN_TOPIC_OR_PARTITION]
    assert end(True, topic="nope") == [ec.UNKNOWN_TOPIC_OR_PARTITION]


def test_client_control_batches_are_refused(transactions: DataBroker, client: Client) -> None:
    control = build_control_batch(commit=True, producer_id=A, producer_epoch=0)
    response = produce(client, control)
    assert response.error_code == ec.INVALID_RECORD
    assert "not allowed to write control records" in response.error_message


class FakeVerifier:
    """A transaction coordinator's answers to the produce path's KIP-890 checks."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.calls: list[tuple[str, int, int, list[tuple[str, int]], bool]] = []

    async def verify(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: Any,
        *,
        add: bool,
    ) -> dict[tuple[str, int], int]:
        self.calls.append((transactional_id, producer_id, producer_epoch, list(partitions), add))
        return {tp: self.code for tp in partitions}


def set_verifier(broker: DataBroker, verifier: FakeVerifier | None) -> None:
    def assign() -> None:
        broker.node.txn_verifier = verifier

    trio.from_thread.run_sync(assign, trio_token=broker.token)


@pytest.mark.parametrize(
    ("code", "answer"),
    [
        (ec.INVALID_TXN_STATE, ec.INVALID_TXN_STATE),
        (ec.CONCURRENT_TRANSACTIONS, ec.NOT_ENOUGH_REPLICAS),
        (ec.PRODUCER_FENCED, ec.PRODUCER_FENCED),
    ],
)
def test_a_refused_verification_appends_nothing(tmp_path: Path, code: int, answer: int) -> None:
    with data_broker(tmp_path / "b") as broker, Client(broker.bootstrap_servers) as client:
        broker.create_topic(TOPIC)
        verifier = FakeVerifier(code)
        set_verifier(broker, verifier)
        response = produce(client, records(A, 0, [b"x"]), transactional_id="tx-v")
        assert response.error_code == answer
        assert verifier.calls == [("tx-v", A, 0, [(TOPIC, 0)], False)]
        partition = broker.partition(TOPIC, 0)
        assert partition is not None and partition.log_end_offset == 0


def test_verification_only_for_a_transactions_first_batch(tmp_path: Path) -> None:
    with data_broker(tmp_path / "b") as broker, Client(broker.bootstrap_servers) as client:
        broker.create_topic(TOPIC)
        verifier = FakeVerifier(ec.NONE)
        set_verifier(broker, verifier)
        assert produce(client, records(A, 0, [b"x"]), transactional_id="tx-v").error_code == 0
        assert produce(client, records(A, 0, [b"y"]), transactional_id="tx-v").error_code == 0
        assert len(verifier.calls) == 1  # the transaction was open for the second
        # Plain batches never wait for a verification.
        plain = records(-1, -1, [b"p"], txn=False)
        assert produce(client, plain, transactional_id=None).error_code == 0
        assert write_marker(client, A, commit=True) == [0]
        assert produce(client, records(A, 0, [b"z"]), transactional_id="tx-v").error_code == 0
        assert len(verifier.calls) == 2  # a new transaction: verified again


# Kafka's own Java consumer and transactions tool (the reference clients).
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
TRANSACTIONS_COMMAND = "org.apache.kafka.tools.TransactionsCommand"
# The console consumer exits once no record came for this long.
CONSOLE_IDLE_MS = 4_000
_CONSOLE_LINE = re.compile(r"^Offset:(\d+)\t(.*)$")


@pytest.mark.kafka
@pytest.mark.parametrize(
    ("isolation", "expected"),
    [
        ("read_committed", [(0, "a0"), (1, "a1"), (3, "plain3")]),
        (
            "read_uncommitted",
            [(0, "a0"), (1, "a1"), (2, "b0"), (3, "plain3"), (6, "c0"), (7, "plain7")],
        ),
    ],
)
def test_java_console_consumer(
    transactions: DataBroker, tmp_path: Path, isolation: str, expected: list[tuple[int, str]]
) -> None:
    result = ks.run_kafka_tool(
        CONSOLE_CONSUMER,
        [
            "--bootstrap-server",
            transactions.bootstrap_servers,
            "--topic",
            TOPIC,
            "--partition",
            "0",
            "--offset",
            "0",
            "--max-messages",
            str(len(expected) + 1),  # one more than there is: it stops when idle
            "--isolation-level",
            isolation,
            "--timeout-ms",
            str(CONSOLE_IDLE_MS),
            "--formatter-property",
            "print.offset=true",
        ],
        work_dir=tmp_path,
    )
    got = [
        (int(m.group(1)), m.group(2))
        for m in map(_CONSOLE_LINE.match, result.stdout.splitlines())
        if m is not None
    ]
    assert got[: len(expected)] == expected
    assert len(got) == len(expected)


@pytest.mark.kafka
def test_kafka_transactions_describe_producers(transactions: DataBroker, tmp_path: Path) -> None:
    result = ks.run_kafka_tool(
        TRANSACTIONS_COMMAND,
        [
            "--bootstrap-server",
            transactions.bootstrap_servers,
            "describe-producers",
            "--topic",
            TOPIC,
            "--partition",
            "0",
        ],
        work_dir=tmp_path,
    )
    rows = {
        int(cols[0]): cols
        for cols in (line.split() for line in result.stdout.splitlines()[1:])
        if cols and cols[0].isdigit()
    }
    # ProducerEpoch, LatestCoordinatorEpoch, LastSequence, _, CurrentTransactionStartOffset
    assert rows[C][1:4] + rows[C][5:] == ["0", "-1", "0", "6"]
    assert rows[A][1:4] + rows[A][5:] == ["0", "0", "1", "None"]


class FakeGroupCoordinator:
    """The group coordinator's side of a marker on ``__consumer_offsets`` (H4's
    ``complete_transaction``): records its calls, answers ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.calls: list[tuple[int, int, int, int, bool]] = []

    async def complete_transaction(
        self,
        partition_index: int,
        producer_id: int,
        producer_epoch: int,
        coordinator_epoch: int,
        commit: bool,
    ) -> int:
        self.calls.append((partition_index, producer_id, producer_epoch, coordinator_epoch, commit))
        return self.code


OFFSETS_TOPIC = "__consumer_offsets"
OFFSETS_PARTITIONS = 4


@pytest.fixture(scope="module")
def offsets_topic(broker: DataBroker) -> str:
    """``__consumer_offsets`` hosted here (the consumers' groups may have made it already;
    the group coordinator is swapped for fakes)."""
    if broker.partition(OFFSETS_TOPIC, 0) is None:
        broker.create_topic(OFFSETS_TOPIC, OFFSETS_PARTITIONS, {"cleanup.policy": "compact"})
    return OFFSETS_TOPIC


def partition_count(broker: DataBroker, topic: str) -> int:
    image = broker.node.image.topic(topic)
    assert image is not None
    return len(image.partitions)


def swap_group_coordinator(broker: DataBroker, coordinator: object) -> object:
    """Set the node's group coordinator; returns the one it had."""
    node = broker.node

    def swap() -> object:
        old = node.group_coordinator
        node.group_coordinator = coordinator
        return old

    return trio.from_thread.run_sync(swap, trio_token=broker.token)


@pytest.mark.parametrize(
    ("code", "answer"),
    [
        (ec.NONE, ec.NONE),
        (ec.COORDINATOR_LOAD_IN_PROGRESS, ec.NOT_LEADER_OR_FOLLOWER),
        (ec.NOT_COORDINATOR, ec.NOT_LEADER_OR_FOLLOWER),
        (ec.TRANSACTION_COORDINATOR_FENCED, ec.TRANSACTION_COORDINATOR_FENCED),
    ],
)
def test_consumer_offsets_markers_go_to_the_group_coordinator(
    broker: DataBroker, client: Client, offsets_topic: str, code: int, answer: int
) -> None:
    fake = FakeGroupCoordinator(code)
    old = swap_group_coordinator(broker, fake)
    try:
        got = write_marker(
            client,
            9001,
            commit=True,
            epoch=2,
            coordinator_epoch=4,
            topic=offsets_topic,
            partitions=(0, 3, partition_count(broker, offsets_topic)),
        )
    finally:
        swap_group_coordinator(broker, old)
    # A partition with no replica here is Kafka's UNKNOWN_TOPIC_OR_PARTITION, not asked.
    assert got == [answer, answer, ec.UNKNOWN_TOPIC_OR_PARTITION]
    assert fake.calls == [(0, 9001, 2, 4, True), (3, 9001, 2, 4, True)]


def test_consumer_offsets_markers_without_a_group_coordinator(
    broker: DataBroker, client: Client, offsets_topic: str
) -> None:
    old = swap_group_coordinator(broker, None)
    try:
        got = write_marker(client, 9001, commit=False, topic=offsets_topic)
    finally:
        swap_group_coordinator(broker, old)
    # Kafka's COORDINATOR_NOT_AVAILABLE, translated for the transaction coordinator.
    assert got == [ec.NOT_LEADER_OR_FOLLOWER]
