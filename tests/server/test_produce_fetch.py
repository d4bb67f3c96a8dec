"""Produce, Fetch and ListOffsets on the wire, with our own raw client: error codes, byte
limits, long-poll timing, and that a rejected produce stores nothing."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from data_broker import Client, DataBroker, data_broker

from ferrokafka._ferrokafka import BatchBuilder, decode_batches
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.list_offsets import ListOffsetsRequest
from ferrokafka.protocol.messages.produce import ProduceRequest

TOPIC = "data"
PRODUCE_V = 11  # flexible, by name
PRODUCE_ID_V = 13  # by topic id
FETCH_V = 12  # last by name
FETCH_ID_V = 17  # by topic id
LIST_OFFSETS_V = 9
# Long-poll bounds: generous for a loaded machine, still far below the wait that would mean
# the broker ignored the append.
LONG_POLL_WAIT_MS = 8_000
WAKE_AFTER_S = 0.3
WAKE_WITHIN_S = 4.0
SHORT_WAIT_MS = 300


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC, partitions=2)
        yield b


@pytest.fixture
def client(broker: DataBroker) -> Iterator[Client]:
    c = Client(broker.bootstrap_servers)
    with c:
        yield c


def batch(*values: bytes, compression: str = "none") -> bytes:
    builder = BatchBuilder(compression=compression)
    for i, value in enumerate(values):
        builder.append(value, key=b"k%d" % i, headers=[("h", b"v")])
    return builder.build()


def produce(
    client: Client,
    records: bytes | None,
    *,
    partition: int = 0,
    topic: str = TOPIC,
    acks: int = -1,
    version: int = PRODUCE_V,
    topic_id: uuid.UUID | None = None,
) -> Any:
    """The partition's answer, or None for acks=0 (nothing comes back)."""
    request = ProduceRequest(
        acks=acks,
        timeout_ms=5_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=topic,
                topic_id=topic_id or uuid.UUID(int=0),
                partition_data=[
                    ProduceRequest.PartitionProduceData(index=partition, records=records)
                ],
            )
        ],
    )
    if acks == 0:
        client.send_request(request, version)
        return None
    return client.call(request, version).responses[0].partition_responses[0]


def fetch_request(
    offsets: dict[int, int],
    *,
    topic: str = TOPIC,
    max_wait_ms: int = 0,
    min_bytes: int = 1,
    max_bytes: int = 1 << 20,
    partition_max_bytes: int = 1 << 20,
    session_id: int = 0,
    session_epoch: int = -1,
) -> FetchRequest:
    return FetchRequest(
        max_wait_ms=max_wait_ms,
        min_bytes=min_bytes,
        max_bytes=max_bytes,
        session_id=session_id,
        session_epoch=session_epoch,
        topics=[
            FetchRequest.FetchTopic(
                topic=topic,
                partitions=[
                    FetchRequest.FetchPartition(
                        partition=p, fetch_offset=o, partition_max_bytes=partition_max_bytes
                    )
                    for p, o in offsets.items()
                ],
            )
        ]
        if offsets
        else [],
    )


def fetch(client: Client, offset: int, partition: int = 0, **kw: Any) -> Any:
    response = client.call(fetch_request({partition: offset}, **kw), FETCH_V)
    assert response.error_code == 0
    return response.responses[0].partitions[0]


def values(records: bytes) -> list[bytes | None]:
    return [r.value for b in decode_batches(bytes(records)) for r in b.records()]


def list_offset(client: Client, timestamp: int, *, epoch: int = -1) -> tuple[int, int, int, int]:
    request = ListOffsetsRequest(
        replica_id=-1,
        topics=[
            ListOffsetsRequest.ListOffsetsTopic(
                name=TOPIC,
                partitions=[
                    ListOffsetsRequest.ListOffsetsPartition(
                        partition_index=0, timestamp=timestamp, current_leader_epoch=epoch
                    )
                ],
            )
        ],
    )
    p = client.call(request, LIST_OFFSETS_V).topics[0].partitions[0]
    return p.error_code, p.offset, p.timestamp, p.leader_epoch


def test_produce_then_fetch_round_trip(client: Client) -> None:
    first = produce(client, batch(b"a", b"b"))
    second = produce(client, batch(b"c", compression="zstd"))
    assert (first.error_code, first.base_offset, first.log_start_offset) == (0, 0, 0)
    assert (second.error_code, second.base_offset) == (0, 2)
    assert first.log_append_time_ms == -1
    part = fetch(client, 0)
    assert (part.error_code, part.high_watermark, part.last_stable_offset) == (0, 3, 3)
    assert part.log_start_offset == 0
    assert part.aborted_transactions is None
    assert values(part.records) == [b"a", b"b", b"c"]
    # from the middle of a batch: the whole batch comes back, as in Kafka
    assert values(fetch(client, 1).records) == [b"a", b"b", b"c"]
    assert fetch(client, 3).records in (b"", None)


def test_log_append_time_topic(broker: DataBroker, client: Client) -> None:
    broker.create_topic("lat", configs={"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    answer = produce(client, batch(b"x"), topic="lat")
    assert answer.error_code == 0
    assert before <= answer.log_append_time_ms <= int(time.time() * 1000)


def test_unknown_topic_partition_and_topic_id(broker: DataBroker, client: Client) -> None:
    assert produce(client, batch(b"x"), topic="nope").error_code == 3
    assert produce(client, batch(b"x"), partition=7).error_code == 3
    unknown_id = produce(client, batch(b"x"), version=PRODUCE_ID_V, topic_id=uuid.uuid4())
    assert unknown_id.error_code == 100
    topic_id = broker.partition(TOPIC, 0).topic_id
    by_id = produce(client, batch(b"x"), version=PRODUCE_ID_V, topic_id=topic_id)
    assert (by_id.error_code, by_id.base_offset) == (0, 0)


def test_invalid_acks(client: Client) -> None:
    answer = produce(client, batch(b"x"), acks=2)
    assert (answer.error_code, answer.base_offset) == (21, -1)
    assert list_offset(client, -1)[1] == 0


def test_bad_crc_is_corrupt_and_stores_nothing(client: Client) -> None:
    good = bytearray(batch(b"payload"))
    good[-1] ^= 0xFF  # a byte of the record, covered by the CRC
    assert produce(client, bytes(good)).error_code == 2
    assert list_offset(client, -1)[1] == 0
    assert fetch(client, 0).records in (b"", None)


def test_message_too_large(broker: DataBroker, client: Client) -> None:
    broker.create_topic("small", configs={"max.message.bytes": "1000"})
    assert produce(client, batch(b"x" * 2000), topic="small").error_code == 10
    assert produce(client, batch(b"x" * 100), topic="small").error_code == 0


def test_records_must_be_exactly_one_magic_2_batch(client: Client) -> None:
    two = batch(b"a") + batch(b"b")
    answer = produce(client, two)
    assert answer.error_code == 87
    assert "exactly one record batch" in answer.error_message
    old_magic = bytearray(batch(b"a"))
    old_magic[16] = 1
    assert produce(client, bytes(old_magic)).error_code == 87
    assert produce(client, b"").error_code == 87
    zstd_v6 = produce(client, batch(b"z", compression="zstd"), version=6)
    assert zstd_v6.error_code == 76
    assert list_offset(client, -1)[1] == 0


def test_acks_zero_sends_nothing_and_failure_closes(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    produce(client, batch(b"silent"), acks=0)
    # the next answer on the connection is the fetch's: nothing came for the produce
    assert values(fetch(client, 0).records) == [b"silent"]
    with caplog.at_level(logging.INFO, logger="ferrokafka.server.connection"):
        produce(client, batch(b"lost"), topic="nope", acks=0)
        assert client.is_closed_by_peer()
    # Kafka logs one INFO line for it; no ERROR and no traceback per request.
    closing = [r for r in caplog.records if r.name == "ferrokafka.server.connection"]
    assert [r.levelno for r in closing] == [logging.INFO]
    assert closing[0].exc_info is None and "acks=0 produce failed" in closing[0].getMessage()


def test_transactional_records_need_a_transactional_id(client: Client) -> None:
    """Kafka's KafkaApis: transactional batches in a request without a transactional id are
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53) — with or without a producer id (a batch with
    producer id -1 used to be stored and shown to read_committed consumers)."""
    for producer_id in (-1, 1000):
        builder = BatchBuilder(
            producer_id=producer_id,
            producer_epoch=0 if producer_id >= 0 else -1,
            base_sequence=0 if producer_id >= 0 else -1,
            is_transactional=True,
        )
        builder.append(b"txn", key=b"k")
        assert produce(client, builder.build()).error_code == 53
    assert list_offset(client, -1)[1] == 0  # nothing was written


def test_offset_out_of_range(client: Client) -> None:
    produce(client, batch(b"a"))
    part = fetch(client, 5)
    assert (part.error_code, part.high_watermark, part.log_start_offset) == (1, -1, -1)
    assert fetch(client, -1).error_code == 1


def test_long_poll_wakes_on_produce(broker: DataBroker, client: Client) -> None:
    def later() -> None:
        time.sleep(WAKE_AFTER_S)
        other = Client(broker.bootstrap_servers)
        with other:
            assert produce(other, batch(b"late"), partition=1).error_code == 0

    producer = threading.Thread(target=later)
    start = time.monotonic()
    producer.start()
    response = client.call(fetch_request({0: 0, 1: 0}, max_wait_ms=LONG_POLL_WAIT_MS), FETCH_V)
    elapsed = time.monotonic() - start
    producer.join()
    assert WAKE_AFTER_S <= elapsed < WAKE_WITHIN_S
    by_partition = {p.partition_index: p for p in response.responses[0].partitions}
    assert values(by_partition[1].records) == [b"late"]


def test_long_poll_times_out_empty(client: Client) -> None:
    start = time.monotonic()
    part = fetch(client, 0, max_wait_ms=SHORT_WAIT_MS)
    elapsed = time.monotonic() - start
    assert SHORT_WAIT_MS / 1000 <= elapsed < WAKE_WITHIN_S
    assert (part.error_code, part.high_watermark) == (0, 0)
    assert part.records in (b"", None)


def test_min_bytes_met_answers_at_once(client: Client) -> None:
    produce(client, batch(b"here"))
    start = time.monotonic()
    assert values(fetch(client, 0, max_wait_ms=LONG_POLL_WAIT_MS).records) == [b"here"]
    assert time.monotonic() - start < WAKE_WITHIN_S


def test_response_max_bytes_first_partition_may_exceed(client: Client) -> None:
    big = batch(b"x" * 5000)
    for partition in (0, 1):
        produce(client, big, partition=partition)
        produce(client, big, partition=partition)
    response = client.call(fetch_request({0: 0, 1: 0}, max_bytes=100), FETCH_V)
    parts = response.responses[0].partitions
    # one whole batch from the first partition despite the limit, nothing more
    assert len(decode_batches(bytes(parts[0].records))) == 1
    assert not parts[1].records
    # a partition limit above one batch but below two gives one batch
    response = client.call(fetch_request({0: 0}, partition_max_bytes=len(big) + 10), FETCH_V)
    assert len(decode_batches(bytes(response.responses[0].partitions[0].records))) == 1


def test_list_offsets(client: Client) -> None:
    assert list_offset(client, -2)[:2] == (0, 0)
    assert list_offset(client, -3)[:3] == (0, -1, -1)
    builder = BatchBuilder()
    for ts in (1000, 3000, 2000):
        builder.append(b"v", timestamp=ts)
    produce(client, builder.build())
    assert list_offset(client, -1) == (0, 3, -1, 0)
    assert list_offset(client, -2) == (0, 0, -1, 0)
    assert list_offset(client, -4)[:2] == (0, 0)
    assert list_offset(client, -5)[:3] == (0, -1, -1)
    assert list_offset(client, -3)[:3] == (0, 1, 3000)
    assert list_offset(client, 1500)[:3] == (0, 1, 3000)
    assert list_offset(client, 3001)[:3] == (0, -1, -1)
    assert list_offset(client, -1, epoch=0)[0] == 0
    assert list_offset(client, -1, epoch=5)[0] == 75  # newer than ours: unknown
    duplicate = ListOffsetsRequest(
        replica_id=-1,
        topics=[
            ListOffsetsRequest.ListOffsetsTopic(
                name=TOPIC,
                partitions=[ListOffsetsRequest.ListOffsetsPartition(partition_index=0)] * 2,
            )
        ],
    )
    parts = client.call(duplicate, LIST_OFFSETS_V).topics[0].partitions
    assert [p.error_code for p in parts] == [42, 42]


@pytest.mark.parametrize("version", range(3, 14))
def test_every_produce_version(broker: DataBroker, client: Client, version: int) -> None:
    topic_id = broker.partition(TOPIC, 0).topic_id if version >= PRODUCE_ID_V else None
    answer = produce(client, batch(b"v"), version=version, topic_id=topic_id)
    assert (answer.error_code, answer.base_offset) == (0, 0)


@pytest.mark.parametrize("version", range(4, 19))
def test_every_fetch_version(broker: DataBroker, client: Client, version: int) -> None:
    produce(client, batch(b"v"))
    request = fetch_request({0: 0, 9: 0})
    request.topics[0].topic_id = broker.partition(TOPIC, 0).topic_id
    response = client.call(request, version)
    parts = {p.partition_index: p for p in response.responses[0].partitions}
    assert values(parts[0].records) == [b"v"]
    assert parts[9].error_code == 3


@pytest.mark.parametrize("version", range(1, 12))
def test_every_list_offsets_version(client: Client, version: int) -> None:
    produce(client, batch(b"v"))
    request = ListOffsetsRequest(
        replica_id=-1,
        topics=[
            ListOffsetsRequest.ListOffsetsTopic(
                name=TOPIC,
                partitions=[
                    ListOffsetsRequest.ListOffsetsPartition(partition_index=0, timestamp=-1)
                ],
            )
        ],
    )
    part = client.call(request, version).topics[0].partitions[0]
    assert (part.error_code, part.offset) == (0, 1)
    assert part.leader_epoch == (0 if version >= 4 else -1)
