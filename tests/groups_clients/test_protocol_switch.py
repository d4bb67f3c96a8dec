"""A group switches from the KIP-848 protocol to the classic one: librdkafka with
group.protocol=consumer reads part of a topic, commits and leaves; the empty consumer group
then becomes a classic group on the first JoinGroup (as Kafka converts it), and a classic
librdkafka member resumes from the committed offsets."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.testing import run_broker

RECORDS = 30
TIMEOUT_S = 60
OVERRIDES = {"group.initial.rebalance.delay.ms": 0, "offsets.topic.num.partitions": 2}


def _read(bootstrap: str, protocol: str, count: int) -> list[tuple[int, int]]:
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": "switch",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    if protocol == "consumer":
        config["group.protocol"] = "consumer"
    consumer = Consumer(config)
    consumer.subscribe(["t"])
    got: list[tuple[int, int]] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(got) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                got.append((message.partition(), message.offset()))
                consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()
    return got


def test_empty_consumer_group_becomes_classic() -> None:
    with run_broker(None, OVERRIDES) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic("t", 2, 1)])["t"].result(30)
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
        for i in range(RECORDS):
            producer.produce("t", str(i).encode(), partition=i % 2)
        assert producer.flush(30) == 0
        first = _read(broker.bootstrap_servers, "consumer", 10)
        groups = broker.broker.node.group_coordinator.groups
        assert groups["switch"].kind == "consumer"
        rest = _read(broker.bootstrap_servers, "classic", RECORDS - 10)
        assert groups["switch"].kind == "classic"
    assert sorted(first + rest) == sorted((i % 2, i // 2) for i in range(RECORDS))
