"""The broker's log cleaner through LogManager: only compacted logs are cleaned, the dirtiest
first and only above min.cleanable.dirty.ratio; cleaner-offset-checkpoint is written and read
back after a restart; retention leaves compact-only logs alone but applies to compact,delete;
the periodic loop cleans under trio; keyless records are found for produce validation."""

import time
from pathlib import Path

import pytest
import trio

from ferrokafka._ferrokafka import clean_log, cleanable_info, keyless_record_indexes
from ferrokafka.storage import BatchBuilder, LogConfig
from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.checkpoints import TopicPartition
from ferrokafka.storage.cleaner import CLEANER_OFFSET_CHECKPOINT, CleanerSettings
from ferrokafka.storage.manager import LogManager, LogManagerSettings

KEYS = 10
ROUNDS = 8
PERIODIC_WAIT_S = 20  # bound on waiting for the background loop (it runs every 20 ms)


def compact_config(**kw) -> LogConfig:
    base = {
        "segment_bytes": 2048,
        "cleanup_policy": ["compact"],
        "retention_ms": 1,
        "min_cleanable_dirty_ratio": 0.1,
        "message_timestamp_after_max_ms": None,
        "message_timestamp_before_max_ms": None,
    }
    return LogConfig(**{**base, **kw})


def fill(log, keys: int = KEYS, rounds: int = ROUNDS, tombstone: bytes | None = None) -> None:
    now = int(time.time() * 1000)
    for r in range(rounds):
        b = BatchBuilder(compression="zstd")
        for k in range(keys):
            b.append(b"v%d-%d-" % (k, r) + b"x" * 40, key=b"k%d" % k, timestamp=now)
        log.append(b.build())
    if tombstone is not None:
        b = BatchBuilder()
        b.append(None, key=tombstone, timestamp=now)
        log.append(b.build())
    log.roll()


def records(log) -> list[tuple[int, bytes, bytes | None]]:
    return [
        (r.offset, r.key, r.value)
        for b in log.read_batches(log.log_start_offset, 1 << 24)
        for r in b.records()
    ]


def latest(recs) -> dict[bytes, tuple[int, bytes | None]]:
    return {k: (o, v) for o, k, v in recs}


def manager(tmp_path: Path, **kw) -> LogManager:
    s = LogManagerSettings((str(tmp_path / "d"),), **kw)
    topics = {
        "compacted": compact_config(),
        "both": compact_config(cleanup_policy=["compact", "delete"]),
    }
    return LogManager(s, LogConfig(segment_bytes=2048, retention_ms=1), topic_configs=topics)


def test_compacted_logs_are_cleaned_and_the_checkpoint_survives_a_restart(tmp_path: Path) -> None:
    m = manager(tmp_path)
    compacted = m.get_or_create_log("compacted", 0)
    plain = m.get_or_create_log("plain", 0)
    fill(compacted, tombstone=b"k3")
    fill(plain)
    before, plain_before = records(compacted), records(plain)
    size = compacted.size_in_bytes
    assert m.clean_logs() == 1
    after = records(compacted)
    assert latest(after) == latest(before)
    assert len(after) == KEYS  # one per key; k3's is its tombstone
    assert latest(after)[b"k3"][1] is None
    assert [o for o, _, _ in after] == sorted({o for o, _, _ in after})
    assert compacted.size_in_bytes < size
    assert records(plain) == plain_before  # delete policy: never compacted
    points = ckpt.read_offset_checkpoint(tmp_path / "d" / CLEANER_OFFSET_CHECKPOINT)
    assert points == {TopicPartition("compacted", 0): compacted.log_end_offset}
    assert m.clean_logs() == 0  # nothing dirty left
    # Retention: compact-only keeps its segments even with retention.ms=1.
    n = len(compacted.segments())
    assert m.cleanup_logs() >= 1  # the plain log's closed segments went
    assert len(compacted.segments()) == n
    m.shutdown()
    m = manager(tmp_path)
    assert (
        m.cleaner.checkpoint(TopicPartition("compacted", 0))
        == points[TopicPartition("compacted", 0)]
    )
    log = m.get_log("compacted", 0)
    assert records(log) == after
    assert m.clean_logs() == 0
    m.delete_log("compacted", 0)
    assert ckpt.read_offset_checkpoint(tmp_path / "d" / CLEANER_OFFSET_CHECKPOINT) == {}
    m.shutdown()


def test_compact_delete_also_runs_retention(tmp_path: Path) -> None:
    m = manager(tmp_path)
    log = m.get_or_create_log("both", 0)
    fill(log)
    assert m.clean_logs() == 1
    assert len(log.segments()) > 1
    m.cleanup_logs()
    assert len(log.segments()) == 1  # only the active segment is left
    m.shutdown()


def test_the_ratio_gates_and_the_dirtiest_goes_first(tmp_path: Path) -> None:
    m = manager(tmp_path)
    log = m.get_or_create_log("compacted", 0)
    fill(log)
    m.clean_logs()
    # A little dirt over a large clean section stays below a high ratio.
    m.update_config("compacted", compact_config(min_cleanable_dirty_ratio=0.99))
    fill(log, rounds=1)
    info = cleanable_info(log, m.cleaner.checkpoint(TopicPartition("compacted", 0)))
    assert 0 < info.dirty_ratio < 0.99
    assert m.clean_logs() == 0
    m.update_config("compacted", compact_config(min_cleanable_dirty_ratio=0.01))
    other = m.get_or_create_log("compacted", 1)
    fill(other)
    cleaned = m.cleaner.clean_filthiest(
        {tp: (lg, m.log_dir_of(*tp)) for tp, lg in m.all_logs().items()}
    )
    assert cleaned is not None and cleaned.tp == TopicPartition("compacted", 1)
    m.shutdown()


def test_the_periodic_loop_cleans(tmp_path: Path) -> None:
    m = manager(
        tmp_path,
        retention_check_interval_ms=10**9,
        cleaner=CleanerSettings(backoff_ms=20),
    )
    log = m.get_or_create_log("compacted", 0)
    fill(log)
    before = len(records(log))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(m.run)
            with trio.fail_after(PERIODIC_WAIT_S):
                while len(records(log)) == before:
                    await trio.sleep(0.02)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert len(records(log)) == KEYS
    m.shutdown()


def test_disabled_cleaner_starts_no_loop(tmp_path: Path) -> None:
    assert not CleanerSettings(enabled=False).active
    assert not CleanerSettings(threads=0).active
    assert CleanerSettings(dedupe_buffer_bytes=100, threads=2).dedupe_buffer_per_thread == 50


def test_clean_log_reports_and_a_tiny_buffer_fails(tmp_path: Path) -> None:
    m = manager(tmp_path)
    log = m.get_or_create_log("compacted", 0)
    for batch in range(4):  # 10 new keys a batch: the budget holds the first batch only
        b = BatchBuilder()
        for k in range(10):
            b.append(b"v", key=b"k%d" % (batch * 10 + k), timestamp=int(time.time() * 1000))
        log.append(b.build())
    fill(log, rounds=2)
    stats = clean_log(log, None, dedupe_buffer_bytes=600)
    assert (stats.keys_mapped, stats.end_offset) == (10, 10)
    try:
        clean_log(log, None, dedupe_buffer_bytes=10)
    except Exception as e:  # LogConfigError
        assert "dedupe.buffer.size" in str(e)
    else:
        raise AssertionError("a 10-byte dedupe buffer cannot work")
    stats = clean_log(log, None, dedupe_buffer_bytes=1 << 20)
    assert stats.end_offset == log.log_end_offset
    assert stats.records_kept < stats.records_read
    m.shutdown()


def test_keyless_record_indexes() -> None:
    b = BatchBuilder(compression="gzip")
    b.append(b"a", key=b"k")
    b.append(b"b")
    b.append(None, key=b"k2")
    b.append(b"c")
    assert keyless_record_indexes(b.build()) == [1, 3]


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_keyless_record_indexes_walk_compressed_batches_within_a_budget(codec: str) -> None:
    b = BatchBuilder(compression=codec)
    for i in range(2000):
        b.append(bytes(1000), key=None if i % 500 == 7 else b"k")
    batch = b.build()  # ~2 MB inflated
    assert keyless_record_indexes(batch, inflate_max=4 << 20) == [7, 507, 1007, 1507]
    if codec == "none":  # nothing to inflate: no budget
        assert keyless_record_indexes(batch, inflate_max=1 << 20) == [7, 507, 1007, 1507]
    else:
        with pytest.raises(BlockingIOError):
            keyless_record_indexes(batch, inflate_max=1 << 20)


def test_cleaning_stops_at_the_last_stable_offset(tmp_path: Path) -> None:
    m = manager(tmp_path)
    log = m.get_or_create_log("compacted", 0)
    fill(log)  # batches of KEYS records
    m.cleaner.stable_offset = lambda tp: 3 * KEYS
    assert m.clean_logs() == 1
    assert m.cleaner.checkpoint(TopicPartition("compacted", 0)) == 3 * KEYS
    after = records(log)
    # Nothing at or past the bound was compacted away.
    assert [o for o, _, _ in after if o >= 3 * KEYS] == list(range(3 * KEYS, ROUNDS * KEYS))
    m.cleaner.stable_offset = None
    assert m.clean_logs() == 1
    assert len(records(log)) == KEYS
    m.shutdown()
