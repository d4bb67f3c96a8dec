"""Acknowledged offset commits survive a SIGKILL of `ferrokafka serve`: a confluent-kafka group
member commits synchronously, the broker process is killed (no clean shutdown), and after the
restart OffsetFetch returns exactly the last acknowledged commits and a new member of the group
resumes from them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from test_durability import Serve

RECORDS = 40
TIMEOUT_S = 60


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    broker = Serve(data_dir=tmp_path / "data", work_dir=tmp_path)
    try:
        yield broker
    finally:
        broker.close()


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "crash",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )


def test_acknowledged_commits_survive_sigkill(serve: Serve) -> None:
    serve.start()
    admin = AdminClient({"bootstrap.servers": serve.bootstrap})
    admin.create_topics([NewTopic("t", 2, 1)])["t"].result(30)
    producer = Producer({"bootstrap.servers": serve.bootstrap})
    for i in range(RECORDS):
        producer.produce("t", str(i).encode(), partition=i % 2)
    assert producer.flush(30) == 0
    consumer = _consumer(serve.bootstrap)
    consumer.subscribe(["t"])
    acked: dict[int, int] = {}
    deadline = time.monotonic() + TIMEOUT_S
    while sum(acked.values()) < RECORDS // 2 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        consumer.commit(message=message, asynchronous=False)  # raises unless acknowledged
        acked[message.partition()] = message.offset() + 1
    serve.kill()  # right after the last acknowledgement: no clean shutdown, no flush
    consumer.close()
    assert sum(acked.values()) >= RECORDS // 2

    serve.start()
    admin = AdminClient({"bootstrap.servers": serve.bootstrap})
    request = ConsumerGroupTopicPartitions("crash", [TopicPartition("t", p) for p in range(2)])
    deadline = time.monotonic() + TIMEOUT_S
    while True:  # COORDINATOR_LOAD_IN_PROGRESS while the coordinator loads
        try:
            fetched = admin.list_consumer_group_offsets([request])["crash"].result(30)
            break
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert {tp.partition: tp.offset for tp in fetched.topic_partitions if tp.offset >= 0} == acked
    # The killed member was loaded with the group; its session expires, then a new member
    # gets everything and starts at the committed offsets.
    consumer = _consumer(serve.bootstrap)
    consumer.subscribe(["t"])
    got: list[tuple[int, int]] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(got) < RECORDS - sum(acked.values()) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                got.append((message.partition(), message.offset()))
    finally:
        consumer.close()
    expected = [(p, o) for p in range(2) for o in range(acked.get(p, 0), RECORDS // 2)]
    assert sorted(got) == expected
