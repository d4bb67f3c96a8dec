"""MirrorMaker 2 (connect-mirror 4.3.1 from Maven Central, dedicated mode:
``org.apache.kafka.connect.mirror.MirrorMaker`` with a properties file) mirroring into ferrokafka.

Default run: Apache Kafka 4.4 → ferrokafka, the migration recipe of the README. A topic's
records, partition count and configs arrive as ``<alias>.<topic>``; a consumer group that read
the first half on Kafka has its offsets translated by MirrorCheckpointConnector
(``sync.group.offsets.enabled``) and a confluent-kafka consumer of the same group on ferrokafka
reads exactly the second half: nothing skipped, nothing read twice.
FERROKAFKA_ECOSYSTEM_FULL=1 adds the same with exactly-once source support on the target
(KIP-618: transactions on ferrokafka) and from one ferrokafka broker to another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.ecosystem.connect_support import (
    FULL_OPT_IN,
    MirrorMaker,
    ferrokafka_broker,
    partition_counts,
    quiet_client,
    topic_configs,
    wait_for,
)

from kafka_support.broker import KafkaBroker
from kafka_support.jars import KafkaNotFetchedError, connect_classpath, require_kafka

TOPIC = "orders"
PARTITIONS = 3
HALF_PER_PARTITION = 40
GROUP = "migrating"
# Non-default topic configs MirrorSourceConnector copies (its default filter keeps these).
TOPIC_CONFIGS = {"retention.ms": "123456789", "max.message.bytes": "200000"}
# Bounds: the mirror and the checkpoints run every second; the margins are for a loaded box.
MIRROR_TIMEOUT_S = 90.0
CONSUME_TIMEOUT_S = 60.0
POLL_S = 0.5


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        connect_classpath()
    except KafkaNotFetchedError as exc:
        pytest.fail(f"MirrorMaker 2 jars missing (tests/kafka/fetch.sh resolves them): {exc}")
    with ferrokafka_broker(tmp_path_factory.mktemp("ferrokafka-target")) as address:
        yield address


def mm2_properties(alias: str, source: str, target: str) -> dict[str, str]:
    return {
        "clusters": f"{alias}, downstream",
        f"{alias}.bootstrap.servers": source,
        "downstream.bootstrap.servers": target,
        f"{alias}->downstream.enabled": "true",
        f"{alias}->downstream.topics": TOPIC,
        f"{alias}->downstream.groups": GROUP,
        f"downstream->{alias}.enabled": "false",
        # One broker per cluster.
        "replication.factor": "1",
        "checkpoints.topic.replication.factor": "1",
        "heartbeats.topic.replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
        "config.storage.replication.factor": "1",
        # Checkpoints translate through offset syncs, which MirrorSourceTask also writes at each
        # offset commit: commit every second so the tail of a burst gets one. A worker setting:
        # MirrorMaker takes those from the target cluster's prefix only.
        "downstream.offset.flush.interval.ms": "1000",
        # Each herder scans the classpath for plugins (~7 s each on two cores) unless told to
        # read the ServiceLoader manifests, which every plugin here has.
        "downstream.plugin.discovery": "service_load",
        f"{alias}.plugin.discovery": "service_load",
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": "1",
        "emit.checkpoints.interval.seconds": "1",
        "refresh.topics.interval.seconds": "2",
        "refresh.groups.interval.seconds": "2",
        "sync.topic.configs.interval.seconds": "2",
    }


def create_topic(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(quiet_client(bootstrap))
    topic = NewTopic(TOPIC, PARTITIONS, 1, config=TOPIC_CONFIGS)
    admin.create_topics([topic], request_timeout=30)[TOPIC].result(timeout=30)


def value(partition: int, index: int) -> str:
    return f"p{partition}-r{index}"


def produce_half(bootstrap: str, half: int) -> None:
    from confluent_kafka import Producer

    producer = Producer(quiet_client(bootstrap, **{"enable.idempotence": True}))
    for partition in range(PARTITIONS):
        start = half * HALF_PER_PARTITION
        for index in range(start, start + HALF_PER_PARTITION):
            producer.produce(TOPIC, value=value(partition, index), partition=partition)
    assert producer.flush(30) == 0


def consume(bootstrap: str, topic: str, count: int, reset: str) -> list[tuple[int, int, str]]:
    """Read ``count`` records as group GROUP (subscribe) and commit them: (partition, offset,
    value) in the order read. Fails when fewer arrive in time."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        quiet_client(
            bootstrap,
            **{"group.id": GROUP, "auto.offset.reset": reset, "enable.auto.commit": False},
        )
    )
    got: list[tuple[int, int, str]] = []
    try:
        consumer.subscribe([topic])
        wait_for(
            f"{count} records of {topic}",
            lambda: _poll_into(consumer, got, count) >= count,
            CONSUME_TIMEOUT_S,
        )
        consumer.commit(asynchronous=False)
        # Nothing beyond: a second look finds no further record.
        extra = consumer.poll(2.0)
        assert extra is None or extra.error() is not None, "more records than expected"
    finally:
        consumer.close()
    return got


def _poll_into(consumer: Any, got: list[tuple[int, int, str]], count: int) -> int:
    # Never more than ``count`` in all: the commit then covers exactly what was read.
    for message in consumer.consume(num_messages=count - len(got), timeout=POLL_S):
        if message.error() is None:
            got.append((message.partition(), message.offset(), message.value().decode()))
    return len(got)


def committed(bootstrap: str, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(quiet_client(bootstrap, **{"group.id": GROUP}))
    try:
        answer = consumer.committed(
            [TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30
        )
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in answer}


def mirrored_records(bootstrap: str, topic: str) -> dict[int, list[tuple[int, str]]] | None:
    """Every committed record of ``topic`` per partition: (offset, value), read_committed to
    the end (with exactly-once, transaction markers take offsets, so offsets are not counts).
    None while a partition has no leader yet (a topic just created by MirrorMaker: its metadata
    can precede its leader, as on Kafka)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        quiet_client(
            bootstrap,
            **{
                "group.id": "mm2-test-probe",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            },
        )
    )
    records: dict[int, list[tuple[int, str]]] = {p: [] for p in range(PARTITIONS)}
    at_end: set[int] = set()
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while len(at_end) < PARTITIONS and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=500, timeout=POLL_S):
                error = message.error()
                if error is None:
                    records[message.partition()].append(
                        (message.offset(), message.value().decode())
                    )
                elif error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                else:
                    return None
    finally:
        consumer.close()
    return records if len(at_end) == PARTITIONS else None


def counts(records: dict[int, list[tuple[int, str]]] | None) -> dict[int, int] | None:
    return None if records is None else {p: len(r) for p, r in records.items()}


def mirror_and_switch(
    alias: str, source: str, target: str, work_dir: Path, extra: dict[str, str] | None = None
) -> MirrorMaker:
    """The scenario, on any pair of clusters (the source named ``alias``, so its topic arrives
    as ``<alias>.orders``); returns the stopped MirrorMaker (its figures)."""
    mirrored = f"{alias}.{TOPIC}"
    create_topic(source)
    produce_half(source, 0)
    first = consume(source, TOPIC, PARTITIONS * HALF_PER_PARTITION, "earliest")
    assert committed(source, TOPIC) == dict.fromkeys(range(PARTITIONS), HALF_PER_PARTITION)

    mm2 = MirrorMaker(work_dir, {**mm2_properties(alias, source, target), **(extra or {})})
    try:
        mm2.start()
        # The first half mirrored; the group (idle on the source after reading it) translated
        # by MirrorCheckpointConnector into the target's group; then the second half produced
        # while MirrorMaker runs. Translation goes through the offset syncs MirrorSourceTask
        # writes at its offset commits (every second here): the sync of the first half's last
        # record lets it translate exactly.
        half = dict.fromkeys(range(PARTITIONS), HALF_PER_PARTITION)
        first_half = wait_for(
            f"{mirrored} to hold the first half",
            lambda: (
                mirrored in partition_counts(target)
                and (records := mirrored_records(target, mirrored)) is not None
                and counts(records) == half
                and records
            ),
            MIRROR_TIMEOUT_S,
            log=mm2.log_tail(),
        )
        # Where the second half starts downstream: after the first half's last record.
        resume = {p: first_half[p][-1][0] + 1 for p in range(PARTITIONS)}
        seen: list[dict[int, int]] = []

        def translated() -> bool:
            seen.append(committed(target, mirrored))
            return seen[-1] == resume

        try:
            wait_for(f"{GROUP}'s offsets translated onto {mirrored}", translated, MIRROR_TIMEOUT_S)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: last {seen[-1:]}\n{mm2.log_tail()}") from None

        produce_half(source, 1)
        full = dict.fromkeys(range(PARTITIONS), 2 * HALF_PER_PARTITION)
        wait_for(
            f"{mirrored} to hold both halves",
            lambda: counts(mirrored_records(target, mirrored)) == full,
            MIRROR_TIMEOUT_S,
            log=mm2.log_tail(),
        )
        assert partition_counts(target)[mirrored] == PARTITIONS
        configs = topic_configs(target, mirrored)
        assert {k: configs[k] for k in TOPIC_CONFIGS} == TOPIC_CONFIGS
    finally:
        mm2.stop()

    # The consumer switches clusters: 'latest' would skip records if a commit were missing.
    second = consume(target, mirrored, PARTITIONS * HALF_PER_PARTITION, "latest")
    expected_second = {
        (p, value(p, i))
        for p in range(PARTITIONS)
        for i in range(HALF_PER_PARTITION, 2 * HALF_PER_PARTITION)
    }
    assert {(p, v) for p, _, v in second} == expected_second
    assert len(second) == len(expected_second)
    assert {v for _, _, v in first} | {v for _, _, v in second} == {
        value(p, i) for p in range(PARTITIONS) for i in range(2 * HALF_PER_PARTITION)
    }
    return mm2


def report(record_property: Callable[[str, object], None], mm2: MirrorMaker) -> None:
    """Start-up time (spawn to "Kafka MirrorMaker started") and peak RSS, for the README."""
    record_property("mm2_start_s", round(mm2.start_s, 2))
    record_property("mm2_peak_rss_mib", mm2.peak_rss_kib // 1024)
    print(f"MirrorMaker 2: start {mm2.start_s:.1f} s, peak RSS {mm2.peak_rss_kib // 1024} MiB")


def test_kafka_to_ferrokafka_with_checkpoints(
    target: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    require_kafka()
    with KafkaBroker(tmp_path / "kafka") as kafka:
        mm2 = mirror_and_switch("kafka", kafka.bootstrap_servers, target, tmp_path / "mm2")
    report(record_property, mm2)


@FULL_OPT_IN
def test_kafka_to_ferrokafka_exactly_once(tmp_path: Path, target: str) -> None:
    """KIP-618 in MirrorMaker 2: the target's workers write mirrored records and their source
    offsets in ferrokafka transactions (the consumer on ferrokafka reads read_committed)."""
    require_kafka()
    eos = {"downstream.exactly.once.source.support": "enabled"}
    with KafkaBroker(tmp_path / "kafka") as kafka:
        mirror_and_switch("kafkaeos", kafka.bootstrap_servers, target, tmp_path / "mm2", eos)


@FULL_OPT_IN
def test_ferrokafka_to_ferrokafka_with_checkpoints(
    target: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    with ferrokafka_broker(tmp_path / "ferrokafka-source") as source:
        mm2 = mirror_and_switch("ferro", source, target, tmp_path / "mm2")
    report(record_property, mm2)
