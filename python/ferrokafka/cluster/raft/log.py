"""The replicated log as the quorum sees it: records with offsets and epochs, the seam a real
log implements, and Kafka's two rules that are defined on any log.

The seam (:class:`RaftLog`) is small on purpose: the simulation runs on
:class:`~ferrokafka.cluster.raft.memory.MemoryRaftLog`, the broker will wrap the native Log
(whose leader-epoch cache answers :meth:`RaftLog.end_offset_for_epoch`). Mutations are not
durable until :meth:`RaftLog.flush`; the state machine asks for a flush (a ``FlushLog``
effect) before it sends anything that depends on them.

The two rules are Kafka's ``ReplicatedLog.validateOffsetAndEpoch`` (is a follower's fetch
position on the leader's log, or where do they diverge?) and ``truncateToEndOffset`` (where a
follower cuts its log given the leader's diverging epoch). Snapshots are not modelled yet, so
the log always starts at offset 0.
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


class RaftLog(Protocol):
    """What the quorum needs of a log. Offsets are absolute; the log starts at 0."""

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


VALID = "valid"
DIVERGING = "diverging"


def validate_offset_and_epoch(log: RaftLog, offset: int, epoch: int) -> tuple[str, OffsetAndEpoch]:
    """Kafka's ``validateOffsetAndEpoch`` without snapshots: a fetch at ``offset`` whose
    previous record has ``epoch`` is VALID if the leader's log has that epoch up to at least
    ``offset``; otherwise DIVERGING, with the largest (end offset, epoch) both logs can share,
    which the follower truncates to."""
    if offset == 0:
        return VALID, OffsetAndEpoch(0, 0)
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
