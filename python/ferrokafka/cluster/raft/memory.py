"""An in-memory :class:`~ferrokafka.cluster.raft.log.RaftLog` that can crash.

It keeps what a disk would: the records as of the last :meth:`MemoryRaftLog.flush` (durable)
beside the records now (volatile). :meth:`MemoryRaftLog.crash` throws away what was never
flushed, the way a machine losing power does, so the simulation can restart a node with
exactly what it persisted. Two ways to lose data, both legal for a real disk:

- ``revert``: back to the last flushed state, as if no write since reached the platter;
- ``keep_prefix``: some unflushed appends made it (page-cache writeback) — a prefix of the
  current records at least as long as the part they share with the flushed state.

Snapshots: the simulation's state machine is the log itself, so a snapshot of ``end offset``
is the committed records below it, encoded with :func:`encode_snapshot` (a test-only pickle;
the native log's snapshots are metadata snapshot files), with the KRaft control values the
snapshot's writer gives it (the kraft.version and voter set at its end, as the header of a
native snapshot holds them). Snapshots and prefix deletion are
durable at once (a snapshot file is fsynced before it counts; a deleted segment stays
deleted), so a crash keeps them.

Used by the simulation and the unit tests; the broker wraps the native Log instead.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from random import Random

from ferrokafka.cluster.raft.log import (
    LeaderChange,
    OffsetAndEpoch,
    Record,
    SnapshotInstallError,
    end_offset_for_epoch,
)

CONTROL_RECORD_BYTES = 64  # what a LeaderChange record is assumed to weigh in a fetch
SNAPSHOT_MAGIC = b"memsnap2"


def encode_snapshot(records: Sequence[Record], control: Sequence[object] = ()) -> bytes:
    """A memory snapshot: the records it covers, (offset, epoch, value) each, and its KRaft
    control values (``RaftLog.snapshot_control_values``)."""
    entries = tuple((r.offset, r.epoch, r.value) for r in records)
    return SNAPSHOT_MAGIC + pickle.dumps((entries, tuple(control)), protocol=4)


def decode_snapshot(
    snapshot_id: OffsetAndEpoch, data: bytes
) -> tuple[tuple[Record, ...], tuple[object, ...]]:
    """The records and control values of a memory snapshot; SnapshotInstallError unless it
    covers exactly [0, end offset) and its last record has the snapshot's epoch."""
    if not data.startswith(SNAPSHOT_MAGIC):
        raise SnapshotInstallError(f"snapshot {snapshot_id}: not a memory snapshot")
    try:
        entries, control = pickle.loads(data[len(SNAPSHOT_MAGIC) :])
    except Exception as exc:
        raise SnapshotInstallError(f"snapshot {snapshot_id}: {exc}") from None
    records = tuple(Record(o, e, v) for o, e, v in entries)
    if [r.offset for r in records] != list(range(snapshot_id.offset)):
        raise SnapshotInstallError(f"snapshot {snapshot_id}: does not cover its offsets")
    if records and records[-1].epoch != snapshot_id.epoch:
        raise SnapshotInstallError(f"snapshot {snapshot_id}: last epoch {records[-1].epoch}")
    return records, tuple(control)


class MemoryRaftLog:
    """Records from :attr:`start` on, an epoch index ((epoch, start offset) pairs, ascending)
    and snapshots by id."""

    def __init__(self, records: Sequence[Record] = ()) -> None:
        self.start = 0
        self.records: list[Record] = list(records)
        self._epochs: list[tuple[int, int]] = []
        self._rebuild_epochs()
        self.durable: list[Record] = list(self.records)
        # Length of the prefix that volatile and durable records certainly share.
        self._stable = len(self.records)
        self.flushes = 0
        self.snapshots: dict[OffsetAndEpoch, bytes] = {}
        self._snapshot_records: dict[OffsetAndEpoch, tuple[Record, ...]] = {}
        self._snapshot_control: dict[OffsetAndEpoch, tuple[object, ...]] = {}

    # --- RaftLog ---------------------------------------------------------------------------

    def start_offset(self) -> int:
        return self.start

    def end_offset(self) -> int:
        return self.start + len(self.records)

    def last_fetched_epoch(self) -> int:
        if self.records:
            return self.records[-1].epoch
        latest = self.latest_snapshot_id()
        # An empty log that starts at a snapshot: the snapshot's epoch (KafkaMetadataLog).
        return latest.epoch if latest is not None and latest.offset == self.start else 0

    def end_offset_for_epoch(self, epoch: int) -> OffsetAndEpoch:
        end = OffsetAndEpoch(self.end_offset(), self.last_fetched_epoch())
        return end_offset_for_epoch(self._epochs, epoch, end, self.earliest_snapshot_id())

    def append_as_leader(self, values: Sequence[bytes | LeaderChange], epoch: int) -> int:
        if not values:
            raise ValueError("nothing to append")
        if epoch < self.last_fetched_epoch():
            raise ValueError(f"epoch {epoch} is below the log's last {self.last_fetched_epoch()}")
        base = self.end_offset()
        self._note_epoch(epoch, base)
        self.records.extend(Record(base + i, epoch, v) for i, v in enumerate(values))
        return self.end_offset() - 1

    def append_as_follower(self, records: Sequence[Record]) -> None:
        expected = self.end_offset()
        for record in records:
            if record.offset != expected:
                raise ValueError(f"record at {record.offset}, expected {expected}")
            if record.epoch < self.last_fetched_epoch():
                raise ValueError(f"epoch {record.epoch} goes back from {self.last_fetched_epoch()}")
            self._note_epoch(record.epoch, record.offset)
            self.records.append(record)
            expected += 1

    def read(self, offset: int, max_bytes: int) -> tuple[Record, ...]:
        if offset < self.start:
            raise ValueError(f"read at {offset} below the log start {self.start}")
        if offset >= self.end_offset():
            return ()
        out: list[Record] = []
        size = 0
        for record in self.records[offset - self.start :]:
            weight = len(record.value) if isinstance(record.value, bytes) else CONTROL_RECORD_BYTES
            if out and size + weight > max_bytes:
                break
            out.append(record)
            size += weight
        return tuple(out)

    def truncate_to(self, offset: int) -> None:
        if offset < self.start:
            raise ValueError(f"truncation offset {offset} below the log start {self.start}")
        if offset >= self.end_offset():
            return
        del self.records[offset - self.start :]
        self._stable = min(self._stable, offset - self.start)
        while self._epochs and self._epochs[-1][1] >= offset:
            self._epochs.pop()

    def flush(self) -> None:
        self.flushes += 1
        if self._stable == len(self.durable) == len(self.records):
            return
        del self.durable[self._stable :]
        self.durable.extend(self.records[self._stable :])
        self._stable = len(self.records)

    # --- snapshots -------------------------------------------------------------------------

    def latest_snapshot_id(self) -> OffsetAndEpoch | None:
        return max(self.snapshots) if self.snapshots else None

    def earliest_snapshot_id(self) -> OffsetAndEpoch | None:
        return min(self.snapshots) if self.snapshots else None

    def snapshot_size(self, snapshot_id: OffsetAndEpoch) -> int | None:
        data = self.snapshots.get(snapshot_id)
        return None if data is None else len(data)

    def read_snapshot(self, snapshot_id: OffsetAndEpoch, position: int, max_bytes: int) -> bytes:
        return self.snapshots[snapshot_id][position : position + max_bytes]

    def snapshot_control_values(self, snapshot_id: OffsetAndEpoch) -> tuple[object, ...]:
        return self._snapshot_control.get(snapshot_id, ())

    def install_snapshot(self, snapshot_id: OffsetAndEpoch, data: bytes) -> bool:
        records, control = decode_snapshot(snapshot_id, data)
        self.snapshots[snapshot_id] = data
        self._snapshot_records[snapshot_id] = records
        self._snapshot_control[snapshot_id] = control
        last_epoch = self.last_fetched_epoch()
        if snapshot_id.epoch > last_epoch or (
            snapshot_id.epoch == last_epoch and snapshot_id.offset > self.end_offset()
        ):
            self.start = snapshot_id.offset
            self.records, self.durable, self._stable = [], [], 0
            self._epochs = []
            self._forget_snapshots_before(snapshot_id)
            return True
        return False

    def create_snapshot(self, end_offset: int, control: Sequence[object] = ()) -> OffsetAndEpoch:
        """Snapshot the records below ``end_offset`` (a committed, flushed offset; the
        simulation's snapshot generator): what a state machine's snapshot would hold, with
        ``control``, the KRaft control values in force at its end (the replica's
        ``history.control_values_at(end_offset - 1)``, as Kafka's snapshot writer asks)."""
        if not self.start < end_offset <= self.start + len(self.durable):
            raise ValueError(f"snapshot at {end_offset} outside the flushed log")
        below = self.records_below(end_offset)
        snapshot_id = OffsetAndEpoch(end_offset, below[-1].epoch)
        if snapshot_id not in self.snapshots:
            self.snapshots[snapshot_id] = encode_snapshot(below, control)
            self._snapshot_records[snapshot_id] = below
            self._snapshot_control[snapshot_id] = tuple(control)
        return snapshot_id

    def delete_before_snapshot(self, snapshot_id: OffsetAndEpoch) -> bool:
        """Kafka's ``deleteBeforeSnapshot``: move the log start up to ``snapshot_id`` (a kept
        snapshot) and forget older snapshots; False if there is nothing to do."""
        latest = self.latest_snapshot_id()
        if (
            snapshot_id not in self.snapshots
            or latest is None
            or not self.start < snapshot_id.offset <= latest.offset
            or snapshot_id.offset > self.start + len(self.durable)
        ):
            return False
        drop = snapshot_id.offset - self.start
        del self.records[:drop]
        del self.durable[:drop]
        self._stable = max(0, self._stable - drop)
        self.start = snapshot_id.offset
        kept = [(e, max(s, self.start)) for e, s in self._epochs if s >= self.start]
        covering = [(e, s) for e, s in self._epochs if s < self.start]
        if covering and self.records and (not kept or kept[0][1] > self.start):
            kept.insert(0, (covering[-1][0], self.start))
        self._epochs = kept
        self._forget_snapshots_before(snapshot_id)
        return True

    def records_below(self, end_offset: int) -> tuple[Record, ...]:
        """Every record below ``end_offset`` this node has: from its snapshot under the log
        start, then its log."""
        return tuple(self.record_at(o) for o in range(end_offset))

    def snapshot_records(self, snapshot_id: OffsetAndEpoch) -> tuple[Record, ...]:
        return self._snapshot_records[snapshot_id]

    def record_at(self, offset: int) -> Record | None:
        """The record at ``offset`` from the log, or below its start from a snapshot."""
        if offset >= self.start:
            index = offset - self.start
            return self.records[index] if index < len(self.records) else None
        for snapshot_id in sorted(self._snapshot_records, reverse=True):
            if offset < snapshot_id.offset:
                return self._snapshot_records[snapshot_id][offset]
        return None

    def _forget_snapshots_before(self, snapshot_id: OffsetAndEpoch) -> None:
        for old in [s for s in self.snapshots if s < snapshot_id]:
            del self.snapshots[old]
            del self._snapshot_records[old]
            self._snapshot_control.pop(old, None)

    # --- crashes ---------------------------------------------------------------------------

    def unflushed_records(self) -> list[Record]:
        """The records a flush now would make durable."""
        return self.records[self._stable :]

    def durable_end_offset(self) -> int:
        return self.start + len(self.durable)

    def crash(self, random: Random | None = None) -> list[Record]:
        """Lose what was not flushed: ``revert`` to the flushed records, or (with ``random``,
        half the time) ``keep_prefix`` of the current ones. Returns the unflushed records that
        survived. Snapshots and the log start are durable already."""
        survivors: list[Record] = []
        if random is not None and random.random() < 0.5:
            keep = random.randint(self._stable, len(self.records))
            survivors = self.records[self._stable : keep]
            self.records = self.records[:keep]
        else:
            self.records = list(self.durable)
        self.durable = list(self.records)
        self._stable = len(self.records)
        self._rebuild_epochs()
        return survivors

    @property
    def unflushed(self) -> bool:
        return not (self._stable == len(self.durable) == len(self.records))

    # --- internals -------------------------------------------------------------------------

    def _note_epoch(self, epoch: int, offset: int) -> None:
        if not self._epochs or self._epochs[-1][0] < epoch:
            self._epochs.append((epoch, offset))

    def _rebuild_epochs(self) -> None:
        self._epochs = []
        for record in self.records:
            self._note_epoch(record.epoch, record.offset)
