"""Batch headers from the native parser: read_batch_header on any byte buffer (fields as
stored, only a short buffer refused), BatchHeader's fields and CRC check, Log.batch_header_at,
and the producer fields an append reports in its AppendInfo."""

import struct
from pathlib import Path

import pytest

from ferrokafka.storage import (
    BatchBuilder,
    BatchHeader,
    CorruptRecordError,
    Log,
    LogClosedError,
    LogConfig,
    UnsupportedCompressionError,
    build_control_batch,
    decode_batches,
    read_batch_header,
)

TS = 1_700_000_000_000
INT_MAX = 2**31 - 1


def batch(
    n: int = 3,
    *,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    transactional: bool = False,
    compression: str = "none",
    ts: int = TS,
) -> bytes:
    b = BatchBuilder(
        compression=compression,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        is_transactional=transactional,
    )
    for i in range(n):
        b.append(b"v%d" % i, key=b"k", timestamp=ts + i)
    return b.build()


def test_fields_match_the_batch_decoder() -> None:
    data = batch(4, producer_id=42, producer_epoch=3, base_sequence=7, compression="gzip")
    h = read_batch_header(data)
    (full,) = decode_batches(data)
    for name in (
        "base_offset",
        "partition_leader_epoch",
        "magic",
        "crc",
        "attributes",
        "compression",
        "timestamp_type",
        "is_transactional",
        "is_control",
        "last_offset_delta",
        "last_offset",
        "base_timestamp",
        "max_timestamp",
        "producer_id",
        "producer_epoch",
        "base_sequence",
        "record_count",
        "size_in_bytes",
    ):
        assert getattr(h, name) == getattr(full, name), name
    assert (h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence) == (42, 3, 7, 10)
    assert (h.compression, h.record_count, h.last_offset_delta) == ("gzip", 4, 3)
    assert h.batch_length == len(data) - 12 == h.size_in_bytes - 12
    assert (h.base_timestamp, h.max_timestamp) == (TS, TS + 3)
    assert BatchHeader.SIZE == 61
    assert "producer_id=42" in repr(h)


def test_flags_and_no_producer() -> None:
    plain = read_batch_header(batch())
    assert (plain.producer_id, plain.base_sequence, plain.last_sequence) == (-1, -1, -1)
    assert not plain.is_transactional and not plain.is_control
    txn = read_batch_header(
        batch(producer_id=9, producer_epoch=0, base_sequence=0, transactional=True)
    )
    assert txn.is_transactional and not txn.is_control
    marker = read_batch_header(
        build_control_batch(commit=True, producer_id=9, producer_epoch=2, timestamp=TS)
    )
    assert marker.is_control and marker.is_transactional
    assert (marker.producer_id, marker.producer_epoch) == (9, 2)


def test_last_sequence_wraps_after_int_max() -> None:
    h = read_batch_header(batch(3, producer_id=1, producer_epoch=0, base_sequence=INT_MAX - 1))
    assert h.last_sequence == 0  # INT_MAX - 1, INT_MAX, 0


@pytest.mark.parametrize("kind", ["bytes", "memoryview", "readonly view", "bytearray", "slice"])
def test_reads_any_byte_buffer_in_place(kind: str) -> None:
    data = batch(producer_id=5, producer_epoch=1, base_sequence=3)
    frame = b"\x00" * 7 + data + b"tail"
    records = {
        "bytes": data,
        "memoryview": memoryview(data),
        # What the Produce path passes: a read-only view into a request frame.
        "readonly view": memoryview(frame).toreadonly()[7 : 7 + len(data)],
        "bytearray": bytearray(data),
        "slice": memoryview(frame)[7:],
    }[kind]
    h = read_batch_header(records)
    assert (h.producer_id, h.base_sequence, h.size_in_bytes) == (5, 3, len(data))
    assert h.crc_valid(records)


def test_non_contiguous_buffers_are_read_too() -> None:
    data = batch(producer_id=5, producer_epoch=1, base_sequence=3)
    doubled = bytes(b for x in data for b in (x, 0))
    strided = memoryview(doubled)[::2]
    assert not strided.c_contiguous
    h = read_batch_header(strided)
    assert h.producer_id == 5
    assert h.crc_valid(strided)


def test_short_buffers_raise_corrupt_record_error() -> None:
    data = batch()
    for n in (0, 1, 12, 60):
        with pytest.raises(CorruptRecordError, match=f"{n} bytes is shorter than a batch header"):
            read_batch_header(data[:n])
    assert read_batch_header(data[:61]).record_count == 3  # a header is all it needs


def test_fields_are_reported_as_stored_without_judging_them() -> None:
    """Magic, lengths and codec are the caller's (or the log's) to judge."""
    data = bytearray(batch())
    data[16] = 1  # magic
    struct.pack_into(">i", data, 8, 5)  # batchLength below a header's
    struct.pack_into(">h", data, 21, 7)  # codec id 7
    h = read_batch_header(data)
    assert (h.magic, h.batch_length, h.size_in_bytes) == (1, 5, 17)
    with pytest.raises(UnsupportedCompressionError):
        _ = h.compression
    assert not h.crc_valid(data)


def test_crc_valid_hashes_the_batch_only() -> None:
    data = batch(20)
    h = read_batch_header(data)
    assert h.crc_valid(data)
    assert h.crc_valid(data + b"trailing bytes are not the batch's")
    assert not h.crc_valid(data[:-1])  # cut short
    damaged = bytearray(data)
    damaged[-1] ^= 0xFF
    assert not h.crc_valid(damaged)
    # Offset and leader epoch lie outside the CRC.
    stamped = bytearray(data)
    struct.pack_into(">qii", stamped, 0, 99, len(data) - 12, 4)
    assert h.crc_valid(stamped)


def test_crc_valid_on_a_large_read_only_buffer() -> None:
    """Above a few KiB the CRC runs without the GIL (read-only buffers only)."""
    b = BatchBuilder()
    for _ in range(64):
        b.append(b"x" * 1000, timestamp=TS)
    data = b.build()
    view = memoryview(data)
    h = read_batch_header(view)
    assert h.crc_valid(view)
    writable = bytearray(data)
    assert h.crc_valid(writable)
    writable[-1] ^= 1
    assert not h.crc_valid(writable)


def test_log_batch_header_at(tmp_path: Path) -> None:
    log = Log(str(tmp_path / "t-0"), LogConfig(index_interval_bytes=1))
    for epoch in range(4):
        log.append(batch(3, ts=TS + 10 * epoch), leader_epoch=epoch)
        if epoch == 1:
            log.roll()
    for offset in range(12):
        h = log.batch_header_at(offset)
        assert h is not None
        first = offset // 3 * 3
        assert (h.base_offset, h.last_offset, h.record_count) == (first, first + 2, 3)
        assert h.partition_leader_epoch == offset // 3
        assert h.max_timestamp == TS + 10 * (offset // 3) + 2
    assert log.batch_header_at(12) is None
    assert log.batch_header_at(-1) is None
    log.advance_log_start_offset(4)
    assert log.batch_header_at(3) is None
    header = log.batch_header_at(4)
    assert header is not None and header.base_offset == 3
    log.close()
    with pytest.raises(LogClosedError):
        log.batch_header_at(5)


def test_append_info_reports_the_batch_producer(tmp_path: Path) -> None:
    log = Log(str(tmp_path / "t-0"))
    info = log.append(batch(4, producer_id=77, producer_epoch=2, base_sequence=10))
    assert (info.producer_id, info.producer_epoch) == (77, 2)
    assert (info.base_sequence, info.last_sequence) == (10, 13)
    assert not info.is_transactional and not info.is_control
    plain = log.append(batch(2))
    assert (plain.producer_id, plain.producer_epoch, plain.base_sequence) == (-1, -1, -1)
    assert plain.last_sequence == -1
    txn = log.append(batch(1, producer_id=8, producer_epoch=0, base_sequence=0, transactional=True))
    assert txn.is_transactional and not txn.is_control
    # A follower append reports the (last) batch it wrote, as the leader stamped it.
    follower = Log(str(tmp_path / "f-0"))
    data = log.read(0, 1 << 20).read()
    appended = follower.append_as_follower(data)
    assert (appended.batch_count, appended.producer_id, appended.is_transactional) == (3, 8, True)


def test_append_info_of_a_recompressed_batch_keeps_the_producer(tmp_path: Path) -> None:
    log = Log(str(tmp_path / "t-0"), LogConfig(compression_type="zstd"))
    info = log.append(batch(5, producer_id=3, producer_epoch=1, base_sequence=20))
    assert (info.producer_id, info.producer_epoch, info.base_sequence, info.last_sequence) == (
        3,
        1,
        20,
        24,
    )
    h = log.batch_header_at(0)
    assert h is not None and h.compression == "zstd" and h.producer_id == 3
