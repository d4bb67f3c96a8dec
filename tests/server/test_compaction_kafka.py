"""Compaction compared with Apache Kafka: the same workload (updates of many keys, tombstones,
segments rolled by segment.ms) from confluent-kafka into a real Kafka 4 broker and into
ferrokafka, each broker's cleaner left to clean everything below the active segment, then a
consumer from the beginning must see exactly the same records (offset, key, value) on both, again
after a second clean past the tombstones' delete horizon (they are gone from both), and
Kafka's DumpLogSegments the same batches (offsets, record counts, sequences, codec)."""

from __future__ import annotations

import time
from pathlib import Path

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.checkpoints import TopicPartition
from ferrokafka.storage.cleaner import CLEANER_OFFSET_CHECKPOINT
from ferrokafka.testing import run_broker
from kafka_support.broker import KafkaBroker
from kafka_support.dump import dump_log_segments, segment_files
from kafka_support.opt_in import COMPARE_OPT_IN

TOPIC = "compared"
KEYS = 25
ROUNDS = 5
TOMBSTONED = (2, 9, 17)
SEGMENT_MS = 300
DELETE_RETENTION_MS = 3_000
CLIENT_TIMEOUT_S = 30
CLEAN_WAIT_S = 90  # bound on each broker's cleaner (backoff 100 ms on both)
TOPIC_CONFIGS = {
    "cleanup.policy": "compact",
    "segment.ms": str(SEGMENT_MS),
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": str(DELETE_RETENTION_MS),
}
CLEANER = {"log.cleaner.backoff.ms": "100"}


def produce(bootstrap: str, messages: list[tuple[bytes, bytes | None]]) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    failed: list[object] = []
    for k, v in messages:
        producer.produce(
            TOPIC, key=k, value=v, on_delivery=lambda err, _m: err and failed.append(err)
        )
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    assert failed == []


def workload(bootstrap: str) -> int:
    """The same appends, in the same order (so the same offsets); returns the offset below
    which everything must get cleaned (the last record rolled the segment before it)."""
    for r in range(ROUNDS):
        produce(bootstrap, [(b"k%02d" % k, b"v-%d-%d" % (k, r) * 20) for k in range(KEYS)])
        time.sleep(SEGMENT_MS * 1.5 / 1000)
    produce(bootstrap, [(b"k%02d" % k, None) for k in TOMBSTONED])
    time.sleep(SEGMENT_MS * 1.5 / 1000)
    produce(bootstrap, [(b"roll", b"r")])
    return ROUNDS * KEYS + len(TOMBSTONED)


def second_round(bootstrap: str, first_end: int) -> int:
    """After the tombstones' delete horizon: a few updates, then a roll, so the cleaner runs
    again; returns the offset it must clean to."""
    time.sleep(DELETE_RETENTION_MS / 1000 + 1)
    produce(bootstrap, [(b"k%02d" % k, b"again") for k in range(3)])
    time.sleep(SEGMENT_MS * 1.5 / 1000)
    produce(bootstrap, [(b"roll", b"r2")])
    return first_end + 1 + 3  # the second roll record's offset


def wait_cleaned(log_dir: Path, offset: int) -> None:
    path = log_dir / CLEANER_OFFSET_CHECKPOINT
    deadline = time.monotonic() + CLEAN_WAIT_S
    while time.monotonic() < deadline:
        if (
            path.exists()
            and ckpt.read_offset_checkpoint(path).get(TopicPartition(TOPIC, 0), -1) >= offset
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"{log_dir}: not cleaned to {offset} within {CLEAN_WAIT_S} s")


def consume_all(bootstrap: str) -> list[tuple[int, bytes | None, bytes | None]]:
    consumer = ck.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False}
    )
    try:
        _, high = consumer.get_watermark_offsets(
            ck.TopicPartition(TOPIC, 0), timeout=CLIENT_TIMEOUT_S
        )
        consumer.assign([ck.TopicPartition(TOPIC, 0, ck.OFFSET_BEGINNING)])
        got: list[tuple[int, bytes | None, bytes | None]] = []
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while (not got or got[-1][0] < high - 1) and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None:
                assert m.error() is None, m.error()
                got.append((m.offset(), m.key(), m.value()))
        return got
    finally:
        consumer.close()


def create_topic(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(TOPIC, 1, 1, config=TOPIC_CONFIGS)], request_timeout=CLIENT_TIMEOUT_S
    )
    futures[TOPIC].result(CLIENT_TIMEOUT_S)


@COMPARE_OPT_IN
def test_same_records_as_kafka_after_compaction(tmp_path: Path) -> None:
    with KafkaBroker(tmp_path / "kafka", broker_config=CLEANER) as kafka:
        kafka.create_topic(TOPIC, config=TOPIC_CONFIGS)
        end = workload(kafka.bootstrap_servers)
        wait_cleaned(kafka.data_dir, end)
        from_kafka = consume_all(kafka.bootstrap_servers)
        end2 = second_round(kafka.bootstrap_servers, end)
        wait_cleaned(kafka.data_dir, end2)
        from_kafka2 = consume_all(kafka.bootstrap_servers)
    with run_broker(tmp_path / "ferrokafka", {k: int(v) for k, v in CLEANER.items()}) as fk:
        create_topic(fk.bootstrap_servers)
        assert workload(fk.bootstrap_servers) == end
        wait_cleaned(fk.data_dir / "logs", end)
        from_ferrokafka = consume_all(fk.bootstrap_servers)
        assert second_round(fk.bootstrap_servers, end) == end2
        wait_cleaned(fk.data_dir / "logs", end2)
        from_ferrokafka2 = consume_all(fk.bootstrap_servers)
    # One record per key (tombstones included) below the roll record, at the same offsets.
    assert len(from_kafka) == KEYS + 1, from_kafka
    assert from_ferrokafka == from_kafka
    # The tombstones went in the clean after their horizon, on both.
    assert not any(v is None for _, _, v in from_kafka2), from_kafka2
    assert from_ferrokafka2 == from_kafka2
    # The batches themselves: a rewritten batch keeps its base and last offsets, as Kafka's
    # cleaner writes it (tests/interop/test_txn_cleaner_kafka.py shows a batch whose last
    # record went).
    dirs = [kafka.partition_dir(TOPIC), tmp_path / "ferrokafka" / "logs" / f"{TOPIC}-0"]
    files = [f for d in dirs for f in segment_files(d)]
    dumped = dump_log_segments(files, work_dir=tmp_path / "dump")

    def batches(d: Path) -> list[tuple[object, ...]]:
        return [
            (
                b.base_offset,
                b.last_offset,
                b.count,
                b.base_sequence,
                b.last_sequence,
                b.is_control,
                b.compresscodec,
                b.isvalid,
            )
            for f in segment_files(d)
            for b in dumped.file(f).batches
        ]

    assert batches(dirs[1]) == batches(dirs[0])
