"""`ferrokafka transactions` as a user runs it, on transactions a real client (confluent-kafka)
made — one committed, one left open — and on a hanging one (a transactional batch no
coordinator knows, written with KIP-890's produce verification switched off, the way hanging
transactions arose before it). Each answer is checked against the clients' own view and
against Kafka's TransactionsCommand (kafka-transactions.sh) run on the same broker.

The broker is shared by the module. ``bootstrap_for`` starts one of each kind; the kinds run
are BROKER_KINDS (both), or the comma-separated list in $FERROKAFKA_TXN_CLI_BROKERS.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_support as ks
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.storage import BatchBuilder
from ferrokafka_cli.client import KafkaClient

pytestmark = [pytest.mark.kafka]

REPO = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "ferrokafka_cli.main", "transactions"]
TRANSACTIONS_COMMAND = "org.apache.kafka.tools.TransactionsCommand"
BROKER_KINDS = ("kafka", "ferrokafka")
BROKERS_ENV = "FERROKAFKA_TXN_CLI_BROKERS"
RUN_TIMEOUT_S = 90.0
CLIENT_TIMEOUT_S = 60.0
TOPIC = "txn-cli"
PARTITIONS = 2
# Longer than the module runs, so the coordinator does not abort the open transaction itself.
OPEN_TXN_TIMEOUT_MS = 900_000
# The hanging transactions, both on partition 1: producer ids no coordinator handed out, their
# batches an hour old, so that find-hanging's default 15-minute bound already counts them.
GHOST_PRODUCER_IDS = (7_000_000_001, 7_000_000_002)
GHOST_AGE_MS = 3_600_000
# Produce v12+ lets the leader add the partition to the transaction itself (KIP-890 part 2,
# transaction version 2), which a made-up transactional id fails; v11 is a TV1 producer's.
PRODUCE_TV1_VERSION = 11
# Without this Kafka refuses a transactional batch whose partition the coordinator did not
# add to a transaction (KIP-890), which is what keeps real transactions from hanging.
KAFKA_CONFIG = {"transaction.partition.verification.enable": "false"}


@dataclass
class BrokerUnderTest:
    bootstrap: str
    # A context in which the broker takes a transactional batch without asking the
    # transaction coordinator (KIP-890 verification off), to write a hanging transaction.
    unverified: Callable[[], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def bootstrap_for(kind: str, work_dir: Path) -> Iterator[BrokerUnderTest]:
    """A running broker of ``kind``: "kafka" (Apache Kafka 4.4) or "ferrokafka" (in-process),
    each with transaction.partition.verification.enable=false for the whole module, so that
    the hanging transactions this module writes by hand are accepted."""
    if kind == "kafka":
        ks.require_kafka()
        broker = ks.KafkaBroker(work_dir, broker_config=KAFKA_CONFIG)
        broker.start()
        try:
            yield BrokerUnderTest(broker.bootstrap_servers, contextlib.nullcontext)
        finally:
            broker.stop()
    elif kind == "ferrokafka":
        from data_broker import data_broker

        overrides = {"transaction.partition.verification.enable": "false"}
        with data_broker(work_dir, overrides) as running:
            yield BrokerUnderTest(running.bootstrap_servers, contextlib.nullcontext)
    else:
        raise ValueError(f"unknown broker kind {kind!r}")


def broker_kinds() -> list[str]:
    chosen = os.environ.get(BROKERS_ENV, "")
    return [k.strip() for k in chosen.split(",") if k.strip()] or list(BROKER_KINDS)


@dataclass
class Scene:
    bootstrap: str
    open_producer_id: int
    open_offset: int  # where the open transaction starts on partition 0
    done_producer_id: int
    ghost_leader: int  # the broker leading partition 1, where the ghost transactions hang
    ghost_offsets: dict[int, int]  # producer id -> where its transaction starts


def _transactional(bootstrap: str, transactional_id: str) -> Producer:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": transactional_id,
            "transaction.timeout.ms": OPEN_TXN_TIMEOUT_MS,
        }
    )
    producer.init_transactions(CLIENT_TIMEOUT_S)
    producer.begin_transaction()
    return producer


def _write_ghost(bootstrap: str, producer_id: int) -> tuple[int, int]:
    """One transactional record on partition 1 from a producer id no coordinator knows:
    (leader id, its offset)."""
    builder = BatchBuilder(
        producer_id=producer_id, producer_epoch=0, base_sequence=0, is_transactional=True
    )
    builder.append(b"ghost", timestamp=int(time.time() * 1000) - GHOST_AGE_MS)
    with KafkaClient(bootstrap, CLIENT_TIMEOUT_S) as client:
        info = client.topic_with_leaders(TOPIC, CLIENT_TIMEOUT_S)
        leader = info.partitions[1].leader
        conn = client.node(leader)
        request = ProduceRequest(
            transactional_id="ghost",
            acks=-1,
            timeout_ms=int(CLIENT_TIMEOUT_S * 1000),
            topic_data=[
                ProduceRequest.TopicProduceData(
                    name=TOPIC,
                    topic_id=info.topic_id,
                    partition_data=[
                        ProduceRequest.PartitionProduceData(index=1, records=builder.build())
                    ],
                )
            ],
        )
        version = min(PRODUCE_TV1_VERSION, conn.versions[ProduceRequest.API_KEY])
        [result] = conn.call(request, version).responses[0].partition_responses
    assert result.error_code == 0, result
    return leader, int(result.base_offset)


@pytest.fixture(scope="module", params=broker_kinds())
def scene(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with bootstrap_for(request.param, tmp_path_factory.mktemp(request.param)) as broker:
        bootstrap = broker.bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        [future] = admin.create_topics(
            [NewTopic(TOPIC, PARTITIONS, 1)], request_timeout=CLIENT_TIMEOUT_S
        ).values()
        future.result(CLIENT_TIMEOUT_S)
        done = _transactional(bootstrap, "txn-done")
        for i in range(3):
            done.produce(TOPIC, f"done-{i}".encode(), partition=0)
        done.commit_transaction(CLIENT_TIMEOUT_S)
        opened = _transactional(bootstrap, "txn-open")
        offsets: list[int] = []
        for i in range(2):
            opened.produce(
                TOPIC,
                f"open-{i}".encode(),
                partition=0,
                on_delivery=lambda err, msg: offsets.append(msg.offset()),
            )
        assert opened.flush(CLIENT_TIMEOUT_S) == 0
        ghost_offsets = {}
        with broker.unverified():
            for producer_id in GHOST_PRODUCER_IDS:
                leader, ghost_offsets[producer_id] = _write_ghost(bootstrap, producer_id)
        yield Scene(
            bootstrap=bootstrap,
            open_producer_id=_producer_id(bootstrap, "txn-open"),
            open_offset=min(offsets),
            done_producer_id=_producer_id(bootstrap, "txn-done"),
            ghost_leader=leader,
            ghost_offsets=ghost_offsets,
        )
        opened.abort_transaction(CLIENT_TIMEOUT_S)


def _producer_id(bootstrap: str, transactional_id: str) -> int:
    [row] = table(ok(transactions(bootstrap, "describe", "--transactional-id", transactional_id)))
    return int(row["ProducerId"])


@pytest.fixture(scope="module")
def tool_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kafka-tools")


def transactions(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args, "--bootstrap-server", bootstrap],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def kafka_transactions(tool_dir: Path, bootstrap: str, *args: str) -> str:
    """Kafka's own kafka-transactions.sh, run on the same broker."""
    return ks.run_kafka_tool(
        TRANSACTIONS_COMMAND, ["--bootstrap-server", bootstrap, *args], work_dir=tool_dir
    ).stdout


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def fails(proc: subprocess.CompletedProcess[str]) -> str:
    """A clean failure: exit code 1 and one `Error: ...` line, never a traceback."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("Error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def table(out: str) -> list[dict[str, str]]:
    """The rows of a table printed with padded columns, ours or Kafka's (tab after each
    padded cell): cells are cut at the header's column starts, so empty cells survive."""
    lines = [line for line in out.splitlines() if line.strip()]
    header = lines[0]
    starts = [
        i for i, c in enumerate(header) if not c.isspace() and (i == 0 or header[i - 1].isspace())
    ]
    names = header.split()
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return [
        {name: line[a:b].strip() for name, (a, b) in zip(names, bounds, strict=True)}
        for line in lines[1:]
    ]


def without(rows: list[dict[str, str]], *columns: str) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def test_list_shows_open_and_committed_transactions(scene: Scene, tool_dir: Path) -> None:
    rows = table(ok(transactions(scene.bootstrap, "list")))
    by_id = {r["TransactionalId"]: r for r in rows}
    assert by_id["txn-open"]["TransactionState"] == "Ongoing"
    assert by_id["txn-open"]["ProducerId"] == str(scene.open_producer_id)
    assert by_id["txn-done"]["TransactionState"] == "CompleteCommit"
    assert by_id["txn-done"]["ProducerId"] == str(scene.done_producer_id)
    kafka_rows = table(kafka_transactions(tool_dir, scene.bootstrap, "list"))
    key = lambda r: r["TransactionalId"]  # noqa: E731
    assert sorted(rows, key=key) == sorted(kafka_rows, key=key)

    ongoing = table(ok(transactions(scene.bootstrap, "list", "--state", "Ongoing")))
    assert [r["TransactionalId"] for r in ongoing] == ["txn-open"]
    by_pattern = table(
        ok(transactions(scene.bootstrap, "list", "--transactional-id-pattern", ".*-done"))
    )
    assert [r["TransactionalId"] for r in by_pattern] == ["txn-done"]
    by_producer = table(
        ok(
            transactions(
                scene.bootstrap, "list", "--producer-id-filter", str(scene.done_producer_id)
            )
        )
    )
    assert [r["TransactionalId"] for r in by_producer] == ["txn-done"]
    # Nothing here has run for a day.
    assert table(ok(transactions(scene.bootstrap, "list", "--duration-filter", "86400000"))) == []


def test_describe_agrees_with_kafka(scene: Scene, tool_dir: Path) -> None:
    [row] = table(ok(transactions(scene.bootstrap, "describe", "--transactional-id", "txn-open")))
    assert row["TransactionState"] == "Ongoing"
    assert row["TransactionTimeoutMs"] == str(OPEN_TXN_TIMEOUT_MS)
    assert row["TopicPartitions"] == f"{TOPIC}-0"
    assert 0 <= int(row["TransactionDurationMs"]) < OPEN_TXN_TIMEOUT_MS
    [kafka_row] = table(
        kafka_transactions(tool_dir, scene.bootstrap, "describe", "--transactional-id", "txn-open")
    )
    # The duration is "now" minus the start, so it differs by the time between the two runs.
    assert without([row], "TransactionDurationMs") == without([kafka_row], "TransactionDurationMs")

    [done] = table(ok(transactions(scene.bootstrap, "describe", "--transactional-id", "txn-done")))
    assert done["TransactionState"] == "CompleteCommit"
    assert done["TopicPartitions"] == ""


def test_describe_unknown_transactional_id_fails_cleanly(scene: Scene) -> None:
    err = fails(transactions(scene.bootstrap, "describe", "--transactional-id", "no-such-id"))
    assert "Transactional id 'no-such-id' not found" in err


def test_describe_producers_agrees_with_kafka(scene: Scene, tool_dir: Path) -> None:
    args = ("describe-producers", "--topic", TOPIC, "--partition", "0")
    rows = table(ok(transactions(scene.bootstrap, *args)))
    by_id = {int(r["ProducerId"]): r for r in rows}
    assert by_id[scene.open_producer_id]["CurrentTransactionStartOffset"] == str(scene.open_offset)
    assert by_id[scene.done_producer_id]["CurrentTransactionStartOffset"] == "None"
    # The committed producer's marker carried a coordinator epoch; the open one has none yet.
    assert int(by_id[scene.done_producer_id]["LatestCoordinatorEpoch"]) >= 0
    assert by_id[scene.open_producer_id]["LastSequence"] == "1"
    assert rows == table(kafka_transactions(tool_dir, scene.bootstrap, *args))

    with KafkaClient(scene.bootstrap, CLIENT_TIMEOUT_S) as client:
        leader = client.topic_with_leaders(TOPIC, CLIENT_TIMEOUT_S).partitions[0].leader
    assert table(ok(transactions(scene.bootstrap, *args, "--broker-id", str(leader)))) == rows

    err = fails(
        transactions(scene.bootstrap, "describe-producers", "--topic", TOPIC, "--partition", "9")
    )
    assert f"Topic '{TOPIC}' has no partition 9" in err
    err = fails(
        transactions(scene.bootstrap, "describe-producers", "--topic", "nope", "--partition", "0")
    )
    assert "Topic 'nope' does not exist" in err


def test_find_hanging_then_abort(scene: Scene, tool_dir: Path) -> None:
    broker = ("--broker-id", str(scene.ghost_leader))
    # With no time bound the open transaction is a suspect too, but its coordinator still
    # lists the partition, so only the ghosts hang.
    args = ("find-hanging", *broker, "--max-transaction-timeout", "0")
    rows = table(ok(transactions(scene.bootstrap, *args)))
    assert {int(r["ProducerId"]): int(r["StartOffset"]) for r in rows} == scene.ghost_offsets
    for row in rows:
        assert row["Topic"] == TOPIC and row["Partition"] == "1"
        assert row["CoordinatorEpoch"] == "-1" and row["ProducerEpoch"] == "0"
        assert int(row["Duration(min)"]) >= GHOST_AGE_MS // 60_000
    kafka_rows = table(kafka_transactions(tool_dir, scene.bootstrap, *args))
    key = lambda r: r["ProducerId"]  # noqa: E731
    assert sorted(without(rows, "Duration(min)"), key=key) == sorted(
        without(kafka_rows, "Duration(min)"), key=key
    )
    # The default bound (15 minutes) still sees the hour-old ghosts.
    assert len(table(ok(transactions(scene.bootstrap, "find-hanging", *broker)))) == 2

    partition = ("--topic", TOPIC, "--partition", "1")
    err = fails(transactions(scene.bootstrap, "abort", *partition, "--start-offset", "999"))
    assert "Could not find any open transactions starting at offset 999" in err
    fails(transactions(scene.bootstrap, "abort", *partition))
    first, second = GHOST_PRODUCER_IDS
    fails(transactions(scene.bootstrap, "abort", *partition, "--producer-id", str(second)))
    out = ok(
        transactions(
            scene.bootstrap,
            "abort",
            *partition,
            "--start-offset",
            str(scene.ghost_offsets[first]),
        )
    )
    assert f"producerId={first}" in out
    [row] = table(ok(transactions(scene.bootstrap, *args)))
    assert row["ProducerId"] == str(second)
    # The second by its producer: coordinator epoch -1 (none seen) is sent as 0, as Kafka's
    # tool does.
    out = ok(
        transactions(
            scene.bootstrap,
            "abort",
            *partition,
            "--producer-id",
            str(second),
            "--producer-epoch",
            "0",
            "--coordinator-epoch",
            "-1",
        )
    )
    assert f"producerId={second} producerEpoch=0 coordinatorEpoch=0" in out

    assert table(ok(transactions(scene.bootstrap, *args))) == []
    producers = table(
        kafka_transactions(tool_dir, scene.bootstrap, "describe-producers", *partition)
    )
    ghosts = [r for r in producers if int(r["ProducerId"]) in GHOST_PRODUCER_IDS]
    assert [r["CurrentTransactionStartOffset"] for r in ghosts] == ["None", "None"]
    # The open transaction was left alone.
    [opened] = table(
        ok(transactions(scene.bootstrap, "describe", "--transactional-id", "txn-open"))
    )
    assert opened["TransactionState"] == "Ongoing"
