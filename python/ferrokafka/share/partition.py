"""A share-partition, sans-io: the delivery state of one (share group, topic-partition) on the
partition's leader, as Kafka's ``SharePartition``.

The records from the start offset up to (excluding) the end offset are "in flight": each has
a state — AVAILABLE, ACQUIRED (by one member, until its acquisition lock expires),
ACKNOWLEDGED or ARCHIVED — and a delivery count (how many times it was acquired). Below the
start offset every record is done; at and above the end offset nothing was acquired yet.

- :meth:`SharePartition.acquire` takes the offsets of the batches a fetch read from the log
  (from :meth:`next_fetch_offset`) and acquires up to ``max_records`` AVAILABLE ones for a
  member, each for ``record_lock_duration_ms``, raising its delivery count;
- :meth:`acknowledge` applies a member's ACCEPT / RELEASE / REJECT / RENEW (and GAP) to
  records it holds; a record not acquired by that member is INVALID_RECORD_STATE and nothing of
  the request is applied;
- :meth:`expire_locks` (driven by a timer from outside) makes ACQUIRED records whose lock
  passed AVAILABLE again, as :meth:`release_member` does for a member that left;
- a record released or expired with ``delivery_count >= delivery_count_limit`` is ARCHIVED;
- with a dead-letter queue (``ShareConfig.dead_letter``: share.version 2 and the group's
  ``errors.deadletterqueue.topic.name``, KIP-1191), a REJECTed record and one archived by the
  delivery count limit are ARCHIVING instead, and a :class:`DeadLetter` effect names them
  (:meth:`take_dead_letters`); whoever writes them to the DLQ topic then calls
  :meth:`dead_lettered`, which makes them ARCHIVED (whether the write succeeded or not, as
  Kafka). An ARCHIVING record is neither delivered again nor done: the start offset waits;
- the start offset moves past the leading done records, and to the log start offset when
  retention or deletion removes records below it.

Every change answers whether the durable state changed; the caller then writes
:meth:`state_batches` through the persister (ACQUIRED is stored as AVAILABLE, as Kafka does:
after a leader change an acquired record is delivered again).

Offsets below the end offset that the log does not have (compaction, transaction markers the
client skips) are never in flight: they count as done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ferrokafka.protocol import error_codes as ec
from ferrokafka.share.persister import (
    ACKNOWLEDGED,
    ACQUIRED,
    ARCHIVED,
    ARCHIVING,
    AVAILABLE,
    StateBatch,
)

# ShareFetch/ShareAcknowledge acknowledge types (AcknowledgeType in kafka-clients 4.4).
GAP = 0
ACCEPT = 1
RELEASE = 2
REJECT = 3
RENEW = 4
ACK_TYPES = frozenset({GAP, ACCEPT, RELEASE, REJECT, RENEW})
# The most offsets one acknowledgement batch may name: the in-flight window is at most
# group.share.max.partition.max.record.locks' ceiling (10000), so anything larger is invalid.
ACK_BATCH_OFFSETS_MAX = 10_000
_DONE = (ACKNOWLEDGED, ARCHIVED)


@dataclass(frozen=True)
class ShareConfig:
    """The group's settings a share-partition obeys (group configs over broker defaults)."""

    record_lock_duration_ms: int = 30_000
    delivery_count_limit: int = 5
    max_record_locks: int = 2_000
    # Whether rejected and delivery-limit-archived records go to a dead-letter queue first.
    dead_letter: bool = False


@dataclass
class InFlight:
    state: int
    delivery_count: int
    member_id: str | None = None
    lock_deadline_ms: int = 0


# Why records go to the dead-letter queue (Kafka's ShareGroupDLQManager causes; their
# messages are the DLQ record's ``__dlq.errors.message`` header).
CLIENT_REJECT = "Offset rejected by client."
DELIVERY_COUNT_EXCEEDED = "Offset delivery count exceeded the threshold."


@dataclass(frozen=True)
class DeadLetter:
    """An effect: records first..last (delivery count, cause) are to be written to the DLQ."""

    first_offset: int
    last_offset: int
    delivery_count: int
    cause: str


@dataclass(frozen=True)
class Acquired:
    """One AcquiredRecords range of a ShareFetch answer."""

    first_offset: int
    last_offset: int
    delivery_count: int


class SharePartition:
    """The in-flight state of one share-partition; every method runs in one task."""

    def __init__(self, start_offset: int, config: ShareConfig, state_epoch: int = 0) -> None:
        assert start_offset >= 0
        self.start_offset = start_offset
        self.end_offset = start_offset
        self.config = config
        self.state_epoch = state_epoch
        self.records: dict[int, InFlight] = {}
        self._dead_letters: list[tuple[int, int, str]] = []  # (offset, count, cause)

    @classmethod
    def restored(
        cls,
        start_offset: int,
        batches: tuple[StateBatch, ...],
        config: ShareConfig,
        state_epoch: int = 0,
    ) -> SharePartition:
        """From the persisted state: every batch above the start offset comes back (an
        ACQUIRED record was stored as AVAILABLE, so it is delivered again). ARCHIVING records
        are written to the DLQ again (Kafka's maybeResumeDlqArchiving: the cause is the
        delivery count limit when the count reached it, else a reject)."""
        sp = cls(start_offset, config, state_epoch)
        for batch in batches:
            for offset in range(max(batch.first_offset, start_offset), batch.last_offset + 1):
                state = AVAILABLE if batch.delivery_state == ACQUIRED else batch.delivery_state
                sp.records[offset] = InFlight(state, batch.delivery_count)
                sp.end_offset = max(sp.end_offset, offset + 1)
                if state == ARCHIVING:
                    exceeded = batch.delivery_count >= config.delivery_count_limit
                    cause = DELIVERY_COUNT_EXCEEDED if exceeded else CLIENT_REJECT
                    sp._dead_letters.append((offset, batch.delivery_count, cause))
        sp._advance_start()
        return sp

    # -- fetching -----------------------------------------------------------------------------

    def next_fetch_offset(self) -> int:
        """Where a fetch should read from: the first AVAILABLE in-flight record, else the end."""
        for offset in range(self.start_offset, self.end_offset):
            record = self.records.get(offset)
            if record is not None and record.state == AVAILABLE:
                return offset
        return self.end_offset

    def can_acquire(self) -> bool:
        """Some in-flight record is AVAILABLE, or the in-flight window has room for new ones."""
        return self.next_fetch_offset() < self.end_offset or self._window_has_room()

    def _window_has_room(self) -> bool:
        return self.end_offset - self.start_offset < self.config.max_record_locks

    def acquire(
        self,
        member_id: str,
        batches: list[tuple[int, int]],
        max_records: int,
        now_ms: int,
        archive: Sequence[tuple[int, int]] = (),
    ) -> list[Acquired]:
        """Acquire for ``member_id`` up to ``max_records`` AVAILABLE records among the
        offsets of ``batches`` (first, last offsets of the batches read, in order). Offsets
        in ``archive`` (aborted transactions, read_committed) become ARCHIVED, undelivered."""
        deadline = now_ms + self.config.record_lock_duration_ms
        taken: list[tuple[int, int]] = []  # (offset, delivery count)
        skip = [(a, b) for a, b in archive]
        for first, last in batches:
            if (first, last) in skip:
                self._archive_range(first, last)
                continue
            for offset in range(max(first, self.start_offset), last + 1):
                if len(taken) >= max_records:
                    break
                if offset >= self.end_offset:
                    if not self._window_has_room():
                        break
                    self.end_offset = offset + 1
                    record = self.records[offset] = InFlight(AVAILABLE, 0)
                else:
                    found = self.records.get(offset)
                    if found is None or found.state != AVAILABLE:
                        continue
                    record = found
                record.state = ACQUIRED
                record.delivery_count += 1
                record.member_id = member_id
                record.lock_deadline_ms = deadline
                taken.append((offset, record.delivery_count))
        return _ranges(taken)

    def _archive_range(self, first: int, last: int) -> None:
        for offset in range(max(first, self.start_offset), last + 1):
            if offset >= self.end_offset:
                if not self._window_has_room():
                    return
                self.end_offset = offset + 1
                self.records[offset] = InFlight(ARCHIVED, 0)
            else:
                record = self.records.get(offset)
                if record is not None and record.state == AVAILABLE:
                    self._finish(record, ARCHIVED)
        self._advance_start()

    # -- acknowledging ------------------------------------------------------------------------

    def acknowledge(
        self, member_id: str, batches: list[tuple[int, int, list[int]]], now_ms: int
    ) -> int:
        """Apply ``(first offset, last offset, acknowledge types)`` batches: one type for the
        whole range, or one per offset. All or nothing: the error code of the first bad one."""
        plan: list[tuple[int, int]] = []
        for first, last, types in batches:
            count = last - first + 1
            if count < 1 or count > ACK_BATCH_OFFSETS_MAX:
                return ec.INVALID_REQUEST
            if len(types) not in (1, count) or any(t not in ACK_TYPES for t in types):
                return ec.INVALID_REQUEST
            for i, offset in enumerate(range(first, last + 1)):
                kind = types[0] if len(types) == 1 else types[i]
                if kind == GAP:
                    plan.append((offset, kind))
                    continue
                record = self.records.get(offset)
                if (
                    offset < self.start_offset
                    or record is None
                    or record.state != ACQUIRED
                    or record.member_id != member_id
                ):
                    return ec.INVALID_RECORD_STATE
                plan.append((offset, kind))
        for offset, kind in plan:
            self._apply(offset, kind, now_ms)
        self._advance_start()
        return ec.NONE

    def _apply(self, offset: int, kind: int, now_ms: int) -> None:
        record = self.records.get(offset)
        if record is None:  # a GAP for an offset the log does not have: nothing to track
            return
        if kind == RENEW:  # the member keeps it, with a new full lock
            record.lock_deadline_ms = now_ms + self.config.record_lock_duration_ms
            return
        if kind == ACCEPT:
            self._finish(record, ACKNOWLEDGED)
        elif kind == REJECT and self.config.dead_letter:
            self._to_dead_letter(offset, record, CLIENT_REJECT)
        elif kind in (REJECT, GAP):
            self._finish(record, ARCHIVED)
        elif kind == RELEASE:
            self._release(offset, record)

    def _finish(self, record: InFlight, state: int) -> None:
        record.state = state
        record.member_id = None
        record.lock_deadline_ms = 0

    def _release(self, offset: int, record: InFlight) -> None:
        if record.delivery_count < self.config.delivery_count_limit:
            self._finish(record, AVAILABLE)
        elif self.config.dead_letter:
            self._to_dead_letter(offset, record, DELIVERY_COUNT_EXCEEDED)
        else:
            self._finish(record, ARCHIVED)

    def _to_dead_letter(self, offset: int, record: InFlight, cause: str) -> None:
        self._finish(record, ARCHIVING)
        self._dead_letters.append((offset, record.delivery_count, cause))

    # -- the dead-letter queue ----------------------------------------------------------------

    def take_dead_letters(self) -> list[DeadLetter]:
        """The records that became ARCHIVING since the last call, as runs of consecutive
        offsets with one delivery count and cause (each run one DLQ write, as Kafka's
        per-batch ShareGroupDLQRecordParameter)."""
        out: list[DeadLetter] = []
        for offset, count, cause in sorted(self._dead_letters):
            last = out[-1] if out else None
            if (
                last is not None
                and last.last_offset == offset - 1
                and (last.delivery_count, last.cause) == (count, cause)
            ):
                out[-1] = DeadLetter(last.first_offset, offset, count, cause)
            else:
                out.append(DeadLetter(offset, offset, count, cause))
        self._dead_letters.clear()
        return out

    def dead_lettered(self, first_offset: int, last_offset: int) -> bool:
        """The DLQ write of first..last ended (written or given up): its ARCHIVING records
        are ARCHIVED; whether any was."""
        changed = False
        for offset in range(first_offset, last_offset + 1):
            record = self.records.get(offset)
            if record is not None and record.state == ARCHIVING:
                record.state = ARCHIVED
                changed = True
        if changed:
            self._advance_start()
        return changed

    # -- locks and members --------------------------------------------------------------------

    def expire_locks(self, now_ms: int) -> bool:
        """Release every ACQUIRED record whose lock passed; whether any did."""
        changed = False
        for offset, record in self.records.items():
            if record.state == ACQUIRED and record.lock_deadline_ms <= now_ms:
                self._release(offset, record)
                changed = True
        if changed:
            self._advance_start()
        return changed

    def release_member(self, member_id: str) -> bool:
        """Release every record ``member_id`` holds (it left the group or closed its session)."""
        changed = False
        for offset, record in self.records.items():
            if record.state == ACQUIRED and record.member_id == member_id:
                self._release(offset, record)
                changed = True
        if changed:
            self._advance_start()
        return changed

    def next_lock_deadline_ms(self) -> int | None:
        deadlines = [r.lock_deadline_ms for r in self.records.values() if r.state == ACQUIRED]
        return min(deadlines) if deadlines else None

    # -- the log moving under us --------------------------------------------------------------

    def on_log_start(self, log_start_offset: int) -> bool:
        """Records below the log start offset are gone (retention, DeleteRecords): they are
        archived and the start offset moves up to it; whether anything changed."""
        if log_start_offset <= self.start_offset:
            return False
        for offset in range(self.start_offset, min(log_start_offset, self.end_offset)):
            self.records.pop(offset, None)
        self.start_offset = log_start_offset
        self.end_offset = max(self.end_offset, log_start_offset)
        self._advance_start()
        return True

    def _advance_start(self) -> None:
        while self.start_offset < self.end_offset:
            record = self.records.get(self.start_offset)
            if record is not None and record.state not in _DONE:
                return
            self.records.pop(self.start_offset, None)
            self.start_offset += 1

    # -- what is persisted --------------------------------------------------------------------

    def state_batches(self) -> tuple[StateBatch, ...]:
        """The in-flight records as Kafka persists them: runs of equal (state, count), an
        ACQUIRED record as AVAILABLE; AVAILABLE with count 0 is the default and left out."""
        out: list[StateBatch] = []
        for offset in sorted(self.records):
            record = self.records[offset]
            state = AVAILABLE if record.state == ACQUIRED else record.state
            if state == AVAILABLE and record.delivery_count == 0:
                continue
            last = out[-1] if out else None
            if (
                last is not None
                and last.last_offset == offset - 1
                and last.delivery_state == state
                and last.delivery_count == record.delivery_count
            ):
                out[-1] = StateBatch(last.first_offset, offset, state, record.delivery_count)
            else:
                out.append(StateBatch(offset, offset, state, record.delivery_count))
        return tuple(out)

    def delivery_complete_count(self) -> int:
        return sum(1 for r in self.records.values() if r.state in _DONE)

    def in_flight_count(self) -> int:
        return sum(1 for r in self.records.values() if r.state not in _DONE)


def _ranges(taken: list[tuple[int, int]]) -> list[Acquired]:
    """Consecutive offsets with the same delivery count as one range."""
    out: list[Acquired] = []
    for offset, count in taken:
        last = out[-1] if out else None
        if last is not None and last.last_offset == offset - 1 and last.delivery_count == count:
            out[-1] = Acquired(last.first_offset, offset, count)
        else:
            out.append(Acquired(offset, offset, count))
    return out
