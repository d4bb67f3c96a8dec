"""Log compaction seen by real clients: a topic created by confluent-kafka's AdminClient with
cleanup.policy=compact, many updates per key and tombstones from a confluent-kafka producer, the
broker's cleaner shrinking the partition; a confluent-kafka consumer from the beginning then sees
the latest value of every key at its original offset, tombstones until delete.retention.ms has
passed (and a later clean ran), all of it again after a restart; Kafka's DumpLogSegments finds
the cleaned segments and their indexes valid; keyless records are refused with INVALID_RECORD
(confluent-kafka and kafka-python).

Segments are made small by segment.ms (rounds of produce 300 ms apart), since Kafka 4's
segment.bytes minimum is 1 MiB. min.compaction.lag.ms holds the cleaner back until every round is
written, so the size before cleaning can be measured.
"""

from __future__ import annotations

import hashlib
import re
import time
import warnings
from pathlib import Path
from typing import Any

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.checkpoints import TopicPartition
from ferrokafka.storage.cleaner import CLEANER_OFFSET_CHECKPOINT
from ferrokafka.testing import RunningBroker, run_broker
from kafka_support.dump import dump_log_segments, segment_files

with warnings.catch_warnings():  # kafka-python loads schemas with deprecated importlib APIs
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.errors

    from kafka import KafkaProducer

TOPIC = "compacted"
KEYS = 40
ROUNDS = 6
TOMBSTONED = (3, 7, 11)
DELETE_RETENTION_MS = 4_000
MIN_COMPACTION_LAG_MS = 8_000
SEGMENT_MS = 200
ROUND_GAP_S = 0.3
CLIENT_TIMEOUT_S = 30
CLEAN_WAIT_S = 60  # bound on waiting for the cleaner (it runs every 50 ms)
BROKER = {"log.cleaner.backoff.ms": 50, "log.retention.check.interval.ms": 100}
TOPIC_CONFIGS = {
    "cleanup.policy": "compact",
    "segment.bytes": str(1 << 20),
    "segment.ms": str(SEGMENT_MS),
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": str(DELETE_RETENTION_MS),
    "min.compaction.lag.ms": str(MIN_COMPACTION_LAG_MS),
    "retention.ms": "1",  # must not matter: compact-only topics keep their segments
}


def key(k: int) -> bytes:
    return b"key-%03d" % k


def value(k: int, r: int) -> bytes:
    # Hex of a hash: values that compress only about 2:1, so sizes mean something.
    noise = hashlib.sha256(b"%d-%d" % (k, r)).hexdigest().encode() * 3
    return b"value-%03d-round-%d-" % (k, r) + noise


def produce(broker: RunningBroker, messages: list[tuple[bytes | None, bytes | None]]) -> list[Any]:
    """Send and wait; returns the delivery errors (None for a delivered message)."""
    # Idempotent: the cleaner keeps each producer's last batch (empty if need be), as Kafka.
    producer = ck.Producer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "linger.ms": 5,
            "compression.type": "lz4",
            "enable.idempotence": True,
        }
    )
    outcome: list[Any] = []
    for k, v in messages:
        producer.produce(TOPIC, key=k, value=v, on_delivery=lambda err, _m: outcome.append(err))
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    return outcome


def consume_all(broker: RunningBroker) -> list[tuple[int, bytes | None, bytes | None]]:
    consumer = ck.Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": "unused",  # assign() needs no coordinator
            "enable.auto.commit": False,
        }
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
        assert got and got[-1][0] == high - 1, (got[-1:], high)
        return got
    finally:
        consumer.close()


def partition_dir(broker: RunningBroker) -> Path:
    return broker.data_dir / "logs" / f"{TOPIC}-0"


def dir_bytes(broker: RunningBroker) -> int:
    return sum(p.stat().st_size for p in segment_files(partition_dir(broker)))


def wait_cleaned_to(broker: RunningBroker, offset: int) -> None:
    """Until the cleaner checkpoint reaches ``offset`` (bounded)."""
    path = broker.data_dir / "logs" / CLEANER_OFFSET_CHECKPOINT
    deadline = time.monotonic() + CLEAN_WAIT_S
    while time.monotonic() < deadline:
        if path.exists():
            point = ckpt.read_offset_checkpoint(path).get(TopicPartition(TOPIC, 0), -1)
            if point >= offset:
                return
        time.sleep(0.05)
    raise AssertionError(f"the cleaner did not reach offset {offset} in {CLEAN_WAIT_S} s")


def roll(broker: RunningBroker) -> int:
    """Let segment.ms pass, then append one record: it rolls the active segment, so what was
    written before becomes cleanable. Returns the roll record's offset."""
    time.sleep(SEGMENT_MS * 1.5 / 1000)
    consumer_errors = produce(broker, [(b"roll-%d" % time.monotonic_ns(), b"r")])
    assert consumer_errors == [None]
    return high_watermark(broker) - 1


def high_watermark(broker: RunningBroker) -> int:
    consumer = ck.Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "unused"})
    try:
        return consumer.get_watermark_offsets(
            ck.TopicPartition(TOPIC, 0), timeout=CLIENT_TIMEOUT_S
        )[1]
    finally:
        consumer.close()


def check_compacted(
    got: list[tuple[int, bytes | None, bytes | None]], tombstones_expected: bool
) -> None:
    offsets = [o for o, _, _ in got]
    assert offsets == sorted(set(offsets))  # strictly increasing
    assert offsets[-1] - offsets[0] + 1 > len(offsets)  # with gaps
    latest = {k: (o, v) for o, k, v in got}
    for k in range(KEYS):
        if k in TOMBSTONED:
            if tombstones_expected:
                assert latest[key(k)][1] is None
            else:
                assert key(k) not in latest, latest.get(key(k))
        else:
            assert latest[key(k)][1] == value(k, ROUNDS - 1)
    # Cleaned: one record per key below the active segment (no older value of a key survives
    # before its latest one).
    seen: dict[bytes | None, int] = {}
    for o, k, _ in got:
        assert k not in seen, f"{k!r} at {seen.get(k)} and {o}"
        seen[k] = o


def test_compaction_with_confluent_kafka(tmp_path: Path) -> None:
    data = tmp_path / "broker"
    with run_broker(data, BROKER) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        futures = admin.create_topics(
            [NewTopic(TOPIC, 1, 1, config=TOPIC_CONFIGS)], request_timeout=CLIENT_TIMEOUT_S
        )
        futures[TOPIC].result(CLIENT_TIMEOUT_S)
        for r in range(ROUNDS):
            assert set(produce(broker, [(key(k), value(k, r)) for k in range(KEYS)])) == {None}
            time.sleep(ROUND_GAP_S)
        assert set(produce(broker, [(key(k), None) for k in TOMBSTONED])) == {None}
        written = high_watermark(broker)
        size_before = dir_bytes(broker)
        assert len(segment_files(partition_dir(broker))) >= ROUNDS
        roll_offset = roll(broker)
        wait_cleaned_to(broker, roll_offset)
        assert dir_bytes(broker) < size_before / 3, (dir_bytes(broker), size_before)
        first = consume_all(broker)
        assert first[-1][0] == roll_offset and first[-1][0] >= written
        check_compacted(first[:-1], tombstones_expected=True)

        # Past the tombstones' delete horizon, new dirt makes the cleaner run again: they go.
        time.sleep(DELETE_RETENTION_MS / 1000 + 0.5)
        second_roll = roll(broker)
        wait_cleaned_to(broker, second_roll)
        second = consume_all(broker)
        check_compacted([m for m in second if not m[1].startswith(b"roll-")], False)
        # Keyless records are refused with Kafka's error, and nothing of them is written.
        refused = produce(broker, [(None, b"no key")])
        assert [e.code() for e in refused] == [ck.KafkaError.INVALID_RECORD]
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, retries=0)
        try:
            with pytest.raises(kafka.errors.KafkaError) as caught:
                producer.send(TOPIC, value=b"no key either").get(timeout=CLIENT_TIMEOUT_S)
            assert isinstance(caught.value, kafka.errors.InvalidRecordError)
            assert f"without key in topic partition {TOPIC}-0." in str(caught.value)
        finally:
            producer.close(timeout=CLIENT_TIMEOUT_S)
        assert high_watermark(broker) == second[-1][0] + 1

    with run_broker(data, BROKER) as broker:
        assert consume_all(broker) == second

    # Kafka's own tool over the cleaned segments: valid batches, offsets in order, indexes
    # that match the log.
    pdir = data / "logs" / f"{TOPIC}-0"
    files = [
        *segment_files(pdir),
        *segment_files(pdir, ".index"),
        *segment_files(pdir, ".timeindex"),
    ]
    dumped = dump_log_segments(files, work_dir=tmp_path / "dump")
    # Kafka's tool reports the gaps compaction leaves as "Non-consecutive offsets" (it does so
    # for Kafka's own compacted logs too); anything else is a real problem.
    gap = re.compile(r"Non-consecutive offsets in .*|\s+\d+ is followed by \d+")
    assert any(p.startswith("Non-consecutive") for p in dumped.problems), "gaps must be seen"
    assert [p for p in dumped.problems if not gap.fullmatch(p)] == []
    batches = [b for f in segment_files(pdir) for b in dumped.file(f).batches]
    assert batches and all(b.isvalid for b in batches)
    # Rewritten batches keep their codec (librdkafka sends a lone tiny record uncompressed).
    codecs = {b.compresscodec.lower() for b in batches}
    assert "lz4" in codecs and codecs <= {"lz4", "none"}, codecs
    # Each round's producer lost all its records but keeps its last batch, empty.
    empty = [b for b in batches if not b.records]
    assert len(empty) >= ROUNDS - 1 and all(b.producer_id >= 0 for b in empty), empty
    assert len({b.producer_id for b in empty}) == len(empty)
    offsets = [r.offset for b in batches for r in b.records]
    assert offsets == [o for o, _, _ in second]
    checked = dump_log_segments(
        [*segment_files(pdir, ".index"), *segment_files(pdir, ".timeindex")],
        work_dir=tmp_path / "dump",
        print_data=False,
        index_sanity_check=True,
    )
    assert checked.problems == []
