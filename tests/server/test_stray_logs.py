"""Stray logs (Kafka's ``-stray`` directories): a partition directory left on disk for a topic
the metadata no longer has — or has again under a new topic id — is moved aside when the broker
starts, never served, and never reattached to a new topic of the same name, as Kafka 4.4 does.
Every partition directory carries Kafka's ``partition.metadata`` with its topic id."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.storage.partition_metadata import read_topic_id
from ferrokafka.testing.broker import run_broker

TOPIC = "orders"
RECORDS = 20
TIMEOUT_S = 20.0


def create_and_fill(bootstrap: str, count: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(timeout=TIMEOUT_S)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        producer.produce(TOPIC, value=b"%d" % i, partition=0)
    assert producer.flush(TIMEOUT_S) == 0


def end_offset(bootstrap: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "strays"})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=TIMEOUT_S)
        return int(high)
    finally:
        consumer.close()


def test_an_old_topics_directory_goes_stray_and_is_not_reattached(tmp_path: Path) -> None:
    # Broker A writes 20 records to "orders"; its partition directory knows the topic id.
    with run_broker(data_dir=tmp_path / "a") as broker:
        create_and_fill(broker.bootstrap_servers, RECORDS)
        topic = broker.image.topic(TOPIC)
        assert topic is not None
        old_id = topic.topic_id
    old_dir = tmp_path / "a" / "logs" / f"{TOPIC}-0"
    assert read_topic_id(old_dir) == old_id

    # Broker B has never heard of that topic: the directory left in its log dir is a stray.
    with run_broker(data_dir=tmp_path / "b") as broker:
        pass
    shutil.copytree(old_dir, tmp_path / "b" / "logs" / f"{TOPIC}-0")
    with run_broker(data_dir=tmp_path / "b") as broker:
        logs = tmp_path / "b" / "logs"
        strays = [p for p in logs.iterdir() if p.name.endswith("-stray")]
        assert [p.name.split(".")[0] for p in strays] == [f"{TOPIC}-0"]
        assert not (logs / f"{TOPIC}-0").exists()
        # A new topic of the same name starts empty: the old records are not reattached.
        create_and_fill(broker.bootstrap_servers, 3)
        assert end_offset(broker.bootstrap_servers) == 3
        new = broker.image.topic(TOPIC)
        assert new is not None and new.topic_id != old_id
        assert read_topic_id(logs / f"{TOPIC}-0") == new.topic_id
        # The stray keeps its data for the operator.
        assert any(p.suffix == ".log" and p.stat().st_size > 0 for p in strays[0].iterdir())


def test_a_directory_under_another_topic_id_is_moved_aside_on_open(tmp_path: Path) -> None:
    with run_broker(data_dir=tmp_path / "a") as broker:
        create_and_fill(broker.bootstrap_servers, RECORDS)
    with run_broker(data_dir=tmp_path / "b") as broker:
        create_and_fill(broker.bootstrap_servers, 5)
    # B's "orders" directory replaced by A's (same name, another topic id), while B is down.
    b_dir = tmp_path / "b" / "logs" / f"{TOPIC}-0"
    shutil.rmtree(b_dir)
    shutil.copytree(tmp_path / "a" / "logs" / f"{TOPIC}-0", b_dir)
    with run_broker(data_dir=tmp_path / "b") as broker:
        # Served empty (B's own records were in the replaced directory), not A's 20 records.
        assert end_offset(broker.bootstrap_servers) == 0
        topic = broker.image.topic(TOPIC)
        assert topic is not None and read_topic_id(b_dir) == topic.topic_id
        strays = [p for p in (tmp_path / "b" / "logs").iterdir() if p.name.endswith("-stray")]
        assert len(strays) == 1


def test_a_corrupt_metadata_batch_is_logged_cut_and_its_topics_dirs_go_stray(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The attacker finding: after a clean stop, a corrupted ``__cluster_metadata`` batch made a
    topic vanish silently, and re-creating it reattached the old data [Kafka: logs the
    corruption, truncates, moves the orphaned partition directories aside]."""
    kept, lost = "kept-topic", "lost-topic-7f3a"
    with run_broker(data_dir=tmp_path) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        for name in (kept, lost):
            admin.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=TIMEOUT_S)
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
        for name in (kept, lost):
            producer.produce(name, value=b"x", partition=0)
        assert producer.flush(TIMEOUT_S) == 0
    segment = next((tmp_path / "metadata" / "__cluster_metadata-0").glob("*.log"))
    data = bytearray(segment.read_bytes())
    at = data.index(lost.encode())  # inside the batch of its TopicRecord
    data[at] ^= 0xFF
    segment.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING), run_broker(data_dir=tmp_path) as broker:
        assert broker.image.topic(kept) is not None
        assert broker.image.topic(lost) is None
        logs = tmp_path / "logs"
        assert [p.name.split(".")[0] for p in logs.iterdir() if p.name.endswith("-stray")] == [
            f"{lost}-0"
        ]
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic(lost, 1, 1)])[lost].result(timeout=TIMEOUT_S)
        consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "s"})
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(lost, 0), timeout=TIMEOUT_S)
        finally:
            consumer.close()
        assert (low, high) == (0, 0)  # the old record is not reattached
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("metadata log" in m and "truncated" in m for m in said), said
    assert any(f"{lost}-0: stray log (no such topic)" in m for m in said), said
