"""The transaction state machine (txn/metadata.py) and the coordinator's decisions
(txn/operations.py), sans-io: table tests of Kafka's transitions and error codes, and a seeded
random sequence of requests (with failed writes) checking invariants after every step."""

from __future__ import annotations

import random

import pytest

from ferrokafka.protocol import error_codes as ec
from ferrokafka.txn import operations as ops
from ferrokafka.txn import serde
from ferrokafka.txn.metadata import (
    EPOCH_EXHAUSTED_AT,
    TV_0,
    TV_2,
    TransactionMetadata,
    TxnState,
    TxnStateError,
    TxnTransit,
)

NOW = 1_000_000
TIMEOUT = 60_000
T0 = ("t", 0)
T1 = ("t", 1)


def applied(md: TransactionMetadata, decision: ops.Decision) -> TxnTransit:
    """Complete ``decision`` as if its record was written."""
    assert isinstance(decision, TxnTransit), decision
    md.complete_transition(decision)
    return decision


def fresh(producer_id: int = 7) -> TransactionMetadata:
    md = TransactionMetadata("tx", producer_id, txn_timeout_ms=TIMEOUT, txn_last_update_ms=NOW)
    applied(md, ops.init_producer_id(md, TIMEOUT, None, NOW))
    return md


def ongoing(*partitions: tuple[str, int]) -> TransactionMetadata:
    md = fresh()
    applied(md, ops.add_partitions(md, 7, 0, partitions or (T0,), NOW))
    return md


# -- InitProducerId -------------------------------------------------------------------------


def test_a_new_id_starts_at_epoch_0_and_each_init_bumps_it() -> None:
    md = fresh()
    assert (md.producer_id, md.producer_epoch, md.state) == (7, 0, TxnState.EMPTY)
    applied(md, ops.init_producer_id(md, TIMEOUT, None, NOW))
    assert (md.producer_epoch, md.last_producer_epoch) == (1, -1)


@pytest.mark.parametrize(
    ("expected", "result"),
    [
        ((7, 3), (4, 3)),  # the current epoch: bumped, the old one remembered (KIP-360)
        ((7, 2), (3, 2)),  # the last epoch: a retry of a bump that succeeded, same answer
        ((7, 1), ec.PRODUCER_FENCED),  # older: a zombie
        ((8, 3), ec.PRODUCER_FENCED),  # another producer id
    ],
)
def test_init_with_the_producer_s_id_and_epoch(
    expected: tuple[int, int], result: tuple[int, int] | int
) -> None:
    md = fresh()
    applied(md, ops.init_producer_id(md, TIMEOUT, (7, 0), NOW))  # epoch 1, last 0
    applied(md, ops.init_producer_id(md, TIMEOUT, (7, 1), NOW))  # epoch 2, last 1
    applied(md, ops.init_producer_id(md, TIMEOUT, (7, 2), NOW))  # epoch 3, last 2
    decision = ops.init_producer_id(md, TIMEOUT, expected, NOW)
    if isinstance(result, int):
        assert decision == result
        assert md.pending_state is None
    else:
        applied(md, decision)
        assert (md.producer_epoch, md.last_producer_epoch) == result


def test_an_exhausted_epoch_gets_a_new_producer_id_at_epoch_0() -> None:
    md = fresh()
    md.producer_epoch = EPOCH_EXHAUSTED_AT
    old = (7, EPOCH_EXHAUSTED_AT)
    assert ops.init_producer_id(md, TIMEOUT, old, NOW) is ops.NEEDS_PRODUCER_ID
    transit = applied(md, ops.init_producer_id(md, TIMEOUT, old, NOW, new_producer_id=99))
    assert (md.producer_id, md.producer_epoch, md.previous_producer_id) == (99, 0, 7)
    assert transit.last_producer_epoch == EPOCH_EXHAUSTED_AT
    # The producer retrying with its old id and exhausted epoch gets the same answer.
    again = applied(md, ops.init_producer_id(md, TIMEOUT, old, NOW))
    assert (again.producer_id, again.producer_epoch) == (99, 0)
    # Without the producer's id and epoch, no epoch is remembered.
    md.producer_epoch = EPOCH_EXHAUSTED_AT
    applied(md, ops.init_producer_id(md, TIMEOUT, None, NOW, new_producer_id=100))
    assert (md.producer_id, md.producer_epoch, md.last_producer_epoch) == (100, 0, -1)
    assert ops.init_producer_id(md, TIMEOUT, (99, 5), NOW) == ec.PRODUCER_FENCED


def test_init_during_an_ongoing_transaction_fences_it() -> None:
    md = ongoing(T0)
    fence = ops.init_producer_id(md, TIMEOUT, None, NOW)
    assert isinstance(fence, TxnTransit) and fence.state == TxnState.PREPARE_EPOCH_FENCE
    assert fence.producer_epoch == 1
    abort = ops.end_txn(
        md, 7, fence.producer_epoch, False, from_client=False, client_txn_version=TV_0, now_ms=NOW
    )
    applied(md, abort)
    assert (md.state, md.producer_epoch, md.partitions) == (TxnState.PREPARE_ABORT, 1, {T0})
    # The old producer's commit is fenced; so is its add.
    assert ops.end_txn(md, 7, 0, True, from_client=True, client_txn_version=0, now_ms=NOW) == (
        ec.PRODUCER_FENCED
    )
    assert ops.add_partitions(md, 7, 0, [T1], NOW) == ec.PRODUCER_FENCED
    # Until the markers are written, a new init waits.
    assert ops.init_producer_id(md, TIMEOUT, None, NOW) == ec.CONCURRENT_TRANSACTIONS
    applied(md, md.prepare_complete(NOW))
    assert (md.state, md.partitions) == (TxnState.COMPLETE_ABORT, set())
    applied(md, ops.init_producer_id(md, TIMEOUT, None, NOW))
    assert md.producer_epoch == 2


def test_a_pending_write_blocks_every_other_transition() -> None:
    md = fresh()
    pending = ops.add_partitions(md, 7, 0, [T0], NOW)
    assert isinstance(pending, TxnTransit)
    assert ops.init_producer_id(md, TIMEOUT, None, NOW) == ec.CONCURRENT_TRANSACTIONS
    assert ops.add_partitions(md, 7, 0, [T1], NOW) == ec.CONCURRENT_TRANSACTIONS
    with pytest.raises(TxnStateError):
        md.prepare_dead()
    md.abandon_transition()  # the write failed: nothing changed
    assert (md.state, md.partitions) == (TxnState.EMPTY, set())


# -- AddPartitionsToTxn and verification ----------------------------------------------------


def test_add_partitions_errors_and_idempotence() -> None:
    md = fresh()
    assert ops.add_partitions(md, 8, 0, [T0], NOW) == ec.INVALID_PRODUCER_ID_MAPPING
    assert ops.add_partitions(md, 7, 1, [T0], NOW) == ec.PRODUCER_FENCED
    transit = applied(md, ops.add_partitions(md, 7, 0, [T0], NOW + 5))
    assert (md.state, md.txn_start_ms, transit.txn_start_ms) == (TxnState.ONGOING, NOW + 5, NOW + 5)
    assert ops.add_partitions(md, 7, 0, [T0], NOW + 9) == ec.NONE  # already there
    applied(md, ops.add_partitions(md, 7, 0, [T1], NOW + 9))
    assert md.partitions == {T0, T1} and md.txn_start_ms == NOW + 5


def test_verify_only() -> None:
    md = ongoing(T0)
    assert ops.verify_partitions(md, 7, 0, [T0, T1]) == {
        T0: ec.NONE,
        T1: ec.TRANSACTION_ABORTABLE,
    }
    assert ops.verify_partitions(md, 7, 1, [T0]) == {T0: ec.PRODUCER_FENCED}
    assert ops.verify_partitions(md, 8, 0, [T0]) == {T0: ec.INVALID_PRODUCER_ID_MAPPING}
    assert ops.verify_partitions(None, 7, 0, [T0]) == {T0: ec.INVALID_PRODUCER_ID_MAPPING}
    applied(md, ops.end_txn(md, 7, 0, True, from_client=True, client_txn_version=0, now_ms=NOW))
    assert ops.verify_partitions(md, 7, 0, [T0]) == {T0: ec.CONCURRENT_TRANSACTIONS}


# -- EndTxn ---------------------------------------------------------------------------------


def end(md: TransactionMetadata, commit: bool, epoch: int = 0, tv: int = TV_0) -> ops.Decision:
    return ops.end_txn(md, 7, epoch, commit, from_client=True, client_txn_version=tv, now_ms=NOW)


def test_end_txn_state_table() -> None:
    md = fresh()
    assert end(md, True) == ec.INVALID_TXN_STATE  # nothing to end
    md = ongoing(T0)
    assert end(md, True, epoch=1) == ec.PRODUCER_FENCED
    assert (
        ops.end_txn(md, 8, 0, True, from_client=True, client_txn_version=0, now_ms=NOW)
        == ec.INVALID_PRODUCER_ID_MAPPING
    )
    applied(md, end(md, True))
    assert md.state == TxnState.PREPARE_COMMIT
    assert end(md, True) == ec.CONCURRENT_TRANSACTIONS  # markers still being written
    assert end(md, False) == ec.INVALID_TXN_STATE
    applied(md, md.prepare_complete(NOW))
    assert md.state == TxnState.COMPLETE_COMMIT
    assert end(md, True) == ec.NONE  # a retry of the commit that succeeded
    assert end(md, False) == ec.INVALID_TXN_STATE


def test_transaction_version_2_bumps_the_epoch_on_every_end() -> None:
    md = fresh()
    applied(md, ops.add_partitions(md, 7, 0, [T0], NOW, client_txn_version=TV_2))
    prepare = applied(md, end(md, True, tv=TV_2))
    assert (prepare.producer_epoch, md.producer_epoch, md.last_producer_epoch) == (1, 1, 0)
    assert end(md, True, epoch=0, tv=TV_2) == ec.CONCURRENT_TRANSACTIONS  # retry, markers pending
    applied(md, md.prepare_complete(NOW))
    assert (md.state, md.producer_epoch) == (TxnState.COMPLETE_COMMIT, 1)
    assert end(md, True, epoch=0, tv=TV_2) == ec.NONE  # the retry after the bump
    assert end(md, False, epoch=0, tv=TV_2) == ec.INVALID_TXN_STATE  # a retry, of a commit
    # With the new epoch: nothing to commit; but an abort with nothing added is an abort
    # (Kafka 4.4: the producer wants its epoch bumped), and starts and ends at once.
    assert end(md, True, epoch=1, tv=TV_2) == ec.INVALID_TXN_STATE
    assert end(md, True, epoch=3, tv=TV_2) == ec.PRODUCER_FENCED
    empty_abort = applied(md, end(md, False, epoch=1, tv=TV_2))
    assert (empty_abort.state, empty_abort.producer_epoch, empty_abort.partitions) == (
        TxnState.PREPARE_ABORT,
        2,
        frozenset(),
    )
    applied(md, md.prepare_complete(NOW + 1))
    assert (md.state, md.producer_epoch) == (TxnState.COMPLETE_ABORT, 2)
    assert end(md, False, epoch=1, tv=TV_2) == ec.NONE  # its retry
    # From Empty too; a commit of nothing is not.
    md = fresh()
    assert end(md, True, tv=TV_2) == ec.INVALID_TXN_STATE
    applied(md, end(md, False, tv=TV_2))
    assert (md.state, md.producer_epoch) == (TxnState.PREPARE_ABORT, 1)


def test_transaction_version_2_end_at_an_exhausted_epoch_rotates_the_producer_id() -> None:
    md = fresh()
    applied(md, ops.add_partitions(md, 7, 0, [T0], NOW, client_txn_version=TV_2))
    md.producer_epoch = EPOCH_EXHAUSTED_AT
    assert end(md, True, epoch=EPOCH_EXHAUSTED_AT, tv=TV_2) is ops.NEEDS_PRODUCER_ID
    decision = ops.end_txn(
        md,
        7,
        EPOCH_EXHAUSTED_AT,
        True,
        from_client=True,
        client_txn_version=TV_2,
        now_ms=NOW,
        new_producer_id=50,
    )
    prepare = applied(md, decision)
    assert (prepare.producer_epoch, prepare.next_producer_id) == (EPOCH_EXHAUSTED_AT + 1, 50)
    applied(md, md.prepare_complete(NOW))
    assert (md.producer_id, md.producer_epoch, md.previous_producer_id) == (50, 0, 7)
    # The producer retrying its end with the old id and epoch is recognised.
    assert (
        ops.end_txn(
            md, 7, EPOCH_EXHAUSTED_AT, True, from_client=True, client_txn_version=TV_2, now_ms=NOW
        )
        == ec.NONE
    )


def test_records_round_trip_through_the_log_format() -> None:
    md = ongoing(T0, T1, ("u", 3))
    for version in (0, 1):
        value = serde.encode_transit(md.prepare_add_partitions(frozenset(), NOW), version)
        md.abandon_transition()
        _, decoded = serde.decode_value(value)
        back = serde.metadata_from_value("tx", decoded)
        assert (back.state, back.partitions, back.producer_epoch) == (
            TxnState.ONGOING,
            {T0, T1, ("u", 3)},
            0,
        )


# -- a seeded random sequence ---------------------------------------------------------------


@pytest.mark.parametrize("tv", [TV_0, TV_2])
@pytest.mark.parametrize("seed", range(40))
def test_random_requests_keep_the_invariants(seed: int, tv: int) -> None:
    """With transaction.version 2 every end bumps the epoch, so the previous epoch is fenced
    too, but its retries of an end are answered (with no transition)."""
    rng = random.Random(seed)
    md = fresh()
    fenced: set[tuple[int, int]] = set()  # (producer id, epoch) pairs a newer init replaced
    current = (md.producer_id, md.producer_epoch)
    next_id = 100
    for step in range(300):
        epoch = current[1] if rng.random() < 0.8 else rng.choice([current[1] - 1, current[1] + 1])
        pid = current[0] if rng.random() < 0.9 else current[0] + 1
        op = rng.choice(["init", "add", "commit", "abort", "markers", "verify"])
        before = (md.state, md.producer_id, md.producer_epoch)
        bumps = 0 if md.has_failed_epoch_fence else 1
        decision: ops.Decision
        fencing = False
        if op == "init":
            expected = None if rng.random() < 0.5 else (pid, epoch)
            decision = ops.init_producer_id(md, TIMEOUT, expected, NOW + step)
            if decision is ops.NEEDS_PRODUCER_ID:
                next_id += 1
                decision = ops.init_producer_id(md, TIMEOUT, expected, NOW + step, next_id)
            if isinstance(decision, TxnTransit) and decision.state == TxnState.PREPARE_EPOCH_FENCE:
                fencing = True
                decision = ops.end_txn(
                    md,
                    decision.producer_id,
                    decision.producer_epoch,
                    False,
                    from_client=False,
                    client_txn_version=TV_0,
                    now_ms=NOW + step,
                )
        elif op == "add":
            parts = rng.sample([T0, T1, ("u", 0)], rng.randint(1, 2))
            decision = ops.add_partitions(
                md, pid, epoch, parts, NOW + step, tv if tv == TV_2 else None
            )
        elif op in ("commit", "abort"):
            decision = ops.end_txn(
                md,
                pid,
                epoch,
                op == "commit",
                from_client=True,
                client_txn_version=tv,
                now_ms=NOW + step,
            )
            if decision is ops.NEEDS_PRODUCER_ID:
                next_id += 1
                decision = ops.end_txn(
                    md,
                    pid,
                    epoch,
                    op == "commit",
                    from_client=True,
                    client_txn_version=tv,
                    now_ms=NOW + step,
                    new_producer_id=next_id,
                )
        elif op == "markers":
            if md.state not in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
                continue
            decision = md.prepare_complete(NOW + step)
        else:
            codes = ops.verify_partitions(md, pid, epoch, [T0])
            if (pid, epoch) in fenced:
                assert codes[T0] != ec.NONE
            continue
        if (pid, epoch) in fenced and op in ("add", "commit", "abort"):
            assert not isinstance(decision, TxnTransit), (step, op)
            if tv == TV_0 or op == "add":
                assert decision != ec.NONE, (step, op)
        if isinstance(decision, TxnTransit):
            if rng.random() < 0.1:
                md.abandon_transition()  # the write failed
                if fencing:
                    # Kafka keeps the fence's bumped epoch (never handed out) and does not
                    # bump again on the next fence.
                    md.has_failed_epoch_fence = True
                    assert md.state == before[0] and md.producer_epoch == before[2] + bumps
                else:
                    assert (md.state, md.producer_id, md.producer_epoch) == before
            else:
                md.complete_transition(decision)
        assert md.pending_state is None
        if (md.producer_id, md.producer_epoch) != current:
            # A new epoch (or id): the old one is fenced for good, and epochs only go up.
            assert md.producer_id != current[0] or md.producer_epoch > current[1]
            fenced.add(current)
            current = (md.producer_id, md.producer_epoch)
        if md.state in (TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT):
            assert not md.partitions
        assert 0 <= md.producer_epoch <= EPOCH_EXHAUSTED_AT + 1
        assert md.state not in (TxnState.DEAD, TxnState.PREPARE_EPOCH_FENCE)
