"""An in-memory :class:`~ferrokafka.cluster.raft.log.RaftLog` that can crash.

It keeps what a disk would: the records as of the last :meth:`MemoryRaftLog.flush` (durable)
beside the records now (volatile). :meth:`MemoryRaftLog.crash` throws away what was never
flushed, the way a machine losing power does, so the simulation can restart a node with
exactly what it persisted. Two ways to lose data, both legal for a real disk:

- ``revert``: back to the last flushed state, as if no write since reached the platter;
- ``keep_prefix``: some unflushed appends made it (page-cache writeback) — a prefix of the
  current records at least as long as the part they share with the flushed state.

Used by the simulation and the unit tests; the broker wraps the native Log instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random

from ferrokafka.cluster.raft.log import LeaderChange, OffsetAndEpoch, Record

CONTROL_RECORD_BYTES = 64  # what a LeaderChange record is assumed to weigh in a fetch


class MemoryRaftLog:
    """A list of records plus an epoch index ((epoch, start offset) pairs, ascending)."""

    def __init__(self, records: Sequence[Record] = ()) -> None:
        self.records: list[Record] = list(records)
        self._epochs: list[tuple[int, int]] = []
        self._rebuild_epochs()
        self.durable: list[Record] = list(self.records)
        # Length of the prefix that volatile and durable records certainly share.
        self._stable = len(self.records)
        self.flushes = 0

    # --- RaftLog ---------------------------------------------------------------------------

    def end_offset(self) -> int:
        return len(self.records)

    def last_fetched_epoch(self) -> int:
        return self.records[-1].epoch if self.records else 0

    def end_offset_for_epoch(self, epoch: int) -> OffsetAndEpoch:
        previous = 0
        for entry_epoch, start in self._epochs:
            if entry_epoch > epoch:
                return OffsetAndEpoch(start, previous)
            previous = entry_epoch
        return OffsetAndEpoch(len(self.records), self.last_fetched_epoch())

    def append_as_leader(self, values: Sequence[bytes | LeaderChange], epoch: int) -> int:
        if not values:
            raise ValueError("nothing to append")
        if epoch < self.last_fetched_epoch():
            raise ValueError(f"epoch {epoch} is below the log's last {self.last_fetched_epoch()}")
        base = len(self.records)
        self._note_epoch(epoch, base)
        self.records.extend(Record(base + i, epoch, v) for i, v in enumerate(values))
        return len(self.records) - 1

    def append_as_follower(self, records: Sequence[Record]) -> None:
        expected = len(self.records)
        for record in records:
            if record.offset != expected:
                raise ValueError(f"record at {record.offset}, expected {expected}")
            if record.epoch < self.last_fetched_epoch():
                raise ValueError(f"epoch {record.epoch} goes back from {self.last_fetched_epoch()}")
            self._note_epoch(record.epoch, record.offset)
            self.records.append(record)
            expected += 1

    def read(self, offset: int, max_bytes: int) -> tuple[Record, ...]:
        if offset >= len(self.records):
            return ()
        out: list[Record] = []
        size = 0
        for record in self.records[offset:]:
            weight = len(record.value) if isinstance(record.value, bytes) else CONTROL_RECORD_BYTES
            if out and size + weight > max_bytes:
                break
            out.append(record)
            size += weight
        return tuple(out)

    def truncate_to(self, offset: int) -> None:
        if offset < 0:
            raise ValueError(f"negative truncation offset {offset}")
        if offset >= len(self.records):
            return
        del self.records[offset:]
        self._stable = min(self._stable, offset)
        while self._epochs and self._epochs[-1][1] >= offset:
            self._epochs.pop()

    def flush(self) -> None:
        self.flushes += 1
        if self._stable == len(self.durable) == len(self.records):
            return
        del self.durable[self._stable :]
        self.durable.extend(self.records[self._stable :])
        self._stable = len(self.records)

    # --- crashes ---------------------------------------------------------------------------

    def unflushed_records(self) -> list[Record]:
        """The records a flush now would make durable."""
        return self.records[self._stable :]

    def crash(self, random: Random | None = None) -> list[Record]:
        """Lose what was not flushed: ``revert`` to the flushed records, or (with ``random``,
        half the time) ``keep_prefix`` of the current ones. Returns the unflushed records that
        survived."""
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
