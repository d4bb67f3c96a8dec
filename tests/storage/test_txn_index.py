"""The transaction index (``.txnindex``) through the Python face of the log: Kafka's 34-byte
``AbortedTxn`` entries on disk, the file created on the first aborted transaction, collect
over segments, refusals, and truncation and restarts keeping the file consistent."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ferrokafka.storage import (
    BatchBuilder,
    InvalidOffsetError,
    Log,
    LogConfig,
    build_control_batch,
)

# Kafka's AbortedTxn: version i16, producerId i64, firstOffset i64, lastOffset i64,
# lastStableOffset i64, big-endian.
ENTRY = struct.Struct(">hqqqq")
PRODUCER_EPOCH = 3
# Data and markers share a timestamp: a marker stamped "now" after data from long ago would
# roll the segment by age (segment.ms).
TIMESTAMP_MS = 1_700_000_000_000


def txn_index_path(log: Log, base_offset: int) -> Path:
    return Path(log.dir) / f"{base_offset:020d}.txnindex"


def write_aborted_txn(log: Log, producer_id: int, records: int) -> tuple[int, int]:
    """A transactional batch of ``records`` records, then its ABORT marker (appended as a
    follower appends what the leader wrote). Returns (first offset, marker offset)."""
    builder = BatchBuilder(
        producer_id=producer_id,
        producer_epoch=PRODUCER_EPOCH,
        base_sequence=0,
        is_transactional=True,
    )
    for i in range(records):
        builder.append(b"v%d" % i, key=b"k%d" % i, timestamp=TIMESTAMP_MS)
    first = log.append(builder.build()).first_offset
    marker = build_control_batch(
        commit=False,
        producer_id=producer_id,
        producer_epoch=PRODUCER_EPOCH,
        timestamp=TIMESTAMP_MS,
        base_offset=log.log_end_offset,
    )
    last = log.append_as_follower(marker).last_offset
    return first, last


def test_entries_are_kafkas_aborted_txn_bytes(tmp_path: Path) -> None:
    log = Log(tmp_path / "t-0", LogConfig())
    assert not txn_index_path(log, 0).exists()
    first_a, last_a = write_aborted_txn(log, 1000, 3)
    assert not txn_index_path(log, 0).exists(), "created on the first entry only"
    log.append_aborted_txn(1000, first_a, last_a, first_a)
    first_b, last_b = write_aborted_txn(log, 2**40 + 7, 2)
    log.append_aborted_txn(2**40 + 7, first_b, last_b, 1)
    data = txn_index_path(log, 0).read_bytes()
    assert data == ENTRY.pack(0, 1000, 0, 3, 0) + ENTRY.pack(0, 2**40 + 7, 4, 6, 1)
    assert log.collect_aborted_txns(0, log.log_end_offset) == [(1000, 0), (2**40 + 7, 4)]
    assert log.collect_aborted_txns(4, 5) == [(2**40 + 7, 4)]
    log.close()


def test_refusals_and_restarts(tmp_path: Path) -> None:
    log = Log(tmp_path / "t-0", LogConfig())
    first, last = write_aborted_txn(log, 1, 2)
    log.append_aborted_txn(1, first, last, first)
    with pytest.raises(InvalidOffsetError, match="not greater"):
        log.append_aborted_txn(2, first, last, first)
    with pytest.raises(InvalidOffsetError, match="outside the log"):
        log.append_aborted_txn(2, first, log.log_end_offset, first)
    log.roll()
    first2, last2 = write_aborted_txn(log, 2, 1)
    log.append_aborted_txn(2, first2, last2, first2)
    log.close()
    reopened = Log(tmp_path / "t-0", LogConfig(), recovery_point=last2 + 1)
    assert reopened.collect_aborted_txns(0, 100) == [(1, first), (2, first2)]
    assert reopened.last_aborted_txn_offset == last2
    # Truncation at the second marker removes its entry.
    reopened.truncate_to(last2)
    assert reopened.collect_aborted_txns(0, 100) == [(1, first)]
    reopened.truncate_to(last)
    assert reopened.collect_aborted_txns(0, 100) == []
    assert txn_index_path(reopened, 0).read_bytes() == b""
    assert reopened.last_aborted_txn_offset is None
    reopened.truncate_fully(50)
    assert not txn_index_path(reopened, 0).exists()
    reopened.close()
