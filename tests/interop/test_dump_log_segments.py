"""Apache Kafka's DumpLogSegments reads logs written by ferrokafka, and agrees with ferrokafka.

ferrokafka writes a partition log the way a leader does: BatchBuilder batches in every codec
with keys, null keys and values, headers (null values too) and explicit timestamps; an
idempotent producer; two transactions ended by a COMMIT and an ABORT control batch
(build_control_batch, appended as a follower appends what a leader assigned); segments rolled by
size and by ``roll()``. After ``close()``, Kafka's tool reads every .log: the same batches (base
and last offsets, record counts, CRCs equal to RecordBatch.crc, isvalid), the same records; and
every .index / .timeindex passes Kafka's start-up sanity check and its entry-by-entry
verification against the log.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import kafka_support as ks
from ferrokafka.storage import (
    BatchBuilder,
    Log,
    LogConfig,
    RecordBatch,
    build_control_batch,
)
from kafka_support.workload import CODECS, Headers, workload_records

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SEGMENT_BYTES = 16 * 1024
INDEX_INTERVAL_BYTES = 1024
BATCHES_PER_CODEC = 4
RECORDS_PER_BATCH = 15
TXN_PRODUCER_ID = 5000
TXN_PRODUCER_EPOCH = 1
TXN_COORDINATOR_EPOCH = 7
IDEMPOTENT_PRODUCER_ID = 4000
LEADER_EPOCH = 0
SEGMENT_FILE_NAME = re.compile(r"\d{20}\.log")


@dataclass
class FerrokafkaLog:
    """A log ferrokafka wrote and closed, and what it wrote."""

    dir: Path
    batches: list[RecordBatch]
    """ferrokafka's view of every batch, read back before closing."""
    segment_base_offsets: list[int]
    records: dict[int, tuple[bytes | None, bytes | None, Headers, int]]
    """Offset -> (key, value, headers, timestamp) of every data record."""
    markers: dict[int, tuple[str, int]]
    """Offset -> (COMMIT | ABORT, coordinator epoch) of every control record."""

    def segment_files(self, suffix: str = ".log") -> list[Path]:
        return ks.segment_files(self.dir, suffix)


class _Writer:
    """Appends to a ferrokafka log and remembers what each offset should hold."""

    def __init__(self, log: Log, base_timestamp: int) -> None:
        self.log = log
        self.base_timestamp = base_timestamp
        self.records: dict[int, tuple[bytes | None, bytes | None, Headers, int]] = {}
        self.markers: dict[int, tuple[str, int]] = {}

    def batch(self, name: str, count: int, **builder_options: object) -> None:
        builder = BatchBuilder(**builder_options)  # type: ignore[arg-type]
        records = workload_records(name, count, self.base_timestamp)
        for key, value, headers, timestamp in records:
            builder.append(value, key=key, headers=headers, timestamp=timestamp)
        info = self.log.append(builder.build(), leader_epoch=LEADER_EPOCH)
        assert (info.first_offset, info.record_count) == (info.last_offset - count + 1, count)
        for delta, record in enumerate(records):
            self.records[info.first_offset + delta] = record

    def marker(self, *, commit: bool) -> None:
        offset = self.log.log_end_offset
        control = build_control_batch(
            commit=commit,
            producer_id=TXN_PRODUCER_ID,
            producer_epoch=TXN_PRODUCER_EPOCH,
            coordinator_epoch=TXN_COORDINATOR_EPOCH,
            timestamp=self.base_timestamp,
            base_offset=offset,
            partition_leader_epoch=LEADER_EPOCH,
        )
        self.log.append_as_follower(control)
        self.markers[offset] = ("COMMIT" if commit else "ABORT", TXN_COORDINATOR_EPOCH)


@pytest.fixture(scope="module")
def ferro_log(tmp_path_factory: pytest.TempPathFactory) -> FerrokafkaLog:
    log_dir = tmp_path_factory.mktemp("ferrokafka-written") / "written-0"
    config = LogConfig(segment_bytes=SEGMENT_BYTES, index_interval_bytes=INDEX_INTERVAL_BYTES)
    # Ten minutes back: inside the default message.timestamp.*.max.ms bounds.
    base_timestamp = int(time.time() * 1000) - 600_000
    with Log(str(log_dir), config) as log:
        writer = _Writer(log, base_timestamp)
        for codec_index, codec in enumerate(CODECS):
            for batch_index in range(BATCHES_PER_CODEC):
                writer.batch(f"{codec}-{batch_index}", RECORDS_PER_BATCH, compression=codec)
            if codec_index == 1:
                log.roll()  # a roll that size did not ask for
        for batch_index in range(3):
            writer.batch(
                f"idempotent-{batch_index}",
                RECORDS_PER_BATCH,
                compression="zstd",
                producer_id=IDEMPOTENT_PRODUCER_ID,
                producer_epoch=0,
                base_sequence=batch_index * RECORDS_PER_BATCH,
            )
        transactional = {
            "producer_id": TXN_PRODUCER_ID,
            "producer_epoch": TXN_PRODUCER_EPOCH,
            "is_transactional": True,
        }
        writer.batch("txn-committed", 10, compression="lz4", base_sequence=0, **transactional)
        writer.marker(commit=True)
        writer.batch("txn-aborted", 5, compression="snappy", base_sequence=10, **transactional)
        writer.marker(commit=False)
        writer.batch("after-markers", RECORDS_PER_BATCH, compression="gzip")

        batches = read_all(log)
        segment_base_offsets = [segment.base_offset for segment in log.segments()]
    return FerrokafkaLog(log_dir, batches, segment_base_offsets, writer.records, writer.markers)


def read_all(log: Log) -> list[RecordBatch]:
    """Every batch from the log start to the log end (a read may stop at a segment's end)."""
    batches: list[RecordBatch] = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        got = log.read_batches(offset)
        assert got, f"read_batches({offset}) returned nothing below the log end"
        batches.extend(got)
        offset = got[-1].next_offset
    return batches


@pytest.fixture(scope="module")
def kafka_dump(ferro_log: FerrokafkaLog, kafka_tool_dir: Path) -> ks.DumpResult:
    return ks.dump_log_segments(ferro_log.segment_files(), work_dir=kafka_tool_dir)


def dumped_batches(ferro_log: FerrokafkaLog, dump: ks.DumpResult) -> list[ks.DumpedBatch]:
    return [b for path in ferro_log.segment_files() for b in dump.file(path).batches]


def text(data: bytes | None) -> str | None:
    """What DumpLogSegments' default StringDecoder prints for ``data`` (UTF-8)."""
    return None if data is None else data.decode()


def test_the_log_has_every_kind_of_batch(ferro_log: FerrokafkaLog) -> None:
    assert {b.compression for b in ferro_log.batches} == set(CODECS)
    assert any(b.is_transactional and not b.is_control for b in ferro_log.batches)
    assert sorted(kind for kind, _ in ferro_log.markers.values()) == ["ABORT", "COMMIT"]
    assert len(ferro_log.segment_base_offsets) >= 3
    assert len(ferro_log.batches) >= 2 * len(ferro_log.segment_base_offsets)


def test_segment_files_are_named_as_kafka_names_them(ferro_log: FerrokafkaLog) -> None:
    files = ferro_log.segment_files()
    every_log = sorted(path.name for path in ferro_log.dir.glob("*.log"))
    assert every_log == [path.name for path in files]
    assert all(SEGMENT_FILE_NAME.fullmatch(name) for name in every_log)
    assert [int(path.name[:20]) for path in files] == ferro_log.segment_base_offsets
    for suffix in (".index", ".timeindex"):
        assert [p.name[:20] for p in ferro_log.segment_files(suffix)] == [
            p.name[:20] for p in files
        ]


def test_kafka_reports_no_problems(kafka_dump: ks.DumpResult) -> None:
    assert kafka_dump.problems == []


def test_kafka_reads_every_batch_as_written(
    ferro_log: FerrokafkaLog, kafka_dump: ks.DumpResult
) -> None:
    files = ferro_log.segment_files()
    for path, base_offset in zip(files, ferro_log.segment_base_offsets, strict=True):
        dumped = kafka_dump.file(path)
        assert dumped.start_offset == base_offset
        assert dumped.invalid_trailing_bytes == 0
        assert sum(b.size for b in dumped.batches) == path.stat().st_size
        positions = [b.position for b in dumped.batches]
        assert positions == [sum(b.size for b in dumped.batches[:i]) for i in range(len(positions))]

    theirs_all = dumped_batches(ferro_log, kafka_dump)
    assert len(theirs_all) == len(ferro_log.batches)
    for ours, theirs in zip(ferro_log.batches, theirs_all, strict=True):
        assert theirs.isvalid
        assert (theirs.base_offset, theirs.last_offset) == (ours.base_offset, ours.last_offset)
        assert theirs.count == ours.record_count
        assert theirs.crc == ours.crc
        assert theirs.magic == ours.magic == 2
        assert theirs.size == ours.size_in_bytes
        assert theirs.compresscodec == ours.compression
        assert theirs.timestamp_type == ours.timestamp_type
        assert theirs.max_timestamp == ours.max_timestamp
        assert theirs.partition_leader_epoch == ours.partition_leader_epoch == LEADER_EPOCH
        assert (theirs.producer_id, theirs.producer_epoch) == (
            ours.producer_id,
            ours.producer_epoch,
        )
        assert theirs.base_sequence == ours.base_sequence
        assert theirs.is_transactional == ours.is_transactional
        assert theirs.is_control == ours.is_control


def test_kafka_reads_every_record_as_written(
    ferro_log: FerrokafkaLog, kafka_dump: ks.DumpResult
) -> None:
    offsets = []
    for batch in dumped_batches(ferro_log, kafka_dump):
        for record in batch.records:
            offsets.append(record.offset)
            expected_sequence = (
                -1
                if batch.base_sequence < 0
                else batch.base_sequence + record.offset - batch.base_offset
            )
            assert record.sequence == expected_sequence
            if batch.is_control:
                assert record.control == ferro_log.markers[record.offset]
                continue
            key, value, headers, timestamp = ferro_log.records[record.offset]
            assert record.timestamp == timestamp
            assert record.key_size == (-1 if key is None else len(key))
            assert record.value_size == (-1 if value is None else len(value))
            assert record.key == text(key)
            assert record.payload == text(value)
            assert record.header_keys == [name for name, _ in headers]
            assert record.control is None
    assert offsets == list(range(len(ferro_log.records) + len(ferro_log.markers)))


def test_indexes_pass_kafkas_sanity_check(ferro_log: FerrokafkaLog, kafka_tool_dir: Path) -> None:
    indexes = ferro_log.segment_files(".index") + ferro_log.segment_files(".timeindex")
    checked = ks.dump_log_segments(
        indexes, work_dir=kafka_tool_dir, print_data=False, index_sanity_check=True
    )
    assert checked.problems == []
    for path in indexes:
        dumped = checked.file(path)
        assert dumped.sanity_check_passed or dumped.is_empty, path


def test_index_entries_agree_with_the_log_for_kafka(
    ferro_log: FerrokafkaLog, kafka_tool_dir: Path
) -> None:
    indexes = ferro_log.segment_files(".index") + ferro_log.segment_files(".timeindex")
    verified = ks.dump_log_segments(
        indexes, work_dir=kafka_tool_dir, print_data=False, verify_index_only=True
    )
    assert verified.problems == []

    listed = ks.dump_log_segments(indexes, work_dir=kafka_tool_dir, print_data=False)
    assert listed.problems == []
    offset_entries = [listed.file(p).index_entries for p in ferro_log.segment_files(".index")]
    assert sum(map(len, offset_entries)) > 0, "index.interval.bytes=1024 should index something"
    for entries in offset_entries:
        assert entries == sorted(set(entries)), "offsets and positions strictly increase"
    for path in ferro_log.segment_files(".timeindex"):
        entries = listed.file(path).index_entries
        timestamps = [timestamp for timestamp, _ in entries]
        assert timestamps == sorted(set(timestamps)), "time index timestamps strictly increase"
