"""Consumer groups made by a real client (confluent-kafka / librdkafka), for the tests of
`ferrokafka groups` and of Kafka's kafka-consumer-groups: a topic with known records, members
that join with the classic or the KIP-848 consumer protocol, and offsets they commit.

Also the two brokers those tests run against: an in-process ferrokafka and Apache Kafka 4.4.0
(KRaft, one node). Every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from data_broker import data_broker

import kafka_support as ks

# How long a member may take to join and get its partitions (a classic join waits for the
# rebalance; librdkafka retries FindCoordinator while __consumer_offsets is created).
JOIN_TIMEOUT_S = 60.0
POLL_S = 0.2
CLIENT_TIMEOUT_S = 30.0
CLIENT_ID = "groups-test-client"
# Record timestamps: record i of a partition is at BASE_TIMESTAMP_MS + i * TIMESTAMP_STEP_MS.
# An hour ago: well inside retention (with a fixed date long past, Kafka's retention check
# deletes the records within minutes and moves the log start under the tests' feet).
BASE_TIMESTAMP_MS = (int(time.time()) - 3600) * 1000
TIMESTAMP_STEP_MS = 1000


@pytest.fixture(scope="module")
def ferrokafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with data_broker(tmp_path_factory.mktemp("ferrokafka")) as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ks.require_kafka()
    broker = ks.KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def tool_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kafka-tools")


def create_topic(bootstrap: str, name: str, partitions: int, records_per_partition: int) -> None:
    """Topic ``name`` whose every partition holds ``records_per_partition`` records with
    timestamps BASE_TIMESTAMP_MS + i * TIMESTAMP_STEP_MS."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.create_topics(
        [NewTopic(name, partitions, 1)], request_timeout=CLIENT_TIMEOUT_S
    ).values()
    future.result(CLIENT_TIMEOUT_S)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for p in range(partitions):
        for i in range(records_per_partition):
            producer.produce(
                name,
                value=f"{p}-{i}".encode(),
                partition=p,
                timestamp=BASE_TIMESTAMP_MS + i * TIMESTAMP_STEP_MS,
            )
    assert producer.flush(CLIENT_TIMEOUT_S) == 0


def consumer(bootstrap: str, group: str, protocol: str = "classic") -> Consumer:
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": CLIENT_ID,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "group.protocol": protocol,
    }
    if protocol == "classic":
        config["session.timeout.ms"] = 30_000
    return Consumer(config)


@contextlib.contextmanager
def member(bootstrap: str, group: str, topic: str, protocol: str = "classic") -> Iterator[Consumer]:
    """A subscribed consumer that has its partitions; closed (leaving the group) on exit."""
    c = consumer(bootstrap, group, protocol)
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while not c.assignment():
            assert time.monotonic() < deadline, f"{group}: no assignment in {JOIN_TIMEOUT_S}s"
            c.poll(POLL_S)
        yield c
    finally:
        c.close()


def commit(c: Consumer, topic: str, offsets: dict[int, int]) -> None:
    c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets as librdkafka reads them (OffsetFetch, no join)."""
    c = consumer(bootstrap, group)
    try:
        tps = c.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=CLIENT_TIMEOUT_S
        )
    finally:
        c.close()
    return {tp.partition: tp.offset for tp in tps}


def first_offsets_consumed(
    bootstrap: str, group: str, topic: str, partitions: int, protocol: str = "classic"
) -> dict[int, int]:
    """Join ``group`` and report the first offset consumed on each of ``partitions``
    partitions: where a real consumer resumes after a reset. Every partition must have
    records left to read."""
    first: dict[int, int] = {}
    c = consumer(bootstrap, group, protocol)
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while len(first) < partitions:
            assert time.monotonic() < deadline, f"{group}: only {first} in {JOIN_TIMEOUT_S}s"
            m = c.poll(POLL_S)
            if m is not None and not m.error():
                first.setdefault(m.partition(), m.offset())
    finally:
        c.close()
    return first
