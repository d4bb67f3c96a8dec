"""The known workload the interop tests have Apache Kafka write, and what Kafka said about it.

For each codec a single-partition topic fed by confluent-kafka (librdkafka, an idempotent
producer): keys, null and empty keys, null and empty values, headers (duplicate keys, null,
empty and binary values), explicit and slightly out-of-order timestamps, batches of 1 to 25
records, 16 KiB segments. Plus a ``LogAppendTime`` topic. While the broker runs, Kafka's
ListOffsets answers (by timestamp, and MAX_TIMESTAMP) and the high watermark are recorded; then
the broker is stopped cleanly and every segment is dumped with Kafka's DumpLogSegments.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka_support.broker import KafkaBroker
from kafka_support.dump import DumpedFile, dump_log_segments, segment_files

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
RECORDS_PER_TOPIC = 600
# Kafka 4 refuses segment.bytes below 1 MiB; internal.segment.bytes is its knob for tests.
# 16 KiB gives each topic several segments from a few hundred records.
SEGMENT_BYTES = 16 * 1024
INDEX_INTERVAL_BYTES = 2048
LOG_APPEND_TIME_TOPIC = "interop-logappendtime"
LOG_APPEND_TIME_CODEC = "lz4"
# librdkafka: at most this many records per batch, a flush every FLUSH_EVERY records, and the
# records of SINGLE_RECORD_BATCHES flushed alone: many batches of varied sizes.
RECORDS_PER_BATCH_MAX = 25
FLUSH_EVERY = 97
SINGLE_RECORD_BATCHES = range(300, 305)
PRODUCE_TIMEOUT_S = 60.0
LIST_OFFSETS_TIMEOUT_S = 15.0
LIST_OFFSETS_QUERIES_MAX = 30
# Printable, so DumpLogSegments prints values faithfully; random, so they barely compress and
# segments roll for every codec.
VALUE_ALPHABET = string.ascii_letters + string.digits + " -_."

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True)
class ProducedRecord:
    """One record as the producer sent it and as Kafka acknowledged it."""

    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    create_timestamp: int
    """The timestamp the producer set."""
    timestamp: int
    """The timestamp Kafka stored: create_timestamp, or the broker's clock on LogAppendTime."""


@dataclass
class WrittenTopic:
    """One single-partition topic Kafka wrote, and what Kafka said about it before stopping."""

    name: str
    codec: str
    timestamp_type: str
    partition_dir: Path
    records: list[ProducedRecord]
    """Indexed by offset."""
    produce_window_ms: tuple[int, int]
    """Wall-clock bounds around producing, for LogAppendTime checks."""
    high_watermark: int = -1
    list_offsets: dict[int, tuple[int, int] | None] = field(default_factory=dict)
    """ListOffsets by timestamp: query -> (offset, timestamp), None where Kafka found none."""
    max_timestamp: tuple[int, int] = (-1, -1)
    """ListOffsets MAX_TIMESTAMP: (offset, timestamp)."""
    dump: dict[str, DumpedFile] = field(default_factory=dict)
    """DumpLogSegments' view of each .log file, by absolute path."""

    def segment_files(self, suffix: str = ".log") -> list[Path]:
        return segment_files(self.partition_dir, suffix)


@dataclass
class KafkaWrittenLogs:
    broker: KafkaBroker
    topics: dict[str, WrittenTopic]
    dump_problems: list[str]
    """What DumpLogSegments reported on stderr for all the segments (none expected)."""


def topic_names() -> list[str]:
    return [*(f"interop-{codec}" for codec in CODECS), LOG_APPEND_TIME_TOPIC]


def workload_records(
    topic: str, count: int, base_timestamp: int
) -> list[tuple[bytes | None, bytes | None, Headers, int]]:
    """Deterministic records (key, value, headers, timestamp) for ``topic``.

    Timestamps are 100 ms apart with up to 250 ms of jitter, so some go backwards: the case
    where "first offset at or after a time" and "earliest time" differ.
    """
    rng = random.Random(topic)
    records = []
    for i in range(count):
        key: bytes | None
        if i % 9 == 0:
            key = None
        elif i % 23 == 0:
            key = b""
        elif i % 31 == 0:
            key = f"key with spaces {i}".encode()
        else:
            key = f"key-{i % 40:02d}".encode()
        value: bytes | None
        if i % 11 == 5:
            value = None
        elif i % 29 == 0:
            value = b""
        else:
            text = "".join(rng.choices(VALUE_ALPHABET, k=rng.randint(10, 300)))
            value = f"value-{i:04d}:{text}".encode()
        headers: Headers = (
            (),
            (("trace", f"t-{i}".encode()),),
            (("null-header", None), ("dup", b"1"), ("dup", b"2")),
            (("bin", bytes([0, 255, i % 256])), ("empty", b"")),
        )[i % 4]
        timestamp = base_timestamp + i * 100 + rng.randint(-250, 250)
        records.append((key, value, headers, timestamp))
    return records


def produce(
    broker: KafkaBroker,
    topic: str,
    codec: str,
    records: list[tuple[bytes | None, bytes | None, Headers, int]],
) -> list[ProducedRecord]:
    """Produce ``records`` to partition 0 with an idempotent producer; returns them by offset."""
    from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Producer

    acknowledged: dict[int, ProducedRecord] = {}
    errors: list[str] = []

    def on_delivery(index: int) -> Callable[[Any, Any], None]:
        def report(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(f"record {index}: {err}")
                return
            key, value, headers, create_timestamp = records[index]
            timestamp_type, timestamp = msg.timestamp()
            if timestamp_type != TIMESTAMP_LOG_APPEND_TIME:
                timestamp = create_timestamp
            acknowledged[msg.offset()] = ProducedRecord(
                msg.offset(), key, value, headers, create_timestamp, timestamp
            )

        return report

    producer = Producer(
        {
            **broker.client_config(),
            "compression.type": codec,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "batch.num.messages": RECORDS_PER_BATCH_MAX,
            "message.timeout.ms": int(PRODUCE_TIMEOUT_S * 1000),
        }
    )
    for index, (key, value, headers, timestamp) in enumerate(records):
        producer.produce(
            topic,
            value=value,
            key=key,
            headers=list(headers),
            timestamp=timestamp,
            partition=0,
            on_delivery=on_delivery(index),
        )
        producer.poll(0)
        # A flush ends the batch; flushed before and after, a record is a batch of its own.
        alone = index in SINGLE_RECORD_BATCHES or index + 1 in SINGLE_RECORD_BATCHES
        if index % FLUSH_EVERY == FLUSH_EVERY - 1 or alone:
            _flush(producer, topic)
    _flush(producer, topic)
    del producer  # disconnect now, not after the broker is gone
    if errors:
        raise AssertionError(f"produce to {topic} failed: {errors[:5]}")
    if sorted(acknowledged) != list(range(len(records))):
        raise AssertionError(f"{topic}: acknowledged offsets are not 0..{len(records) - 1}")
    return [acknowledged[offset] for offset in range(len(records))]


def _flush(producer: Any, topic: str) -> None:
    left = producer.flush(PRODUCE_TIMEOUT_S)
    if left:
        raise AssertionError(f"{left} records to {topic} not acknowledged in {PRODUCE_TIMEOUT_S}s")


def list_offsets_queries(records: list[ProducedRecord]) -> list[int]:
    """Timestamps to ask ListOffsets about: before everything, some exact record timestamps
    (the last one included), one past each, and past the end."""
    timestamps = sorted({r.timestamp for r in records})
    step = max(1, len(timestamps) // (LIST_OFFSETS_QUERIES_MAX // 2 - 2))
    picked = [*timestamps[::step], timestamps[-1]]
    queries = {timestamps[0] - 1000, timestamps[-1] + 1}
    for t in picked:
        queries.update((t, t + 1))
    return sorted(queries)


def ask_kafka(broker: KafkaBroker, topic: WrittenTopic) -> None:
    """Record Kafka's ListOffsets answers (AdminClient.list_offsets, which returns the offset and
    its timestamp, checked against Consumer.offsets_for_times) and the high watermark."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient(broker.client_config())
    partition = TopicPartition(topic.name, 0)

    def list_offsets(spec: Any) -> tuple[int, int] | None:
        futures = admin.list_offsets({partition: spec}, request_timeout=LIST_OFFSETS_TIMEOUT_S)
        info = futures[partition].result(timeout=LIST_OFFSETS_TIMEOUT_S)
        return None if info.offset < 0 else (info.offset, info.timestamp)

    consumer = Consumer({**broker.client_config(), "group.id": "ferrokafka-interop"})
    try:
        for query in list_offsets_queries(topic.records):
            answer = list_offsets(OffsetSpec.for_timestamp(query))
            # The consumer's offsets_for_times sends the same ListOffsets request but keeps
            # only the offset; the two must agree.
            (by_consumer,) = consumer.offsets_for_times(
                [TopicPartition(topic.name, 0, query)], timeout=LIST_OFFSETS_TIMEOUT_S
            )
            if by_consumer.offset != (-1 if answer is None else answer[0]):
                raise AssertionError(f"{topic.name} @ {query}: {by_consumer} vs {answer}")
            topic.list_offsets[query] = answer
        _low, high = consumer.get_watermark_offsets(partition, timeout=LIST_OFFSETS_TIMEOUT_S)
    finally:
        consumer.close()
    topic.high_watermark = high

    found = list_offsets(OffsetSpec.max_timestamp())
    if found is None:
        raise AssertionError(f"Kafka found no max timestamp in {topic.name}")
    topic.max_timestamp = found


def write_topic(
    broker: KafkaBroker, name: str, codec: str, timestamp_type: str, base_timestamp: int
) -> WrittenTopic:
    """Create ``name``, produce the workload to it and ask Kafka about it."""
    broker.create_topic(
        name,
        config={
            "internal.segment.bytes": str(SEGMENT_BYTES),
            "index.interval.bytes": str(INDEX_INTERVAL_BYTES),
            "message.timestamp.type": timestamp_type,
            "compression.type": "producer",
        },
    )
    records = workload_records(name, RECORDS_PER_TOPIC, base_timestamp)
    started_ms = int(time.time() * 1000)
    produced = produce(broker, name, codec, records)
    finished_ms = int(time.time() * 1000)
    topic = WrittenTopic(
        name=name,
        codec=codec,
        timestamp_type=timestamp_type,
        partition_dir=broker.partition_dir(name),
        records=produced,
        produce_window_ms=(started_ms, finished_ms),
    )
    ask_kafka(broker, topic)
    return topic


def write_workload(broker: KafkaBroker, tool_dir: Path) -> KafkaWrittenLogs:
    """Write every topic of the workload, stop the broker cleanly, dump Kafka's segments."""
    # An hour back: CreateTime stamps stay inside Kafka's message.timestamp.*.max.ms bounds,
    # and LogAppendTime visibly replaces them.
    base_timestamp = int(time.time() * 1000) - 3_600_000
    topics = {}
    for codec in CODECS:
        name = f"interop-{codec}"
        topics[name] = write_topic(broker, name, codec, "CreateTime", base_timestamp)
    topics[LOG_APPEND_TIME_TOPIC] = write_topic(
        broker, LOG_APPEND_TIME_TOPIC, LOG_APPEND_TIME_CODEC, "LogAppendTime", base_timestamp
    )
    broker.stop()

    segments = [path for topic in topics.values() for path in topic.segment_files()]
    dump = dump_log_segments(segments, work_dir=tool_dir)
    for topic in topics.values():
        topic.dump = {str(path): dump.file(path) for path in topic.segment_files()}
    return KafkaWrittenLogs(broker=broker, topics=topics, dump_problems=dump.problems)
