"""ferrokafka opens logs written by Apache Kafka: every record, segment, index and timestamp.

The logs come from a real Kafka broker fed by a real client (kafka_support/workload.py): one
topic per codec plus a LogAppendTime topic, several segments each, stopped cleanly. Each test
opens a copy of a partition directory with ferrokafka's ``Log``, so nothing ferrokafka does on
open (recovery, index rebuilds) changes what the next test sees.

Two ways of opening: "recovered" (recovery_point 0: every segment scanned, as after a crash)
and "trusted" (recovery_point at the log end, as Kafka itself reopens after a clean shutdown:
Kafka's .index and .timeindex files are used as Kafka left them, trimmed on close).
"""

from __future__ import annotations

import random
import shutil
import string
import time
from pathlib import Path

import pytest

import kafka_support as ks
from ferrokafka.storage import BatchBuilder, Log, LogConfig, OffsetOutOfRangeError, RecordBatch
from kafka_support.workload import (
    INDEX_INTERVAL_BYTES,
    LOG_APPEND_TIME_TOPIC,
    RECORDS_PER_TOPIC,
    SEGMENT_BYTES,
    KafkaWrittenLogs,
    WrittenTopic,
    topic_names,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

READ_MAX_BYTES = 64 * 1024
OPENINGS = ("recovered", "trusted")
# Offsets looked up one by one through the indexes (every LOOKUP_STRIDE-th).
LOOKUP_STRIDE = 7
APPENDED_BATCHES = 12
APPENDED_RECORDS_PER_BATCH = 20


@pytest.fixture(params=topic_names())
def topic(request: pytest.FixtureRequest, kafka_written_logs: KafkaWrittenLogs) -> WrittenTopic:
    return kafka_written_logs.topics[request.param]


@pytest.fixture
def log_dir(topic: WrittenTopic, tmp_path: Path) -> Path:
    """A copy of Kafka's partition directory, under the name Kafka gave it."""
    copy = tmp_path / topic.partition_dir.name
    shutil.copytree(topic.partition_dir, copy)
    return copy


def open_log(
    log_dir: Path, topic: WrittenTopic, opening: str, config: LogConfig | None = None
) -> Log:
    recovery_point = topic.high_watermark if opening == "trusted" else 0
    return Log(str(log_dir), config, recovery_point=recovery_point)


def read_all(log: Log) -> list[RecordBatch]:
    """Every batch from the log start to the log end, through ``read_batches``."""
    batches: list[RecordBatch] = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        got = log.read_batches(offset, READ_MAX_BYTES)
        assert got, f"read_batches({offset}) returned nothing below the log end"
        batches.extend(got)
        offset = got[-1].next_offset
    return batches


def kafka_batches(topic: WrittenTopic) -> list[ks.DumpedBatch]:
    """Kafka's own view (DumpLogSegments) of every batch of ``topic``, in log order."""
    return [b for path in topic.segment_files() for b in topic.dump[str(path)].batches]


def assert_indexes_pass_sanity_check(indexes: list[Path], tool_dir: Path) -> None:
    """The check Kafka runs on start-up before it trusts an index (a failure raises)."""
    checked = ks.dump_log_segments(
        indexes, work_dir=tool_dir, print_data=False, index_sanity_check=True
    )
    assert checked.problems == []
    for path in indexes:
        assert checked.file(path).sanity_check_passed or checked.file(path).is_empty, path


def base_offset_of(path: Path) -> int:
    return int(path.name.split(".")[0])


@pytest.mark.parametrize("opening", OPENINGS)
def test_every_record_as_kafka_wrote_it(topic: WrittenTopic, log_dir: Path, opening: str) -> None:
    with open_log(log_dir, topic, opening) as log:
        assert log.log_start_offset == 0
        assert log.log_end_offset == topic.high_watermark == RECORDS_PER_TOPIC
        batches = read_all(log)

    theirs_all = kafka_batches(topic)
    assert len(batches) == len(theirs_all)
    offsets = []
    for ours, theirs in zip(batches, theirs_all, strict=True):
        assert (ours.base_offset, ours.last_offset) == (theirs.base_offset, theirs.last_offset)
        assert ours.record_count == theirs.count
        assert ours.is_valid()
        assert ours.crc == theirs.crc
        assert ours.magic == theirs.magic == 2
        assert ours.size_in_bytes == theirs.size
        assert ours.compression == theirs.compresscodec
        assert ours.timestamp_type == theirs.timestamp_type
        assert ours.max_timestamp == theirs.max_timestamp
        assert ours.partition_leader_epoch == theirs.partition_leader_epoch
        assert (ours.producer_id, ours.producer_epoch) == (
            theirs.producer_id,
            theirs.producer_epoch,
        )
        assert ours.base_sequence == theirs.base_sequence
        assert ours.is_transactional == theirs.is_transactional
        assert ours.is_control == theirs.is_control
        assert ours.control_record() is None
        for record in ours.records():
            produced = topic.records[record.offset]
            assert record.key == produced.key
            assert record.value == produced.value
            assert record.headers == list(produced.headers)
            assert record.timestamp == produced.timestamp
            offsets.append(record.offset)
    assert offsets == list(range(RECORDS_PER_TOPIC))


@pytest.mark.parametrize("opening", OPENINGS)
def test_segments_are_kafkas_files(topic: WrittenTopic, log_dir: Path, opening: str) -> None:
    kafka_files = topic.segment_files()
    bases = [base_offset_of(path) for path in kafka_files]
    with open_log(log_dir, topic, opening) as log:
        segments = log.segments()
        base_offsets = [s.base_offset for s in segments]
        next_offsets = [s.next_offset for s in segments]
        sizes = [s.size_in_bytes for s in segments]
        max_timestamps = [s.max_timestamp for s in segments]
        active = [s.is_active for s in segments]
        paths = [Path(s.path) for s in segments]

    assert base_offsets == bases
    assert [path.name for path in paths] == [path.name for path in kafka_files]
    assert {path.resolve().parent for path in paths} == {log_dir.resolve()}
    assert next_offsets == [*bases[1:], topic.high_watermark]
    assert sizes == [path.stat().st_size for path in kafka_files]
    assert active == [False] * (len(segments) - 1) + [True]
    assert max_timestamps == [
        max(b.max_timestamp for b in topic.dump[str(path)].batches) for path in kafka_files
    ]


@pytest.mark.parametrize("opening", OPENINGS)
def test_offset_for_timestamp_agrees_with_kafkas_list_offsets(
    topic: WrittenTopic, log_dir: Path, opening: str
) -> None:
    with open_log(log_dir, topic, opening) as log:
        answers = {query: log.offset_for_timestamp(query) for query in topic.list_offsets}
        newest = log.offset_for_max_timestamp()
    assert answers == topic.list_offsets

    # With ties (all records of a LogAppendTime batch share its time) "the" record with the
    # largest timestamp is any of them; Kafka answers the first.
    kafka_offset, kafka_timestamp = topic.max_timestamp
    assert newest is not None
    offset, timestamp = newest
    assert timestamp == kafka_timestamp
    assert topic.records[offset].timestamp == timestamp
    if sum(r.timestamp == timestamp for r in topic.records) == 1:
        assert offset == kafka_offset


def test_log_append_time_reads_as_the_brokers_clock(
    kafka_written_logs: KafkaWrittenLogs, tmp_path: Path
) -> None:
    topic = kafka_written_logs.topics[LOG_APPEND_TIME_TOPIC]
    copy = tmp_path / topic.partition_dir.name
    shutil.copytree(topic.partition_dir, copy)
    start_ms, end_ms = topic.produce_window_ms
    with Log(str(copy)) as log:
        batches = read_all(log)
    assert batches
    for batch in batches:
        assert batch.timestamp_type == "LogAppendTime"
        assert start_ms <= batch.max_timestamp <= end_ms
        for record in batch.records():
            assert record.timestamp == batch.max_timestamp
            assert record.timestamp != topic.records[record.offset].create_timestamp


@pytest.mark.parametrize("opening", OPENINGS)
def test_every_offset_found_through_the_indexes(
    topic: WrittenTopic, log_dir: Path, opening: str
) -> None:
    with open_log(log_dir, topic, opening) as log:
        for offset in range(0, topic.high_watermark, LOOKUP_STRIDE):
            batch = log.read_batches(offset, 1)[0]  # at least one batch: the one holding it
            assert batch.base_offset <= offset <= batch.last_offset
            region = log.read(offset, 1).regions[0]
            assert Path(region.path).resolve().parent == log_dir.resolve()
        with pytest.raises(OffsetOutOfRangeError):
            log.read(topic.high_watermark + 1, 1)


@pytest.mark.parametrize("opening", OPENINGS)
def test_appends_continue_kafkas_log_and_kafka_reads_them(
    topic: WrittenTopic, log_dir: Path, opening: str, kafka_tool_dir: Path
) -> None:
    """Kafka's last segment becomes ferrokafka's active segment: its trimmed indexes must grow,
    segments roll, and Kafka's tools then read the whole directory, old and new, as sound."""
    config = LogConfig(
        segment_bytes=SEGMENT_BYTES,
        index_interval_bytes=INDEX_INTERVAL_BYTES,
        message_timestamp_type=topic.timestamp_type,
    )
    now_ms = int(time.time() * 1000)
    rng = random.Random(topic.name)
    appended: dict[int, bytes] = {}
    with open_log(log_dir, topic, opening, config) as log:
        segments_before = len(log.segments())
        for batch_index in range(APPENDED_BATCHES):
            builder = BatchBuilder(compression=topic.codec)
            for i in range(APPENDED_RECORDS_PER_BATCH):
                # Random printable text: barely compressible, so the appends roll segments.
                text = "".join(rng.choices(string.ascii_letters + string.digits, k=600))
                value = f"appended-{batch_index}-{i}-{text}".encode()
                builder.append(value, key=f"k{i}".encode(), timestamp=now_ms + i)
            info = log.append(builder.build(), leader_epoch=0, now_ms=now_ms)
            for i in range(APPENDED_RECORDS_PER_BATCH):
                appended[info.first_offset + i] = f"appended-{batch_index}-{i}-".encode()
        assert log.log_end_offset == RECORDS_PER_TOPIC + len(appended)
        assert len(log.segments()) > segments_before, "the appends rolled a segment"

    logs = ks.segment_files(log_dir)
    indexes = ks.segment_files(log_dir, ".index") + ks.segment_files(log_dir, ".timeindex")
    # One run prints every record and checks every index entry against the log.
    dump = ks.dump_log_segments([*logs, *indexes], work_dir=kafka_tool_dir, verify_index_only=True)
    assert dump.problems == []
    records = [
        record for path in logs for batch in dump.file(path).batches for record in batch.records
    ]
    assert [r.offset for r in records] == list(range(RECORDS_PER_TOPIC + len(appended)))
    for record in records[RECORDS_PER_TOPIC:]:
        assert record.payload is not None
        assert record.payload.encode().startswith(appended[record.offset])
        if topic.timestamp_type == "LogAppendTime":
            assert record.timestamp == now_ms
    assert all(b.isvalid for path in logs for b in dump.file(path).batches)
    assert all(dump.file(path).invalid_trailing_bytes == 0 for path in logs)
    assert_indexes_pass_sanity_check(indexes, kafka_tool_dir)


def test_rebuilt_indexes_pass_kafkas_checks(
    topic: WrittenTopic, log_dir: Path, kafka_tool_dir: Path
) -> None:
    """Without Kafka's indexes ferrokafka rebuilds them; Kafka must find them sound."""
    for path in [*log_dir.glob("*.index"), *log_dir.glob("*.timeindex")]:
        path.unlink()
    config = LogConfig(index_interval_bytes=INDEX_INTERVAL_BYTES)
    with Log(str(log_dir), config) as log:
        assert log.log_end_offset == topic.high_watermark
        answers = {query: log.offset_for_timestamp(query) for query in topic.list_offsets}
        assert answers == topic.list_offsets
        for offset in range(0, topic.high_watermark, LOOKUP_STRIDE):
            batch = log.read_batches(offset, 1)[0]
            assert batch.base_offset <= offset <= batch.last_offset

    logs = ks.segment_files(log_dir)
    indexes = ks.segment_files(log_dir, ".index") + ks.segment_files(log_dir, ".timeindex")
    assert len(indexes) == 2 * len(logs), "an offset and a time index per segment"
    verified = ks.dump_log_segments(
        indexes, work_dir=kafka_tool_dir, print_data=False, verify_index_only=True
    )
    assert verified.problems == []
    assert_indexes_pass_sanity_check(indexes, kafka_tool_dir)
