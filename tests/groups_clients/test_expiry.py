"""Offsets of an empty group expire after offsets.retention.minutes (checked every
offsets.retention.check.interval.ms): tombstones are written, so after a restart they stay
gone; the group without offsets is deleted too. The commits are confluent-kafka "simple"
commits (no group membership: generation -1), which Kafka accepts for an empty group.

The broker's wall clock (a ManualWallClock injected into the broker) is moved forward instead
of waiting a minute; everything else is the running broker."""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.coordinator import ManualWallClock
from ferrokafka.testing import run_broker

TIMEOUT_S = 60
OVERRIDES = {
    "offsets.topic.num.partitions": 2,
    "offsets.retention.minutes": 1,
    "offsets.retention.check.interval.ms": 200,
    "offsets.topic.compression.codec": 1,  # gzip: the coordinator's batches are compressed
}


def _committed(bootstrap: str, group: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = consumer.committed([TopicPartition("t", p) for p in range(2)], timeout=30)
    finally:
        consumer.close()
    return [tp.offset for tp in parts]


def _member_commits(bootstrap: str) -> None:
    """A group member reads and commits, then leaves: the group is Empty, protocol "consumer"."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "member",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["t"])
    deadline = time.monotonic() + TIMEOUT_S
    while not consumer.assignment():
        assert time.monotonic() < deadline, "no assignment"
        consumer.poll(0.2)
    consumer.commit(
        offsets=[TopicPartition("t", 0, 1), TopicPartition("t", 1, 1)], asynchronous=False
    )
    consumer.close()


def _groups(bootstrap: str) -> set[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return {g.group_id for g in admin.list_consumer_groups(request_timeout=30).result(30).valid}


def test_offsets_of_an_empty_group_expire(tmp_path: Path) -> None:
    data = tmp_path / "broker"
    clock = ManualWallClock()
    with run_broker(data, OVERRIDES, wall_clock=clock) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic("t", 2, 1)])["t"].result(30)
        for group in ("old", "keep"):
            consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": group})
            consumer.commit(
                offsets=[TopicPartition("t", 0, 7), TopicPartition("t", 1, 3)], asynchronous=False
            )
            consumer.close()
        assert _committed(broker.bootstrap_servers, "old") == [7, 3]
        assert {"old", "keep"} <= _groups(broker.bootstrap_servers)
        coordinator = broker.broker.node.group_coordinator
        handle = broker.partition("__consumer_offsets", coordinator.partition_for("old"))
        batches = handle.log.read_batches(0)
        assert batches and {b.compression for b in batches} == {"gzip"}

        # "member" had members and became empty; 3.5 s later it and the simple group "keep"
        # commit again. Then the broker's clock moves 57 s past those commits: "old" is over
        # the 60 s retention, the fresh commits are not; "member" counts from when it became
        # empty (60.5 s ago), so even its fresh commit goes (Kafka's rule).
        _member_commits(broker.bootstrap_servers)
        assert _committed(broker.bootstrap_servers, "member") == [1, 1]
        clock.advance(3_500)
        for group in ("keep", "member"):
            consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": group})
            consumer.commit(offsets=[TopicPartition("t", 0, 8)], asynchronous=False)
            consumer.close()
        clock.advance(57_000)
        deadline = time.monotonic() + TIMEOUT_S
        while _committed(broker.bootstrap_servers, "old") != [-1001, -1001]:
            assert time.monotonic() < deadline, "the offsets did not expire"
            time.sleep(0.2)
        assert _committed(broker.bootstrap_servers, "keep") == [8, -1001]
        while _committed(broker.bootstrap_servers, "member") != [-1001, -1001]:
            assert time.monotonic() < deadline, "the empty group's offsets did not expire"
            time.sleep(0.2)
        while "old" in _groups(broker.bootstrap_servers):
            assert time.monotonic() < deadline, "the expired group was not deleted"
            time.sleep(0.2)
    with run_broker(data, OVERRIDES) as broker:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                old = _committed(broker.bootstrap_servers, "old")
                break
            except Exception:  # COORDINATOR_LOAD_IN_PROGRESS while it loads
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert old == [-1001, -1001]  # the tombstones were replayed
        assert _committed(broker.bootstrap_servers, "keep") == [8, -1001]
        # "keep" has offsets but no group record: the replay makes it a simple group again.
        assert "keep" in _groups(broker.bootstrap_servers)
        assert "old" not in _groups(broker.bootstrap_servers)
