"""The cleaner on a transactional compacted log, through the Python API (Kafka's LogCleaner
with KIP-98): aborted records go and do not shadow committed values of their keys, markers
stay while their transaction has data, the ``.txnindex`` keeps the entries of the markers that
stay, and nothing at or past ``max_offset`` (the LSO) is cleaned."""

from __future__ import annotations

import struct
from pathlib import Path

from ferrokafka._ferrokafka import clean_log
from ferrokafka.storage import BatchBuilder, Log, LogConfig, build_control_batch

TIMESTAMP_MS = 1_700_000_000_000
EPOCH = 2
ENTRY = struct.Struct(">hqqqq")


def compact_log(path: Path) -> Log:
    config = LogConfig(
        segment_bytes=4096,
        cleanup_policy=["compact"],
        delete_retention_ms=10_000,
        message_timestamp_after_max_ms=None,
        message_timestamp_before_max_ms=None,
    )
    return Log(path, config)


def write(log: Log, entries: list[tuple[bytes, bytes]], producer_id: int = -1) -> int:
    transactional = producer_id >= 0
    builder = BatchBuilder(
        producer_id=producer_id,
        producer_epoch=EPOCH if transactional else -1,
        base_sequence=0 if transactional else -1,
        is_transactional=transactional,
    )
    for key, value in entries:
        builder.append(value, key=key, timestamp=TIMESTAMP_MS)
    return log.append(builder.build()).first_offset


def end_txn(log: Log, producer_id: int, *, commit: bool) -> int:
    marker = build_control_batch(
        commit=commit,
        producer_id=producer_id,
        producer_epoch=EPOCH,
        timestamp=TIMESTAMP_MS,
        base_offset=log.log_end_offset,
    )
    return log.append_as_follower(marker).last_offset


def data_and_markers(log: Log) -> tuple[dict[int, bytes | None], dict[int, str]]:
    values: dict[int, bytes | None] = {}
    markers: dict[int, str] = {}
    for batch in log.read_batches(log.log_start_offset, 1 << 20):
        control = batch.control_record()
        if control is not None:
            markers[batch.base_offset] = control[0]
            continue
        for record in batch.records():
            values[record.offset] = record.value
    return values, markers


def test_aborted_records_go_and_the_txn_index_follows(tmp_path: Path) -> None:
    log = compact_log(tmp_path / "c-0")
    write(log, [(b"k0", b"committed"), (b"k1", b"committed")])  # 0..1
    first = write(log, [(b"k0", b"aborted"), (b"k1", b"aborted")], producer_id=7)  # 2..3
    abort = end_txn(log, 7, commit=False)  # 4
    log.append_aborted_txn(7, first, abort, first)
    write(log, [(b"k2", b"c")], producer_id=8)  # 5
    commit = end_txn(log, 8, commit=True)  # 6
    write(log, [(b"k3", b"plain")])  # 7
    log.roll()
    stats = clean_log(log, None, now_ms=TIMESTAMP_MS + 100)
    assert stats.records_read > stats.records_kept
    values, markers = data_and_markers(log)
    assert values == {0: b"committed", 1: b"committed", 5: b"c", 7: b"plain"}
    assert markers == {abort: "ABORT", commit: "COMMIT"}
    assert log.collect_aborted_txns(0, log.log_end_offset) == [(7, first)]
    txn_index = Path(log.dir) / f"{0:020d}.txnindex"
    assert txn_index.read_bytes() == ENTRY.pack(0, 7, first, abort, first)
    log.close()


def test_nothing_at_or_past_the_lso_is_cleaned(tmp_path: Path) -> None:
    log = compact_log(tmp_path / "c-0")
    write(log, [(b"k0", b"old")])  # 0
    open_first = write(log, [(b"k0", b"open")], producer_id=9)  # 1: undecided
    log.roll()
    clean_log(log, None, max_offset=open_first, now_ms=TIMESTAMP_MS + 100)
    assert data_and_markers(log)[0] == {0: b"old", 1: b"open"}
    # Aborted, the open transaction's record goes and the old value stays the latest.
    abort = end_txn(log, 9, commit=False)
    log.append_aborted_txn(9, open_first, abort, open_first)
    log.roll()
    clean_log(log, None, now_ms=TIMESTAMP_MS + 100)
    assert data_and_markers(log) == ({0: b"old"}, {abort: "ABORT"})
    log.close()
