"""The Kafka half of the interop tests, checked on its own (no ferrokafka code involved).

The other interop tests compare ferrokafka with what Kafka wrote and with what Kafka's tools
print. They are only as good as that reference, so this module checks it: the workload landed
in Kafka as it was produced (many batches, several segments, every codec), Kafka's
DumpLogSegments output parses back to exactly those records, Kafka's ListOffsets answers are
"the first offset whose timestamp is at or after the query", LogAppendTime is the broker's clock,
and Kafka's own indexes pass Kafka's own checks after a clean shutdown. When an interop test
fails and these pass, the difference is ferrokafka's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import kafka_support as ks
from kafka_support.workload import (
    LOG_APPEND_TIME_TOPIC,
    RECORDS_PER_TOPIC,
    KafkaWrittenLogs,
    ProducedRecord,
    WrittenTopic,
    topic_names,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

# What Kafka's LogSegment preallocates for an open index (segment.index.bytes, 10 MiB).
PREALLOCATED_INDEX_BYTES = 10 * 1024 * 1024


@pytest.fixture(params=topic_names())
def topic(request: pytest.FixtureRequest, kafka_written_logs: KafkaWrittenLogs) -> WrittenTopic:
    return kafka_written_logs.topics[request.param]


def first_at_or_after(records: list[ProducedRecord], timestamp: int) -> tuple[int, int] | None:
    """The oracle for ListOffsets by timestamp: the first record, in offset order, stamped at
    or after ``timestamp``, as (offset, timestamp)."""
    for record in records:
        if record.timestamp >= timestamp:
            return record.offset, record.timestamp
    return None


def text(data: bytes | None) -> str | None:
    """What DumpLogSegments' default StringDecoder prints for ``data`` (UTF-8)."""
    return None if data is None else data.decode()


def test_dump_reports_no_problems(kafka_written_logs: KafkaWrittenLogs) -> None:
    assert kafka_written_logs.dump_problems == []


def test_many_valid_batches_in_several_segments(topic: WrittenTopic) -> None:
    batches = [batch for dumped in topic.dump.values() for batch in dumped.batches]
    assert len(topic.segment_files()) >= 3
    assert len(batches) >= 20
    assert {batch.count for batch in batches} >= {1, 25}, "want single and full batches"
    for batch in batches:
        assert batch.isvalid
        assert batch.magic == 2
        # librdkafka sends a batch uncompressed when compressing would not shrink it, which
        # happens to some single-record batches.
        if batch.count != 1:
            assert batch.compresscodec == topic.codec
        else:
            assert batch.compresscodec in (topic.codec, "none")
        assert batch.timestamp_type == topic.timestamp_type
        assert batch.producer_id >= 0, "the producer is idempotent"
        assert batch.partition_leader_epoch == 0


def test_segments_named_by_base_offset_and_contiguous(topic: WrittenTopic) -> None:
    next_offset = 0
    for path in topic.segment_files():
        dumped = topic.dump[str(path)]
        assert int(path.name.split(".")[0]) == dumped.start_offset == next_offset
        position = 0
        for batch in dumped.batches:
            assert batch.base_offset == next_offset
            assert batch.count == batch.last_offset - batch.base_offset + 1
            assert batch.position == position
            assert [r.offset for r in batch.records] == list(
                range(batch.base_offset, batch.last_offset + 1)
            )
            next_offset = batch.last_offset + 1
            position += batch.size
        assert dumped.invalid_trailing_bytes == 0
        assert position == path.stat().st_size
    assert next_offset == topic.high_watermark == RECORDS_PER_TOPIC


def test_dumped_records_are_what_was_produced(topic: WrittenTopic) -> None:
    seen = 0
    for dumped in topic.dump.values():
        for batch in dumped.batches:
            assert batch.max_timestamp == max(r.timestamp for r in batch.records)
            for record in batch.records:
                produced = topic.records[record.offset]
                assert record.timestamp == produced.timestamp
                assert record.key_size == (-1 if produced.key is None else len(produced.key))
                assert record.value_size == (-1 if produced.value is None else len(produced.value))
                assert record.key == text(produced.key)
                assert record.payload == text(produced.value)
                assert record.header_keys == [name for name, _ in produced.headers]
                assert record.sequence == record.offset, "one producer, sequences from 0"
                assert record.control is None
                seen += 1
    assert seen == RECORDS_PER_TOPIC


def test_list_offsets_is_first_offset_at_or_after(topic: WrittenTopic) -> None:
    assert len(topic.list_offsets) >= 10
    assert None in topic.list_offsets.values(), "a query past the end was asked"
    for query, answer in topic.list_offsets.items():
        assert answer == first_at_or_after(topic.records, query), query
    offset, timestamp = topic.max_timestamp
    assert timestamp == max(r.timestamp for r in topic.records)
    assert offset == first_at_or_after(topic.records, timestamp)[0]  # type: ignore[index]


def test_create_time_timestamps_go_backwards_sometimes(
    kafka_written_logs: KafkaWrittenLogs,
) -> None:
    """The workload's out-of-order timestamps: the case where "first at or after" and "sorted
    by time" differ, which offset_for_timestamp must get right."""
    records = kafka_written_logs.topics["interop-none"].records
    assert any(a.timestamp > b.timestamp for a, b in zip(records, records[1:], strict=False))


def test_log_append_time_is_the_brokers_clock(kafka_written_logs: KafkaWrittenLogs) -> None:
    topic = kafka_written_logs.topics[LOG_APPEND_TIME_TOPIC]
    start_ms, end_ms = topic.produce_window_ms
    for dumped in topic.dump.values():
        for batch in dumped.batches:
            assert batch.timestamp_type == "LogAppendTime"
            assert start_ms <= batch.max_timestamp <= end_ms
            for record in batch.records:
                assert record.timestamp == batch.max_timestamp
                produced = topic.records[record.offset]
                assert produced.timestamp == batch.max_timestamp, "delivery report agrees"
                assert produced.create_timestamp < start_ms, "the producer's stamp was replaced"


def test_kafka_trimmed_its_indexes_on_shutdown(kafka_written_logs: KafkaWrittenLogs) -> None:
    for topic in kafka_written_logs.topics.values():
        assert (topic.partition_dir.parent / ks.CLEAN_SHUTDOWN_FILE).exists()
        for suffix, entry_bytes in ((".index", 8), (".timeindex", 12)):
            for path in topic.segment_files(suffix):
                size = path.stat().st_size
                assert size % entry_bytes == 0 and size < PREALLOCATED_INDEX_BYTES, path


def test_kafka_indexes_pass_kafka_checks(
    kafka_written_logs: KafkaWrittenLogs, kafka_tool_dir: Path
) -> None:
    indexes = [
        path
        for topic in kafka_written_logs.topics.values()
        for suffix in (".index", ".timeindex")
        for path in topic.segment_files(suffix)
    ]
    sanity = ks.dump_log_segments(
        indexes, work_dir=kafka_tool_dir, print_data=False, index_sanity_check=True
    )
    assert sanity.problems == []
    for path in indexes:
        dumped = sanity.file(path)
        assert dumped.sanity_check_passed or dumped.is_empty, path

    verify = ks.dump_log_segments(
        indexes, work_dir=kafka_tool_dir, print_data=False, verify_index_only=True
    )
    assert verify.problems == []
    assert set(verify.files) == {str(path) for path in indexes}
