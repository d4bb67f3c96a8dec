"""What the mixed-cluster tests do with real clients (confluent-kafka): create a topic, produce
with acks=all and idempotence, read everything back with a group consumer. Every call is
bounded by CLIENT_TIMEOUT_S."""

from __future__ import annotations

import time
from typing import Any

CLIENT_TIMEOUT_S = 60.0
QUIET = {"log_level": 0}


def admin(bootstrap: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, **QUIET})


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from confluent_kafka.admin import NewTopic

    client = admin(bootstrap)  # kept alive until the answer: its handle ends with it
    futures = client.create_topics(
        [NewTopic(name, partitions, 1)],
        operation_timeout=CLIENT_TIMEOUT_S,
        request_timeout=CLIENT_TIMEOUT_S,
    )
    futures[name].result(CLIENT_TIMEOUT_S)


def leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition -> leader as the cluster's metadata says (-1: none)."""
    metadata = admin(bootstrap).list_topics(topic, timeout=CLIENT_TIMEOUT_S)
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        return {}
    return {p: m.leader for p, m in found.partitions.items()}


def wait_leaders(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:
        found = leaders(bootstrap, topic)
        if len(found) == partitions and all(b >= 0 for b in found.values()):
            return found
        assert time.monotonic() < deadline, f"{topic} leaders stayed {found}"
        time.sleep(0.2)


def produce(bootstrap: str, topic: str, count: int) -> None:
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, **QUIET}
    )
    failures: list[Any] = []
    for i in range(count):
        producer.produce(
            topic,
            key=f"k{i}".encode(),
            value=f"v{i}".encode(),
            on_delivery=lambda err, _msg: err and failures.append(err),
        )
    left = producer.flush(CLIENT_TIMEOUT_S)
    assert left == 0 and not failures, (left, failures[:3])


def consume(bootstrap: str, topic: str, count: int, group: str) -> list[bytes]:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            **QUIET,
        }
    )
    values: list[bytes] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            values.append(message.value())
    finally:
        consumer.close()
    return values
