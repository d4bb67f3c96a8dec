"""What the transaction coordinator decides for each request, before it writes anything
(Kafka's ``TransactionCoordinator`` handle* methods, without the I/O): sans-io functions of a
:class:`~ferrokafka.txn.metadata.TransactionMetadata`, each answering a Kafka error code or the
transition to write.

A decision that needs a fresh producer id (a new transactional id, an exhausted epoch)
returns :data:`NEEDS_PRODUCER_ID` when none was given: ids come from the controller (an
await), so the coordinator fetches one and asks again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from ferrokafka.protocol import error_codes as ec
from ferrokafka.txn.metadata import (
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    SHORT_MAX,
    TV_2,
    TopicPartition,
    TransactionMetadata,
    TxnState,
    TxnStateError,
    TxnTransit,
    is_epoch_exhausted,
)


class _Needs(enum.Enum):
    PRODUCER_ID = "producer id"


NEEDS_PRODUCER_ID = _Needs.PRODUCER_ID
Decision = int | TxnTransit | _Needs


def init_producer_id(
    md: TransactionMetadata,
    txn_timeout_ms: int,
    expected: tuple[int, int] | None,
    now_ms: int,
    new_producer_id: int | None = None,
) -> Decision:
    """InitProducerId of an existing (or just created, epoch -1) transactional id.
    ``expected``: the (producer id, epoch) the producer had (KIP-360), or None. A
    PREPARE_EPOCH_FENCE transit means: abort the ongoing transaction with it first (the
    client gets CONCURRENT_TRANSACTIONS and retries)."""
    if md.pending:
        return ec.CONCURRENT_TRANSACTIONS
    if expected is not None and not (
        md.producer_epoch == NO_PRODUCER_EPOCH
        or expected[0] == md.producer_id
        or (expected[0] == md.previous_producer_id and is_epoch_exhausted(expected[1]))
    ):
        return ec.PRODUCER_FENCED
    if md.state in (TxnState.PREPARE_ABORT, TxnState.PREPARE_COMMIT):
        return ec.CONCURRENT_TRANSACTIONS
    if md.state == TxnState.ONGOING:
        return md.prepare_fence_producer_epoch()
    if md.state in (TxnState.EMPTY, TxnState.COMPLETE_ABORT, TxnState.COMPLETE_COMMIT):
        if md.epoch_exhausted and (expected is None or expected[1] == md.producer_epoch):
            if new_producer_id is None:
                return NEEDS_PRODUCER_ID
            return md.prepare_producer_id_rotation(
                new_producer_id, txn_timeout_ms, now_ms, expected is not None
            )
        transit = md.prepare_increment_producer_epoch(
            txn_timeout_ms, None if expected is None else expected[1], now_ms
        )
        return ec.PRODUCER_FENCED if transit is None else transit
    raise TxnStateError(f"{md.transactional_id} is {md.state.kafka_name}: never a current state")


def add_partitions(
    md: TransactionMetadata,
    producer_id: int,
    producer_epoch: int,
    partitions: Iterable[TopicPartition],
    now_ms: int,
    client_txn_version: int | None = None,
) -> Decision:
    """AddPartitionsToTxn / AddOffsetsToTxn: 0 when every partition is in the ongoing
    transaction already."""
    wanted = frozenset(partitions)
    if md.producer_id != producer_id:
        return ec.INVALID_PRODUCER_ID_MAPPING
    if md.producer_epoch != producer_epoch:
        return ec.PRODUCER_FENCED
    if md.pending or md.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
        return ec.CONCURRENT_TRANSACTIONS
    if md.state == TxnState.ONGOING and wanted <= md.partitions:
        return ec.NONE
    return md.prepare_add_partitions(wanted, now_ms, client_txn_version)


def verify_partitions(
    md: TransactionMetadata | None,
    producer_id: int,
    producer_epoch: int,
    partitions: Iterable[TopicPartition],
) -> dict[TopicPartition, int]:
    """AddPartitionsToTxn ``verify_only`` (KIP-890 part 1): is each partition in the
    producer's ongoing transaction? (TRANSACTION_ABORTABLE when not, as Kafka answers.)"""
    wanted = list(partitions)

    def every(code: int) -> dict[TopicPartition, int]:
        return dict.fromkeys(wanted, code)

    if md is None or md.producer_id != producer_id:
        return every(ec.INVALID_PRODUCER_ID_MAPPING)
    if md.producer_epoch != producer_epoch:
        return every(ec.PRODUCER_FENCED)
    if md.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
        return every(ec.CONCURRENT_TRANSACTIONS)
    return {tp: ec.NONE if tp in md.partitions else ec.TRANSACTION_ABORTABLE for tp in wanted}


def end_txn(
    md: TransactionMetadata,
    producer_id: int,
    producer_epoch: int,
    commit: bool,
    *,
    from_client: bool,
    client_txn_version: int,
    now_ms: int,
    new_producer_id: int | None = None,
) -> Decision:
    """EndTxn (or the coordinator's own abort of a timed-out or fenced transaction,
    ``from_client`` False, with the fence's bumped epoch). 0 with no transit: the same end
    was already completed (a retry). transaction.version 2 clients: :func:`_end_txn_v2`;
    the others as Kafka 4.4's endTransactionWithTV1."""
    fencing = md.pending_state == TxnState.PREPARE_EPOCH_FENCE
    if fencing and from_client:
        # The coordinator fences and aborts in one step (no await between), so a client
        # never meets this; should one, it retries.
        return ec.CONCURRENT_TRANSACTIONS
    if client_txn_version >= TV_2 and not fencing:
        return _end_txn_v2(md, producer_id, producer_epoch, commit, now_ms, new_producer_id)
    valid_epoch = (
        not from_client or producer_epoch == md.producer_epoch
    ) and producer_epoch >= md.producer_epoch
    if md.producer_id != producer_id:
        return ec.INVALID_PRODUCER_ID_MAPPING
    if not valid_epoch:
        return ec.PRODUCER_FENCED
    if md.pending and not fencing:
        return ec.CONCURRENT_TRANSACTIONS
    state = md.state
    if state == TxnState.ONGOING:
        target = TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT
        if fencing:
            if commit:
                return ec.INVALID_TXN_STATE
            # The fence becomes the abort, one epoch bump in all (Kafka 4.4: a fenced or
            # timed-out transaction's abort carries epoch + 1 at every transaction.version).
            # Before version 2 the fence's bumped epoch is the transaction's now; from version
            # 2 the abort's own bump is the fence.
            md.pending_state = None
            if client_txn_version < TV_2:
                md.producer_epoch = producer_epoch
                md.last_producer_epoch = NO_PRODUCER_EPOCH
        return md.prepare_abort_or_commit(target, client_txn_version, NO_PRODUCER_ID, now_ms)
    if state == TxnState.COMPLETE_COMMIT:
        return ec.NONE if commit else ec.INVALID_TXN_STATE
    if state == TxnState.COMPLETE_ABORT:
        return ec.INVALID_TXN_STATE if commit else ec.NONE
    if state == TxnState.PREPARE_COMMIT:
        return ec.CONCURRENT_TRANSACTIONS if commit else ec.INVALID_TXN_STATE
    if state == TxnState.PREPARE_ABORT:
        return ec.INVALID_TXN_STATE if commit else ec.CONCURRENT_TRANSACTIONS
    if state == TxnState.EMPTY:
        return ec.INVALID_TXN_STATE
    raise TxnStateError(f"{md.transactional_id} is {state.kafka_name}: never a current state")


def _end_txn_v2(
    md: TransactionMetadata,
    producer_id: int,
    producer_epoch: int,
    commit: bool,
    now_ms: int,
    new_producer_id: int | None,
) -> Decision:
    """EndTxn of a transaction.version 2 producer (EndTxn v5, Kafka 4.4's endTransaction):
    every end bumps the epoch, so a retry comes with the epoch before the bump; an abort with
    nothing added is a real abort too (its epoch bump is what the producer wants)."""
    retry_on_overflow = (
        md.previous_producer_id == producer_id
        and producer_epoch == SHORT_MAX - 1
        and md.producer_epoch == 0
    )
    retry_on_bump = md.producer_epoch == producer_epoch + 1
    state = md.state
    if state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
        valid_epoch = retry_on_bump
    elif state in (TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT):
        valid_epoch = retry_on_bump or retry_on_overflow or producer_epoch == md.producer_epoch
    else:
        valid_epoch = producer_epoch == md.producer_epoch
    if md.producer_id != producer_id and not retry_on_overflow:
        return ec.INVALID_PRODUCER_ID_MAPPING
    if not valid_epoch:
        return ec.PRODUCER_FENCED
    if md.pending:
        return ec.CONCURRENT_TRANSACTIONS
    retry = retry_on_bump or retry_on_overflow
    if state == TxnState.PREPARE_COMMIT:
        return ec.CONCURRENT_TRANSACTIONS if commit else ec.INVALID_TXN_STATE
    if state == TxnState.PREPARE_ABORT:
        return ec.INVALID_TXN_STATE if commit else ec.CONCURRENT_TRANSACTIONS
    if state == TxnState.COMPLETE_COMMIT and commit:
        return ec.NONE if retry else ec.INVALID_TXN_STATE
    if state == TxnState.COMPLETE_ABORT and not commit and retry:
        return ec.NONE
    if state in (TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT, TxnState.EMPTY) and (
        commit or retry
    ):
        return ec.INVALID_TXN_STATE
    if state not in (
        TxnState.ONGOING,
        TxnState.EMPTY,
        TxnState.COMPLETE_COMMIT,
        TxnState.COMPLETE_ABORT,
    ):
        raise TxnStateError(f"{md.transactional_id} is {state.kafka_name}: never a current state")
    next_producer_id = NO_PRODUCER_ID
    if md.epoch_exhausted:
        if new_producer_id is None:
            return NEEDS_PRODUCER_ID
        next_producer_id = new_producer_id
    target = TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT
    return md.prepare_abort_or_commit(
        target,
        TV_2,
        next_producer_id,
        now_ms,
        no_partitions_added=state != TxnState.ONGOING,
    )
