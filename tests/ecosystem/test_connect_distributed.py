"""Kafka Connect (connect-runtime, connect-file, connect-json 4.3.1 from Maven Central) as a
distributed worker against a ``ferrokafka serve`` process.

Default run: the worker creates its config/offset/status topics compacted (checked with
confluent-kafka's DescribeConfigs); FileStreamSource → topic → FileStreamSink copies a file
exactly; after SIGTERM and a new start the source resumes from its stored offsets (the topic
holds each line once) and the sink from its committed offsets (the output file is an exact copy).
FERROKAFKA_ECOSYSTEM_FULL=1 adds two workers in one Connect group: connectors and tasks spread
over both (Connect's REST API says where), one is killed (SIGKILL), its work moves to the other
and the pipeline loses no line.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.ecosystem.connect_support import (
    FULL_OPT_IN,
    ConnectWorker,
    ferrokafka_broker,
    partition_counts,
    quiet_client,
    topic_configs,
    wait_for,
)

from kafka_support.broker import KafkaBroker
from kafka_support.jars import KafkaNotFetchedError, connect_classpath, require_kafka

# Bounds: a pipeline of a few hundred lines moves in a second or two; the margins are for a
# loaded two-core CI box.
PIPELINE_TIMEOUT_S = 90.0
# After SIGKILL: the group's session timeout (10 s) plus scheduled.rebalance.max.delay.ms (3 s)
# plus a rebalance.
FAILOVER_TIMEOUT_S = 120.0
FIRST_LINES = 200
MORE_LINES = 100


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        connect_classpath()
    except KafkaNotFetchedError as exc:
        pytest.fail(f"Kafka Connect jars missing (tests/kafka/fetch.sh resolves them): {exc}")
    with ferrokafka_broker(tmp_path_factory.mktemp("ferrokafka")) as address:
        yield address


def lines(start: int, count: int) -> str:
    # ASCII only: FileStreamSourceTask stores its position in characters but skips that many
    # bytes on a restart, so multi-byte UTF-8 lines would be read twice (Connect's own limit).
    return "".join(f"line {i} {'x' * (i % 13)}\n" for i in range(start, start + count))


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def topic_values(bootstrap: str, topic: str) -> list[str]:
    """Every committed record value of the one-partition ``topic``, in offset order
    (read_committed: with exactly-once sources, transaction markers take offsets too)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        quiet_client(
            bootstrap,
            **{
                "group.id": "connect-test-probe",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            },
        )
    )
    values: list[str] = []
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])

        def drained() -> bool:
            for message in consumer.consume(num_messages=500, timeout=0.5):
                if message.error() is not None:
                    return message.error().code() == -191  # _PARTITION_EOF
                values.append(message.value().decode())
            return False

        wait_for(f"the end of {topic}", drained, PIPELINE_TIMEOUT_S)
    finally:
        consumer.close()
    return values


def file_pipeline(name: str, source: Path, sink: Path, topic: str) -> dict[str, dict[str, str]]:
    return {
        f"{name}-source": {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "file": str(source),
            "topic": topic,
            "tasks.max": "1",
            # The worker creates the topic (KIP-158) whether or not the broker auto-creates.
            "topic.creation.default.replication.factor": "1",
            "topic.creation.default.partitions": "1",
        },
        f"{name}-sink": {
            "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "file": str(sink),
            "topics": topic,
            "tasks.max": "1",
        },
    }


def wait_copy(source: Path, sink: Path, worker: ConnectWorker) -> None:
    expected = read(source)
    wait_for(
        f"{sink.name} to hold {expected.count(chr(10))} lines",
        lambda: len(read(sink)) >= len(expected),
        PIPELINE_TIMEOUT_S,
        log=worker.log_tail(),
    )


def file_source_to_sink_with_restart(
    bootstrap: str, work_dir: Path, *, prefix: str = "connect", extra: dict[str, str] | None = None
) -> ConnectWorker:
    """The default scenario on any broker; returns the stopped worker (its figures). ``prefix``
    names the Connect group and its topics; ``extra`` adds worker settings."""
    work_dir.mkdir(parents=True, exist_ok=True)
    internal = tuple(f"{prefix}-{kind}" for kind in ("configs", "offsets", "status"))
    group = {
        "group.id": f"{prefix}-cluster",
        "config.storage.topic": internal[0],
        "offset.storage.topic": internal[1],
        "status.storage.topic": internal[2],
    }
    worker = ConnectWorker(work_dir, "worker", bootstrap, {**group, **(extra or {})})
    topic = f"{prefix}-lines"
    source, sink = work_dir / "in.txt", work_dir / "out.txt"
    source.write_text(lines(0, FIRST_LINES), encoding="utf-8")
    try:
        worker.start()
        first_start_s = worker.start_s
        # Connect requires its internal topics compacted and creates them so itself (its REST
        # API can answer before its herder has created them).
        wait_for(
            "Connect's internal topics",
            lambda: set(internal) <= set(partition_counts(bootstrap)),
            PIPELINE_TIMEOUT_S,
            log=worker.log_tail(),
        )
        for name in internal:
            assert topic_configs(bootstrap, name)["cleanup.policy"] == "compact", name

        for name, config in file_pipeline(prefix, source, sink, topic).items():
            worker.put_connector(name, config)
        wait_copy(source, sink, worker)
        assert read(sink) == read(source)

        worker.stop(signal.SIGTERM)
        with source.open("a", encoding="utf-8") as more:
            more.write(lines(FIRST_LINES, MORE_LINES))
        worker.start()
        wait_copy(source, sink, worker)
        # The source resumed from its stored offset (each line produced once) and the sink from
        # its committed offsets (each line written once).
        assert topic_values(bootstrap, topic) == read(source).splitlines()
        assert read(sink) == read(source)
    finally:
        worker.stop()
    worker.start_s = first_start_s
    return worker


def report(record_property: Callable[[str, object], None], worker: ConnectWorker) -> None:
    """Start-up time (spawn to REST API up, first start) and peak RSS, for the README."""
    record_property("connect_start_s", round(worker.start_s, 2))
    record_property("connect_peak_rss_mib", worker.peak_rss_kib // 1024)
    print(
        f"connect worker: start {worker.start_s:.1f} s, peak RSS {worker.peak_rss_kib // 1024} MiB"
    )


def test_file_source_to_sink_survives_a_restart(
    bootstrap: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    report(record_property, file_source_to_sink_with_restart(bootstrap, tmp_path))


@FULL_OPT_IN
def test_exactly_once_source(bootstrap: str, tmp_path: Path) -> None:
    """KIP-618: the worker's source tasks write records and offsets in one transaction each
    (transactional ids, fencing through Admin.fenceProducers, read_committed offset reads)."""
    file_source_to_sink_with_restart(
        bootstrap, tmp_path, prefix="eos", extra={"exactly.once.source.support": "enabled"}
    )


@FULL_OPT_IN
def test_file_source_to_sink_on_kafka(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """The same on Apache Kafka 4.4, for the README's side-by-side column and figures."""
    require_kafka()
    with KafkaBroker(tmp_path / "kafka") as kafka:
        worker = file_source_to_sink_with_restart(kafka.bootstrap_servers, tmp_path / "connect")
    report(record_property, worker)


@FULL_OPT_IN
def test_two_workers_rebalance_and_fail_over(bootstrap: str, tmp_path: Path) -> None:
    group = {
        "group.id": "connect-pair",
        "config.storage.topic": "pair-configs",
        "offset.storage.topic": "pair-offsets",
        "status.storage.topic": "pair-status",
    }
    workers = [ConnectWorker(tmp_path, f"worker-{n}", bootstrap, group) for n in ("a", "b")]
    source, sink = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text(lines(0, FIRST_LINES), encoding="utf-8")
    try:
        for worker in workers:
            worker.start()
        for name, config in file_pipeline("pair", source, sink, "pair-lines").items():
            workers[0].put_connector(name, config)

        ids = {w.worker_id for w in workers}

        def spread() -> dict[str, str] | None:
            where = workers[0].placement()
            return where if where and len(where) == 4 and set(where.values()) == ids else None

        where = wait_for("work on both workers", spread, PIPELINE_TIMEOUT_S)
        wait_copy(source, sink, workers[0])

        # Kill the worker running the source task: its task and whatever else it ran move.
        by_id = {w.worker_id: w for w in workers}
        victim = by_id[where["pair-source-0"]]
        survivor = workers[1] if victim is workers[0] else workers[0]
        moved = sorted(unit for unit, worker_id in where.items() if worker_id == victim.worker_id)
        victim.stop(signal.SIGKILL)

        def all_on_survivor() -> dict[str, str] | None:
            now = survivor.placement()
            ok = now and len(now) == 4 and set(now.values()) == {survivor.worker_id}
            return now if ok else None

        wait_for(
            f"{moved} to move to {survivor.name}",
            all_on_survivor,
            FAILOVER_TIMEOUT_S,
            log=survivor.log_tail(),
        )
        with source.open("a", encoding="utf-8") as more:
            more.write(lines(FIRST_LINES, MORE_LINES))
        # After a crash Connect is at-least-once: every line arrives, in order per line number.
        expected = read(source).splitlines()
        wait_for(
            "every line in the sink after the failover",
            lambda: set(expected) <= set(read(sink).splitlines()),
            PIPELINE_TIMEOUT_S,
            log=survivor.log_tail(),
        )
    finally:
        for worker in workers:
            worker.stop()
