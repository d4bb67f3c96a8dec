"""The state of one transactional id, and its transitions (Kafka's ``TransactionMetadata``):
sans-io, no clock, no log.

A transition is two steps, as in Kafka: ``prepare_*`` checks it is legal from the current
state, sets :attr:`TransactionMetadata.pending_state` (so no other transition can start while
the record is being written) and returns the target as an immutable :class:`TxnTransit`; once
the record is written and replicated, :meth:`TransactionMetadata.complete_transition` applies
it (re-checking it), or :meth:`TransactionMetadata.abandon_transition` drops it when the
write failed. An illegal transition raises :class:`TxnStateError`: the coordinator's decision
code (:mod:`ferrokafka.txn.operations`) only asks for legal ones, so one is a bug.

States (the ``TransactionStatus`` byte of the log's value):

- Empty: no transaction (after InitProducerId); Ongoing: partitions were added;
- PrepareCommit / PrepareAbort: EndTxn was written, markers are being sent;
- CompleteCommit / CompleteAbort: every marker was written;
- Dead: the id is being expired (its tombstone is being written);
- PrepareEpochFence: only ever pending, never written: a timed-out transaction (or a new
  producer with an ongoing one) bumps the epoch to fence the old producer, then aborts.

Epoch rules (KIP-360, KIP-588, KIP-890): an epoch near ``Short.MAX_VALUE`` is exhausted and
InitProducerId then hands out a new producer id at epoch 0 (keeping the old one as the previous
producer id, so the producer that asked can still be recognised); ``transaction.version`` 2
clients get their epoch bumped on every EndTxn.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

TopicPartition = tuple[str, int]

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
SHORT_MAX = 2**15 - 1
# Kafka's TransactionMetadata.isEpochExhausted: the last two epochs are kept back so that a
# fence (one bump) and a transaction.version 2 end (one more) never overflow.
EPOCH_EXHAUSTED_AT = SHORT_MAX - 1
# transaction.version levels (Kafka's TransactionVersion): TV_2 bumps the epoch on every end.
TV_0 = 0
TV_1 = 1
TV_2 = 2


class TxnState(enum.IntEnum):
    """Kafka's TransactionState, with its id (the log's TransactionStatus byte)."""

    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def kafka_name(self) -> str:
        """The name Kafka's DescribeTransactions and ListTransactions use ("PrepareCommit")."""
        return _NAMES[self]

    @classmethod
    def from_kafka_name(cls, name: str) -> TxnState | None:
        return _BY_NAME.get(name)

    @property
    def expiration_allowed(self) -> bool:
        """A transactional id idle in this state may expire."""
        return self in (TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)


_NAMES = {
    TxnState.EMPTY: "Empty",
    TxnState.ONGOING: "Ongoing",
    TxnState.PREPARE_COMMIT: "PrepareCommit",
    TxnState.PREPARE_ABORT: "PrepareAbort",
    TxnState.COMPLETE_COMMIT: "CompleteCommit",
    TxnState.COMPLETE_ABORT: "CompleteAbort",
    TxnState.DEAD: "Dead",
    TxnState.PREPARE_EPOCH_FENCE: "PrepareEpochFence",
}
_BY_NAME = {name: state for state, name in _NAMES.items()}
_S = TxnState
# Kafka's validPreviousStates of each target state.
VALID_PREVIOUS: dict[TxnState, frozenset[TxnState]] = {
    _S.EMPTY: frozenset({_S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.ONGOING: frozenset({_S.ONGOING, _S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.PREPARE_COMMIT: frozenset({_S.ONGOING}),
    # Kafka 4.x: a transaction.version 2 producer may abort with nothing added (its epoch is
    # bumped all the same), from Empty or a completed transaction.
    _S.PREPARE_ABORT: frozenset(
        {_S.ONGOING, _S.PREPARE_EPOCH_FENCE, _S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}
    ),
    _S.COMPLETE_COMMIT: frozenset({_S.PREPARE_COMMIT}),
    _S.COMPLETE_ABORT: frozenset({_S.PREPARE_ABORT}),
    _S.DEAD: frozenset({_S.EMPTY, _S.COMPLETE_ABORT, _S.COMPLETE_COMMIT}),
    _S.PREPARE_EPOCH_FENCE: frozenset({_S.ONGOING}),
}


def is_epoch_exhausted(epoch: int) -> bool:
    return epoch >= EPOCH_EXHAUSTED_AT


class TxnStateError(RuntimeError):
    """An illegal transition (Kafka's IllegalStateException): a bug, never a client's error."""


@dataclass(frozen=True, slots=True)
class TxnTransit:
    """The target of a transition (Kafka's TxnTransitMetadata): what the log record says."""

    producer_id: int
    prev_producer_id: int
    next_producer_id: int
    producer_epoch: int
    last_producer_epoch: int
    txn_timeout_ms: int
    state: TxnState
    partitions: frozenset[TopicPartition]
    txn_start_ms: int
    txn_last_update_ms: int
    client_txn_version: int = TV_0


@dataclass(slots=True)
class TransactionMetadata:
    """One transactional id's state. Not shared across threads (the trio thread only)."""

    transactional_id: str
    producer_id: int
    producer_epoch: int = NO_PRODUCER_EPOCH
    last_producer_epoch: int = NO_PRODUCER_EPOCH
    previous_producer_id: int = NO_PRODUCER_ID
    next_producer_id: int = NO_PRODUCER_ID
    txn_timeout_ms: int = 0
    state: TxnState = TxnState.EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    txn_start_ms: int = -1
    txn_last_update_ms: int = -1
    client_txn_version: int = TV_0
    # The state a write in flight will move to (None: nothing in flight).
    pending_state: TxnState | None = None
    # A fence's bumped epoch failed to be written: the next fence does not bump again (the
    # bumped epoch was never given to anyone).
    has_failed_epoch_fence: bool = False

    # -- reading -----------------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        return self.pending_state is not None

    @property
    def epoch_exhausted(self) -> bool:
        return is_epoch_exhausted(self.producer_epoch)

    def has_pending_transaction(self) -> bool:
        return self.state in (TxnState.ONGOING, TxnState.PREPARE_ABORT, TxnState.PREPARE_COMMIT)

    def supports_epoch_bump(self) -> bool:
        return self.client_txn_version >= TV_2

    # -- preparing ---------------------------------------------------------------------------

    def prepare_fence_producer_epoch(self) -> TxnTransit:
        """Fence the producer of an ongoing transaction: its epoch + 1 (pending only)."""
        if self.producer_epoch == SHORT_MAX:
            raise TxnStateError("cannot fence a producer at epoch Short.MAX_VALUE")
        bumped = self.producer_epoch if self.has_failed_epoch_fence else self.producer_epoch + 1
        return self._prepare(
            TxnState.PREPARE_EPOCH_FENCE,
            self.producer_id,
            bumped,
            NO_PRODUCER_EPOCH,
            self.txn_timeout_ms,
            frozenset(self.partitions),
            self.txn_start_ms,
            self.txn_last_update_ms,
        )

    def prepare_increment_producer_epoch(
        self, txn_timeout_ms: int, expected_epoch: int | None, now_ms: int
    ) -> TxnTransit | None:
        """InitProducerId on an existing id: bump the epoch (KIP-360/KIP-588 rules on
        ``expected_epoch``). None: the caller is fenced (PRODUCER_FENCED)."""
        if self.epoch_exhausted:
            raise TxnStateError(f"producer id {self.producer_id} has no epochs left")
        bumped = self.producer_epoch + 1
        if expected_epoch is None:
            epoch, last = bumped, NO_PRODUCER_EPOCH
        elif self.producer_epoch == NO_PRODUCER_EPOCH or expected_epoch == self.producer_epoch:
            epoch, last = bumped, self.producer_epoch
        elif expected_epoch == self.last_producer_epoch:
            # A retry of a bump that succeeded: answer the same epoch again.
            epoch, last = self.producer_epoch, self.last_producer_epoch
        else:
            return None
        return self._prepare(
            TxnState.EMPTY, self.producer_id, epoch, last, txn_timeout_ms, frozenset(), -1, now_ms
        )

    def prepare_producer_id_rotation(
        self, new_producer_id: int, txn_timeout_ms: int, now_ms: int, record_last_epoch: bool
    ) -> TxnTransit:
        """The epoch is exhausted: a new producer id at epoch 0."""
        if self.has_pending_transaction():
            raise TxnStateError("cannot rotate the producer id while a transaction is pending")
        last = self.producer_epoch if record_last_epoch else NO_PRODUCER_EPOCH
        return self._prepare(
            TxnState.EMPTY, new_producer_id, 0, last, txn_timeout_ms, frozenset(), -1, now_ms
        )

    def prepare_add_partitions(
        self, added: frozenset[TopicPartition], now_ms: int, client_txn_version: int | None = None
    ) -> TxnTransit:
        start = now_ms if self.state in _NOT_IN_TXN else self.txn_start_ms
        return self._prepare(
            TxnState.ONGOING,
            self.producer_id,
            self.producer_epoch,
            self.last_producer_epoch,
            self.txn_timeout_ms,
            frozenset(self.partitions) | added,
            start,
            now_ms,
            client_txn_version=(
                self.client_txn_version if client_txn_version is None else client_txn_version
            ),
        )

    def prepare_abort_or_commit(
        self,
        state: TxnState,
        client_txn_version: int,
        next_producer_id: int,
        now_ms: int,
        *,
        no_partitions_added: bool = False,
    ) -> TxnTransit:
        """PrepareCommit/PrepareAbort. transaction.version 2 bumps the epoch (an abort at
        Short.MAX_VALUE, which only a bug would reach, keeps it); ``no_partitions_added``: an
        abort of a transaction that never started, which starts it now."""
        if client_txn_version >= TV_2:
            if self.producer_epoch == SHORT_MAX and state == TxnState.PREPARE_ABORT:
                epoch, last = self.producer_epoch, self.producer_epoch
            else:
                epoch, last = self.producer_epoch + 1, self.producer_epoch
        else:
            epoch, last = self.producer_epoch, self.last_producer_epoch
        return self._prepare(
            state,
            self.producer_id,
            epoch,
            last,
            self.txn_timeout_ms,
            frozenset(self.partitions),
            now_ms if no_partitions_added else self.txn_start_ms,
            now_ms,
            next_producer_id=next_producer_id,
            client_txn_version=client_txn_version,
        )

    def prepare_complete(self, now_ms: int) -> TxnTransit:
        state = (
            TxnState.COMPLETE_COMMIT
            if self.state == TxnState.PREPARE_COMMIT
            else TxnState.COMPLETE_ABORT
        )
        self.has_failed_epoch_fence = False  # the fence (if any) was written with the prepare
        producer_id, epoch = self.producer_id, self.producer_epoch
        if self.supports_epoch_bump() and self.next_producer_id != NO_PRODUCER_ID:
            producer_id, epoch = self.next_producer_id, 0  # the epoch overflowed at the end
        return self._prepare(
            state,
            producer_id,
            epoch,
            self.producer_epoch,
            self.txn_timeout_ms,
            frozenset(),
            self.txn_start_ms,
            now_ms,
            client_txn_version=self.client_txn_version,
        )

    def prepare_dead(self) -> TxnTransit:
        return self._prepare(
            TxnState.DEAD,
            self.producer_id,
            self.producer_epoch,
            self.last_producer_epoch,
            self.txn_timeout_ms,
            frozenset(),
            self.txn_start_ms,
            self.txn_last_update_ms,
        )

    def _prepare(
        self,
        state: TxnState,
        producer_id: int,
        epoch: int,
        last_epoch: int,
        txn_timeout_ms: int,
        partitions: frozenset[TopicPartition],
        txn_start_ms: int,
        now_ms: int,
        *,
        next_producer_id: int = NO_PRODUCER_ID,
        client_txn_version: int = TV_0,
    ) -> TxnTransit:
        if self.pending_state is not None:
            raise TxnStateError(
                f"{self.transactional_id}: transition to {state.kafka_name} while "
                f"{self.pending_state.kafka_name} is pending"
            )
        if producer_id < 0:
            raise TxnStateError(f"illegal producer id {producer_id}")
        if state != TxnState.DEAD and epoch < 0:
            raise TxnStateError(f"illegal producer epoch {epoch}")
        if self.state not in VALID_PREVIOUS[state]:
            raise TxnStateError(
                f"{self.transactional_id}: {self.state.kafka_name} -> {state.kafka_name} "
                "is not a transition"
            )
        self.pending_state = state
        return TxnTransit(
            producer_id=producer_id,
            prev_producer_id=self.producer_id,
            next_producer_id=next_producer_id,
            producer_epoch=epoch,
            last_producer_epoch=last_epoch,
            txn_timeout_ms=txn_timeout_ms,
            state=state,
            partitions=partitions,
            txn_start_ms=txn_start_ms,
            txn_last_update_ms=now_ms,
            client_txn_version=client_txn_version,
        )

    # -- completing --------------------------------------------------------------------------

    def abandon_transition(self) -> None:
        """The write of the pending transition failed: nothing changes."""
        self.pending_state = None

    def complete_transition(self, transit: TxnTransit) -> None:
        """The transit's record is written and replicated: apply it (checked as Kafka's
        completeTransitionTo checks it)."""
        to = self.pending_state
        if to is None or to != transit.state:
            self._fail(transit)
        if to == TxnState.EMPTY:
            bumped = transit.producer_epoch == self.producer_epoch + 1 or (
                transit.producer_epoch == 0 and transit.producer_id != self.producer_id
            )
            if (
                (self.producer_epoch != transit.producer_epoch and not bumped)
                or transit.partitions
                or transit.txn_start_ms != -1
            ):
                self._fail(transit)
            self.txn_timeout_ms = transit.txn_timeout_ms
            self.producer_epoch = transit.producer_epoch
            self.last_producer_epoch = transit.last_producer_epoch
            self.producer_id = transit.producer_id
            self.previous_producer_id = transit.prev_producer_id
        elif to == TxnState.ONGOING:
            if (
                not self._valid_epoch(transit)
                or not self.partitions <= transit.partitions
                or self.txn_timeout_ms != transit.txn_timeout_ms
            ):
                self._fail(transit)
            self.txn_start_ms = transit.txn_start_ms
            self.partitions |= transit.partitions
        elif to in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
            # An abort with nothing added starts (and ends) its transaction now.
            started_now = self.state != TxnState.ONGOING and not self.partitions
            if (
                not self._valid_epoch(transit)
                or self.partitions != transit.partitions
                or self.txn_timeout_ms != transit.txn_timeout_ms
                or (self.txn_start_ms != transit.txn_start_ms and not started_now)
            ):
                self._fail(transit)
            self.txn_start_ms = transit.txn_start_ms
            if transit.client_txn_version >= TV_2:
                self.producer_epoch = transit.producer_epoch
                self.last_producer_epoch = transit.last_producer_epoch
                self.next_producer_id = transit.next_producer_id
        elif to in (TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT):
            if (
                not self._valid_epoch(transit)
                or self.txn_timeout_ms != transit.txn_timeout_ms
                or transit.txn_start_ms == -1
            ):
                self._fail(transit)
            self.txn_start_ms = transit.txn_start_ms
            self.partitions.clear()
            if transit.client_txn_version >= TV_2:
                self.producer_epoch = transit.producer_epoch
                self.last_producer_epoch = transit.last_producer_epoch
                self.previous_producer_id = transit.prev_producer_id
                self.producer_id = transit.producer_id
                self.next_producer_id = transit.next_producer_id
        else:
            # PrepareEpochFence is never written; Dead ends with the id's removal instead.
            self._fail(transit)
        self.client_txn_version = transit.client_txn_version
        self.txn_last_update_ms = transit.txn_last_update_ms
        self.pending_state = None
        self.state = to

    def _valid_epoch(self, transit: TxnTransit) -> bool:
        v2 = transit.client_txn_version >= TV_2
        completing = transit.state in (TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)
        overflow_complete = v2 and completing and transit.producer_epoch == 0
        preparing = transit.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)
        epoch = (
            transit.last_producer_epoch
            if overflow_complete or (v2 and preparing)
            else transit.producer_epoch
        )
        producer_id = transit.prev_producer_id if overflow_complete else transit.producer_id
        return epoch == self.producer_epoch and producer_id == self.producer_id

    def _fail(self, transit: TxnTransit) -> None:
        raise TxnStateError(f"{self.transactional_id}: cannot complete {self} -> {transit}")


_NOT_IN_TXN = frozenset({TxnState.EMPTY, TxnState.COMPLETE_ABORT, TxnState.COMPLETE_COMMIT})
