"""The quorum's log over the native Log: batches, epochs, truncation, and a reopen that finds
the same records and epochs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferrokafka.cluster.raft.log import (
    LeaderChange,
    OffsetAndEpoch,
    truncate_to_end_offset,
    validate_offset_and_epoch,
)
from ferrokafka.cluster.raft.memory import MemoryRaftLog
from ferrokafka.cluster.raft.native_log import NativeLogError, NativeRaftLog
from ferrokafka.storage import decode_batches
from ferrokafka.storage.checkpoints import read_leader_epoch_checkpoint

CHANGE = LeaderChange(1, (1, 2, 3), (1, 2))


def _fill(log: NativeRaftLog) -> None:
    log.append_as_leader([CHANGE], 1)  # 0
    log.append_as_leader([b"a", b"b"], 1)  # 1-2
    log.append_as_leader([CHANGE], 3)  # 3
    log.append_as_leader([b"c"], 3)  # 4
    log.append_as_leader([b"d", b"e", b"f"], 4)  # 5-7


def test_appends_are_batches_with_epochs(tmp_path: Path) -> None:
    log = NativeRaftLog(tmp_path)
    _fill(log)
    assert log.end_offset() == 8 and log.last_fetched_epoch() == 4
    assert [tuple(e) for e in log.epochs] == [(1, 0), (3, 3), (4, 5)]
    assert read_leader_epoch_checkpoint(log.dir / "leader-epoch-checkpoint") == log.epochs
    assert (log.dir / "partition.metadata").read_text() == (
        "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ"
    )
    records = log.read(0, 1 << 20)
    assert [(r.offset, r.epoch, r.value) for r in records] == [
        (0, 1, CHANGE),
        (1, 1, b"a"),
        (2, 1, b"b"),
        (3, 3, CHANGE),
        (4, 3, b"c"),
        (5, 4, b"d"),
        (6, 4, b"e"),
        (7, 4, b"f"),
    ]
    batches = list(log.batches(0, 8))
    assert [(b.base_offset, b.last_offset, b.epoch, b.is_control) for b in batches] == [
        (0, 0, 1, True),
        (1, 2, 1, False),
        (3, 3, 3, True),
        (4, 4, 3, False),
        (5, 7, 4, False),
    ]
    # A batch that reaches past the high watermark is not committed yet.
    assert [b.base_offset for b in log.batches(0, 6)] == [0, 1, 3, 4]
    log.close()


def test_end_offset_for_epoch_matches_the_memory_log(tmp_path: Path) -> None:
    log = NativeRaftLog(tmp_path)
    _fill(log)
    memory = MemoryRaftLog()
    for batch in log.batches(0, 8):
        memory.append_as_leader(list(batch.values), batch.epoch)
    for epoch in range(0, 6):
        assert log.end_offset_for_epoch(epoch) == memory.end_offset_for_epoch(epoch), epoch
    assert log.end_offset_for_epoch(2) == OffsetAndEpoch(3, 1)
    assert validate_offset_and_epoch(log, 5, 3) == ("valid", OffsetAndEpoch(5, 3))
    assert validate_offset_and_epoch(log, 6, 3)[0] == "diverging"
    log.close()


def test_follower_keeps_the_leaders_batches(tmp_path: Path) -> None:
    leader = NativeRaftLog(tmp_path / "leader")
    _fill(leader)
    follower = NativeRaftLog(tmp_path / "follower")
    offset = 0
    while offset < leader.end_offset():
        records = leader.read(offset, 1)  # one batch at a time
        follower.append_as_follower(records)
        offset = follower.end_offset()
    assert follower.epochs == leader.epochs
    raw = [
        b.data for b in {r.batch.base_offset: r.batch for r in follower.read(0, 1 << 20)}.values()
    ]
    assert raw == [
        b.data for b in {r.batch.base_offset: r.batch for r in leader.read(0, 1 << 20)}.values()
    ]
    with pytest.raises(NativeLogError):
        follower.append_as_follower(leader.read(0, 1))  # out of order
    leader.close()
    follower.close()


def test_truncate_and_reopen(tmp_path: Path) -> None:
    log = NativeRaftLog(tmp_path)
    _fill(log)
    # The leader says epoch 3 ends at 4: cut the follower's log there.
    assert truncate_to_end_offset(log, OffsetAndEpoch(4, 3)) == 4
    assert log.end_offset() == 4 and [tuple(e) for e in log.epochs] == [(1, 0), (3, 3)]
    log.append_as_leader([b"x"], 5)
    log.flush()
    before = log.read(0, 1 << 20)
    log.close()
    again = NativeRaftLog(tmp_path)
    assert again.read(0, 1 << 20) == before
    assert [tuple(e) for e in again.epochs] == [(1, 0), (3, 3), (5, 4)]
    assert again.last_fetched_epoch() == 5 and again.end_offset() == 5
    with open(again.dir / "00000000000000000000.log", "rb") as f:
        assert decode_batches(f.read())[-1].partition_leader_epoch == 5
    with pytest.raises(NativeLogError):
        again.append_as_leader([b"y"], 4)  # epochs never go back
    again.close()
