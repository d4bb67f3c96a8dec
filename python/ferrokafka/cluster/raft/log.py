"""The replicated log as the quorum sees it: records with offsets and epochs, the seam a real
log implements, and Kafka's two rules that are defined on any log.

The seam (:class:`RaftLog`) is small on purpose: the simulation runs on
:class:`~ferrokafka.cluster.raft.memory.MemoryRaftLog`, the broker will wrap the native Log
(whose leader-epoch cache answers :meth:`RaftLog.end_offset_for_epoch`). Mutations are not
durable until :meth:`RaftLog.flush`; the state machine asks for a flush (a ``FlushLog``
effect) before it sends anything that depends on them.

The two rules are Kafka's ``ReplicatedLog.validateOffsetAndEpoch`` (is a follower's fetch
position on the leader's log, or where do they diverge?) and ``truncateToEndOffset`` (where a
follower cuts its log given the leader's diverging epoch), both with Kafka's snapshot rules.

Snapshots (Kafka's ``RawSnapshotReader``/``Writer`` behind ``ReplicatedLog``): a log holds
snapshots ``(end offset, epoch)`` of the state below ``end offset``, as opaque bytes (the
metadata snapshot file for the native log); its start offset may move up to a snapshot's end
offset once that snapshot exists (prefix deletion), so records below :meth:`RaftLog.start_offset`
are only in a snapshot. A follower whose fetch position is below the leader's start offset is
told the leader's latest snapshot id, downloads it (FetchSnapshot) and installs it
(:meth:`RaftLog.install_snapshot`, Kafka's ``truncateToLatestSnapshot``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class OffsetAndEpoch(NamedTuple):
    """Kafka's ``OffsetAndEpoch``: an end offset and the epoch of the record before it."""

    offset: int
    epoch: int


@dataclass(frozen=True, slots=True)
class LeaderChange:
    """Kafka's ``LeaderChangeMessage`` control record: a new leader writes it first in its
    epoch, so the epoch has a record the high watermark can commit (see ``leader.py``)."""

    leader_id: int
    voters: tuple[int, ...]
    granting_voters: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RawBatch:
    """The Kafka record batch a record came in, byte for byte (offsets, epoch and CRC as the
    leader wrote them). Every record of the batch carries the same one, so a follower appends
    the leader's batches as they are and batch boundaries (one per controller operation,
    applied atomically) are the same on every replica, as in Kafka."""

    base_offset: int
    last_offset: int
    data: bytes


# A control record's value: a LeaderChange, or (KIP-853, ``voters.py``) a VotersChange or a
# KRaftVersionChange. Typed loosely here so the log stays below the voter-set module.
ControlValue = object


class Record(NamedTuple):
    """One record of the log. A tuple so that logs compare fast in the simulation.

    ``batch`` is set by logs that store Kafka batches (the native log, the wire decoder);
    the in-memory log leaves it None and the driver encodes such records one batch each."""

    offset: int
    epoch: int
    value: bytes | ControlValue
    batch: RawBatch | None = None

    @property
    def is_control(self) -> bool:
        return not isinstance(self.value, bytes)


# Kafka's Snapshots.BOOTSTRAP_SNAPSHOT_ID: the storage tool's checkpoint, never replicated.
BOOTSTRAP_SNAPSHOT_ID = OffsetAndEpoch(0, 0)


class SnapshotInstallError(ValueError):
    """A downloaded snapshot the log cannot take (corrupt, truncated, not a snapshot)."""


class RaftLog(Protocol):
    """What the quorum needs of a log. Offsets are absolute; the log starts at
    :meth:`start_offset` (0 until a snapshot lets the prefix go)."""

    def start_offset(self) -> int:
        """The first offset the log holds (Kafka's log start offset)."""
        ...

    def end_offset(self) -> int:
        """The offset the next record gets."""
        ...

    def last_fetched_epoch(self) -> int:
        """The epoch of the last record, 0 for an empty log."""
        ...

    def end_offset_for_epoch(self, epoch: int) -> OffsetAndEpoch:
        """Kafka's ``endOffsetForEpoch``: the end offset of the largest epoch <= ``epoch`` that
        the log has, with that epoch; (end offset, last epoch) if ``epoch`` is the latest or
        later; (0, 0) if the log has no epoch <= ``epoch``."""
        ...

    def append_as_leader(self, values: Sequence[bytes | ControlValue], epoch: int) -> int:
        """Append values stamped with ``epoch``; return the offset of the last one."""
        ...

    def append_as_follower(self, records: Sequence[Record]) -> None:
        """Append records as the leader numbered them (the first at :meth:`end_offset`); a
        log that stores batches appends each record's ``batch`` whole."""
        ...

    def read(self, offset: int, max_bytes: int) -> tuple[Record, ...]:
        """Records from ``offset`` on, at least one if there is one, about ``max_bytes``."""
        ...

    def truncate_to(self, offset: int) -> None:
        """Remove every record at ``offset`` or after."""
        ...

    def flush(self) -> None:
        """Make every mutation so far durable."""
        ...

    def latest_snapshot_id(self) -> OffsetAndEpoch | None:
        """The id of the newest snapshot (the bootstrap checkpoint included), None if none."""
        ...

    def earliest_snapshot_id(self) -> OffsetAndEpoch | None:
        """The id of the oldest snapshot kept, None if none."""
        ...

    def snapshot_size(self, snapshot_id: OffsetAndEpoch) -> int | None:
        """Bytes of snapshot ``snapshot_id``; None if the log has no such snapshot."""
        ...

    def read_snapshot(self, snapshot_id: OffsetAndEpoch, position: int, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of the snapshot from ``position`` (Kafka's ``slice``: the chunk
        need not end on a batch boundary)."""
        ...

    def snapshot_control_values(self, snapshot_id: OffsetAndEpoch) -> tuple[ControlValue, ...]:
        """The KRaft control records a kept snapshot carries for the quorum (KIP-853: from
        kraft.version 1, the kraft.version and the voter set at its end offset, in its header):
        a KRaftVersionChange and a VotersChange, or nothing. The replica's voter history is
        these alone once the log starts at the snapshot (Kafka's ``maybeLoadSnapshot``)."""
        ...

    def install_snapshot(self, snapshot_id: OffsetAndEpoch, data: bytes) -> bool:
        """Validate and store a snapshot downloaded from the leader (durably), then Kafka's
        ``truncateToLatestSnapshot``: if it is past the log (a larger epoch than the last
        record's, or the same epoch and a larger end offset), empty the log and restart it at
        the snapshot's end offset, forgetting older snapshots. Returns whether the log was
        truncated. Raises SnapshotInstallError for data that is not a valid snapshot."""
        ...


VALID = "valid"
DIVERGING = "diverging"


SNAPSHOT = "snapshot"


def validate_offset_and_epoch(log: RaftLog, offset: int, epoch: int) -> tuple[str, OffsetAndEpoch]:
    """Kafka's ``ReplicatedLog.validateOffsetAndEpoch``: a fetch at ``offset`` whose previous
    record has ``epoch`` is SNAPSHOT (with the latest snapshot's id) when the leader no longer
    has the log there: below its start offset, at its start offset with another epoch than
    the oldest snapshot's, or an epoch older than that snapshot's; else VALID if the leader's
    log has that epoch up to at least ``offset``; otherwise DIVERGING, with the largest (end
    offset, epoch) both logs can share, which the follower truncates to."""
    start = log.start_offset()
    if start == 0 and offset == 0:
        return VALID, OffsetAndEpoch(0, 0)
    earliest = log.earliest_snapshot_id()
    if earliest is not None and (
        offset < start or (offset == start and epoch != earliest.epoch) or epoch < earliest.epoch
    ):
        latest = log.latest_snapshot_id()
        if latest is None:
            raise AssertionError(f"log start offset {start} > 0 but no snapshot")
        return SNAPSHOT, latest
    end = log.end_offset_for_epoch(epoch)
    if end.epoch != epoch or end.offset < offset:
        return DIVERGING, end
    return VALID, OffsetAndEpoch(offset, epoch)


def truncate_to_end_offset(log: RaftLog, diverging: OffsetAndEpoch) -> int:
    """Kafka's ``truncateToEndOffset``: cut the log where it stops agreeing with the leader's
    (end offset, epoch); return the truncation offset."""
    if diverging.epoch == 0:
        offset = min(diverging.offset, log.end_offset())
    else:
        local = log.end_offset_for_epoch(diverging.epoch)
        offset = (
            min(local.offset, diverging.offset) if local.epoch == diverging.epoch else local.offset
        )
    log.truncate_to(offset)
    return offset


def end_offset_for_epoch(
    epochs: Sequence[tuple[int, int]],
    epoch: int,
    end: OffsetAndEpoch,
    earliest_snapshot: OffsetAndEpoch | None,
) -> OffsetAndEpoch:
    """Kafka's ``endOffsetForEpoch`` over a leader-epoch list ((epoch, start offset) pairs,
    ascending) of a log ending at ``end``: the end offset of the largest epoch <= ``epoch``
    with that epoch. An ``epoch`` below every entry ends where the first begins; where that is
    the oldest snapshot's end offset, the answer is the snapshot's id (its epoch is the last
    one before the log), as KafkaMetadataLog overrides it."""
    previous: int | None = None
    for entry_epoch, start in epochs:
        if entry_epoch > epoch:
            if previous is None:
                if earliest_snapshot is not None and earliest_snapshot.offset == start:
                    return earliest_snapshot
                return OffsetAndEpoch(start, epoch)
            return OffsetAndEpoch(start, previous)
        previous = entry_epoch
    return end
