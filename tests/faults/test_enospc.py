"""A log dir that fills up (ENOSPC) under produce: clients get KAFKA_STORAGE_ERROR (56), the
broker stays up, and once space returns produce works again with nothing acknowledged lost.

Kafka 4.4 answers 56 too; with its only log dir failed it then stops the broker, where
ferrokafka keeps the dir and serves again when space returns (the append that failed left
nothing behind: the segment is cut back to where it was).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import NodeFactory
from .nodes import FerrokafkaNode, NodeError
from .workloads import CLIENT_LOG, create_topic, producer_config

DISK_BYTES = 32 * 1024 * 1024
KAFKA_STORAGE_ERROR = 56
SEND_TIMEOUT_S = 30.0
READ_TIMEOUT_S = 30.0
# Records a full disk is given to refuse: the segment's last page may take a few more.
FULL_DISK_SENDS_MAX = 200
PAGE_BYTES = 4096
# The native index allocates its pages in chunks of 16 KiB (BACKING_CHUNK_BYTES in
# rust/src/index/mod.rs): an index edge there is the first byte of a page that is not allocated
# yet, both before that allocation existed (then: SIGBUS) and with it (then: ENOSPC, 56).
INDEX_EDGE_BYTES = 16 * 1024
OFFSET_INDEX_ENTRY_BYTES = 8


def _plain_producer(bootstrap: str) -> Any:
    """acks=all without retries: the broker's error code reaches the delivery report."""
    from confluent_kafka import Producer

    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "retries": 0,
            "linger.ms": 0,
            "message.timeout.ms": int(SEND_TIMEOUT_S * 1000),
            "logger": CLIENT_LOG,
        }
    )


def _send(producer: Any, topic: str, value: str, timestamp_ms: int | None = None) -> Any:
    """One record, waited for: (error or None, offset)."""
    reports: list[tuple[Any, int]] = []
    extra = {} if timestamp_ms is None else {"timestamp": timestamp_ms}
    producer.produce(
        topic,
        value.encode(),
        on_delivery=lambda err, msg: reports.append((err, msg.offset())),
        **extra,
    )
    producer.flush(SEND_TIMEOUT_S)
    assert reports, f"no delivery report for {value} in {SEND_TIMEOUT_S}s"
    return reports[0]


def _read_all(bootstrap: str, topic: str) -> dict[int, str]:
    """Offset -> value of partition 0, read to its end."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "enospc-check", "logger": CLIENT_LOG}
    )
    try:
        tp = TopicPartition(topic, 0)
        _, end = consumer.get_watermark_offsets(tp, timeout=READ_TIMEOUT_S, cached=False)
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        seen: dict[int, str] = {}
        deadline = time.monotonic() + READ_TIMEOUT_S
        while len(seen) < end and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                if msg.error() is None:
                    assert msg.offset() not in seen
                    seen[msg.offset()] = msg.value().decode()
        assert len(seen) == end, f"read {len(seen)} of {end} records"
        return seen
    finally:
        consumer.close()


def _assert_up(node: FerrokafkaNode) -> None:
    """The process is there and answers Metadata (asked first: a dying process may still
    be exiting when a client sees its connection close)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": node.bootstrap, "logger": CLIENT_LOG})
    try:
        admin.list_topics(timeout=10)
    except Exception as exc:
        raise AssertionError(f"no Metadata answer: {exc}; exit code {node.exited()}") from None
    assert node.exited() is None, f"the broker died: {node.exited()}\n{node.stderr_tail()}"


@pytest.mark.slow
def test_full_disk_answers_storage_error_and_recovers(make_node: NodeFactory) -> None:
    from confluent_kafka import KafkaError, Producer

    node = make_node(disk_bytes=DISK_BYTES)
    create_topic(node.bootstrap, "enospc", 1)
    plain = _plain_producer(node.bootstrap)
    acked = {}
    for i in range(200):
        err, offset = _send(plain, "enospc", f"before-{i}")
        assert err is None
        acked[f"before-{i}"] = offset

    assert node.fill_disk() > 0
    codes = []
    for i in range(FULL_DISK_SENDS_MAX):
        # The segment's last page may still hold a few records; then the disk refuses.
        err, offset = _send(plain, "enospc", f"full-{i}")
        if err is None:
            acked[f"full-{i}"] = offset
            continue
        codes.append(err.code())
        if len(codes) == 3:
            break
    assert codes == [KAFKA_STORAGE_ERROR] * 3, codes
    assert KafkaError.KAFKA_STORAGE_ERROR == KAFKA_STORAGE_ERROR
    _assert_up(node)

    # An idempotent producer retries 56 (retriable) until space returns.
    idempotent = Producer(producer_config(node.bootstrap))
    reports: list[tuple[str, Any, int]] = []
    for i in range(20):
        idempotent.produce(
            "enospc",
            f"retried-{i}".encode(),
            on_delivery=lambda err, msg: reports.append((msg.value().decode(), err, msg.offset())),
        )
    idempotent.poll(2.0)
    node.free_disk()
    idempotent.flush(SEND_TIMEOUT_S)
    assert [err for _, err, _ in reports] == [None] * 20
    acked.update({value: offset for value, _, offset in reports})

    for i in range(10):
        err, offset = _send(plain, "enospc", f"after-{i}")
        assert err is None
        acked[f"after-{i}"] = offset
    _assert_up(node)

    log = _read_all(node.bootstrap, "enospc")
    assert {log[offset]: offset for offset in acked.values()} == acked
    assert len(set(log.values())) == len(log), "a value twice in the log"
    assert node.stderr_count("Traceback") == 0, node.stderr_tail()


def _index_edge(batch_bytes: int, limit: int = 10_000) -> int:
    """How many single-record batches to write so that the next one's offset-index entry is
    the first past an ``INDEX_EDGE_BYTES`` boundary, while the batch itself still fits in a
    page of the segment that is already allocated.

    With ``index.interval.bytes=0`` every batch after the first adds one index entry."""
    for written in range(2, limit):
        entry = written - 1  # the entry the next batch adds
        used = (written * batch_bytes) % PAGE_BYTES
        edge = (entry * OFFSET_INDEX_ENTRY_BYTES) % INDEX_EDGE_BYTES == 0
        if edge and used and used + batch_bytes <= PAGE_BYTES:
            return written
    raise AssertionError(f"no index edge for {batch_bytes}-byte batches")


def _segment_bytes(node: FerrokafkaNode, topic: str) -> int:
    (partition_dir,) = Path(node.data_dir).glob(f"{topic}-0")
    return sum(p.stat().st_size for p in partition_dir.glob("*.log"))


@pytest.mark.slow
def test_full_disk_when_an_index_needs_a_new_page(make_node: NodeFactory) -> None:
    """The segment's last page has room for the batch but the index entry it adds is the
    first of a page not allocated yet: on a full tmpfs, writing it through the index's memory
    map was SIGBUS (the broker died, exit code -7). The append is refused with 56 instead,
    the broker stays up, and the next append after space returns goes through."""
    from confluent_kafka.admin import AdminClient, NewTopic

    node = make_node(disk_bytes=DISK_BYTES)
    admin = AdminClient({"bootstrap.servers": node.bootstrap, "logger": CLIENT_LOG})
    topic = "enospc-index"
    new = NewTopic(
        topic, num_partitions=1, replication_factor=1, config={"index.interval.bytes": "0"}
    )
    admin.create_topics([new])[topic].result(timeout=SEND_TIMEOUT_S)
    producer = _plain_producer(node.bootstrap)
    base_ms = int(time.time() * 1000) - 3_600_000
    assert _send(producer, topic, "x" * 30, base_ms) == (None, 0)
    batch_bytes = _segment_bytes(node, topic)
    edge = _index_edge(batch_bytes)
    for n in range(1, edge):
        err, _ = _send(producer, topic, "x" * 30, base_ms + n)
        assert err is None
    assert _segment_bytes(node, topic) == edge * batch_bytes

    node.fill_disk()
    err, _ = _send(producer, topic, "x" * 30, base_ms + edge)
    _assert_up(node)
    assert err is not None and err.code() == KAFKA_STORAGE_ERROR, err
    node.free_disk()
    err, offset = _send(producer, topic, "y" * 30, base_ms + edge + 1)
    assert err is None, err
    _assert_up(node)
    log = _read_all(node.bootstrap, topic)
    assert log[offset] == "y" * 30
    assert node.stderr_count("Traceback") == 0, node.stderr_tail()


@pytest.mark.slow
def test_killed_on_a_full_disk_and_started_again(make_node: NodeFactory) -> None:
    """A broker killed while its disk is full starts again on that disk. Its indexes were
    left preallocated by the kill, and the sanity check of their last entries read a hole
    through the memory map: on a full tmpfs that was SIGBUS at start-up (exit code -7). Now
    it starts (or, should recovery need new pages, refuses with exit code 1 and a line
    naming the error), and every acknowledged record is there once space returns."""
    from confluent_kafka import Producer

    node = make_node(disk_bytes=DISK_BYTES)
    create_topic(node.bootstrap, "enospc-restart", 1)
    producer = Producer(producer_config(node.bootstrap))
    acked: dict[str, int] = {}
    for i in range(2000):
        value = f"v{i}"
        producer.produce(
            "enospc-restart",
            value.encode(),
            on_delivery=lambda err, msg, v=value: err is None and acked.update({v: msg.offset()}),
        )
    producer.flush(SEND_TIMEOUT_S)
    assert len(acked) == 2000

    node.fill_disk()
    node.kill()
    try:
        node.start()
        _assert_up(node)
    except NodeError:
        code = node.exited()
        assert code == 1, f"exit code {code}\n{node.stderr_tail()}"
        assert "No space left on device" in node.stderr_tail()
        node.kill()
    node.free_disk()
    if not node.running:
        node.start()
    _assert_up(node)
    log = _read_all(node.bootstrap, "enospc-restart")
    assert {log[offset]: offset for offset in acked.values()} == acked
    assert node.stderr_count("Traceback") == 0, node.stderr_tail()
