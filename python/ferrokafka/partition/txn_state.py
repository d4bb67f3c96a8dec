"""The transactions of one partition as its producer state sees them (the transaction half of
Kafka's ProducerStateManager: ongoingTxns, unreplicatedTxns, CompletedTxn, VerificationGuard).

A transaction is *ongoing* on a partition from its producer's first transactional batch there
until its COMMIT or ABORT marker; it is then *unreplicated* until the high watermark passes the
marker. The first offset of the oldest ongoing or unreplicated transaction is the partition's
first unstable offset, and its last stable offset (LSO) is that offset capped by the high
watermark: a read_committed consumer reads nothing at or past it.

KIP-890 part 1: before the first batch of a transaction on a partition the leader asks the
transaction coordinator whether the partition is in the transaction, holding a
:class:`VerificationGuard` for the producer meanwhile. A marker (or the append of a batch)
drops the guard, so a verification answered before an abort marker landed cannot start a
transaction the coordinator no longer knows of (Kafka's ABA case).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

# Kafka keeps a verification entry until it is used or expires; here a partition keeps at most
# this many (the oldest go first): each is one in-flight first produce of a transaction, so a
# partition with more concurrent starting transactions than this refuses the excess with
# INVALID_TXN_STATE, which the producer retries.
VERIFICATION_ENTRIES_MAX = 10_000

_guard_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class VerificationGuard:
    """A unique token of one verification of a producer's transaction on a partition (Kafka's
    VerificationGuard): compared by identity. :data:`SENTINEL` is "no guard"."""

    producer_id: int
    guard_id: int

    @staticmethod
    def new(producer_id: int) -> VerificationGuard:
        return VerificationGuard(producer_id, next(_guard_ids))


SENTINEL = VerificationGuard(-1, 0)


@dataclass(slots=True)
class VerificationEntry:
    """A producer's pending verification (Kafka's VerificationStateEntry): its guard, and
    the lowest sequence (of the highest epoch) a batch verified with it had: the first batch
    of the transaction, which must be the first appended."""

    guard: VerificationGuard
    lowest_sequence: int
    epoch: int

    def saw(self, sequence: int, epoch: int) -> None:
        """Kafka's maybeUpdateLowestSequenceAndEpoch."""
        if epoch == self.epoch and sequence < self.lowest_sequence:
            self.lowest_sequence = sequence
        if epoch > self.epoch:
            self.epoch = epoch
            self.lowest_sequence = sequence


@dataclass(frozen=True, slots=True)
class CompletedTxn:
    """A transaction a marker ended (Kafka's CompletedTxn): its first data offset and the
    marker's offset."""

    producer_id: int
    first_offset: int
    last_offset: int
    is_aborted: bool


class TxnTracker:
    """Ongoing and unreplicated transactions by first offset, and verification guards."""

    def __init__(self) -> None:
        # first offset -> producer id, for every transaction without a marker yet.
        self.ongoing: dict[int, int] = {}
        # first offset -> (producer id, marker offset): completed, marker not below the HW.
        self.unreplicated: dict[int, tuple[int, int]] = {}
        self.verification: dict[int, VerificationEntry] = {}

    def start(self, producer_id: int, first_offset: int) -> None:
        self.ongoing[first_offset] = producer_id

    def first_undecided_offset(self) -> int | None:
        """The first offset of the oldest ongoing transaction (Kafka's firstUndecidedOffset)."""
        return min(self.ongoing) if self.ongoing else None

    def first_unstable_offset(self) -> int | None:
        """The oldest first offset of an ongoing or unreplicated transaction."""
        if not self.ongoing and not self.unreplicated:
            return None  # the common case, on every fetch of a partition without transactions
        firsts = [*self.ongoing, *self.unreplicated]
        return min(firsts) if firsts else None

    def last_stable_offset(self, completed: CompletedTxn) -> int:
        """The LSO once ``completed`` is complete, as the transaction index records it: the
        first offset of the oldest ongoing transaction of another producer, else the offset
        after the marker (Kafka's ProducerStateManager.lastStableOffset)."""
        others = [f for f, pid in self.ongoing.items() if pid != completed.producer_id]
        return min(others) if others else completed.last_offset + 1

    def complete(self, completed: CompletedTxn) -> None:
        """The marker of ``completed`` is in the log: unreplicated until the HW passes it.
        Added there before it leaves the ongoing ones, so a reader in another thread (the
        cleaner's LSO) never sees it in neither."""
        self.unreplicated[completed.first_offset] = (
            completed.producer_id,
            completed.last_offset,
        )
        self.ongoing.pop(completed.first_offset, None)

    def on_high_watermark(self, high_watermark: int) -> bool:
        """Forget transactions whose marker is below ``high_watermark``; True when one was."""
        done = [f for f, (_, last) in self.unreplicated.items() if last < high_watermark]
        for first in done:
            del self.unreplicated[first]
        return bool(done)

    def clear(self) -> None:
        self.ongoing.clear()
        self.unreplicated.clear()
        self.verification.clear()

    # -- KIP-890 verification --------------------------------------------------------------

    def start_verification(self, producer_id: int, sequence: int, epoch: int) -> VerificationGuard:
        """The producer's guard for a batch starting at ``sequence`` in ``epoch``, made now
        unless one is pending (Kafka's maybeCreateVerificationStateEntry)."""
        entry = self.verification.get(producer_id)
        if entry is None:
            if len(self.verification) >= VERIFICATION_ENTRIES_MAX:
                del self.verification[next(iter(self.verification))]
            guard = VerificationGuard.new(producer_id)
            entry = self.verification[producer_id] = VerificationEntry(guard, sequence, epoch)
        else:
            entry.saw(sequence, epoch)
        return entry.guard

    def verified(self, producer_id: int, guard: VerificationGuard) -> bool:
        """Whether ``guard`` is still the producer's pending guard (Kafka's
        VerificationGuard.verify: the sentinel never is)."""
        entry = self.verification.get(producer_id)
        return guard is not SENTINEL and entry is not None and entry.guard is guard

    def clear_verification(self, producer_id: int) -> None:
        self.verification.pop(producer_id, None)
