"""The share-partition state machine (ferrokafka.share.partition), sans-io: unit tests of each
rule, and a seeded simulation of members acquiring, acknowledging, releasing, crashing and
locks expiring, with the invariants checked after every step."""

from __future__ import annotations

import random

import pytest

from ferrokafka.protocol import error_codes as ec
from ferrokafka.share.partition import (
    ACCEPT,
    CLIENT_REJECT,
    DELIVERY_COUNT_EXCEEDED,
    GAP,
    REJECT,
    RELEASE,
    RENEW,
    Acquired,
    DeadLetter,
    ShareConfig,
    SharePartition,
)
from ferrokafka.share.persister import (
    ACKNOWLEDGED,
    ACQUIRED,
    ARCHIVED,
    ARCHIVING,
    AVAILABLE,
    StateBatch,
)

CONFIG = ShareConfig(record_lock_duration_ms=1000, delivery_count_limit=3, max_record_locks=50)


def test_acquire_new_records_then_nothing_left() -> None:
    sp = SharePartition(0, CONFIG)
    assert sp.acquire("a", [(0, 4), (5, 9)], 100, now_ms=0) == [Acquired(0, 9, 1)]
    assert sp.end_offset == 10
    assert sp.acquire("b", [(0, 4), (5, 9)], 100, now_ms=0) == []  # all held by a


def test_max_records_bounds_acquisition() -> None:
    sp = SharePartition(0, CONFIG)
    assert sp.acquire("a", [(0, 9)], 3, now_ms=0) == [Acquired(0, 2, 1)]
    assert sp.next_fetch_offset() == 3
    assert sp.acquire("b", [(3, 9)], 3, now_ms=0) == [Acquired(3, 5, 1)]


def test_accept_moves_the_start_offset() -> None:
    sp = SharePartition(0, CONFIG)
    sp.acquire("a", [(0, 4)], 100, now_ms=0)
    assert sp.acknowledge("a", [(0, 2, [ACCEPT])], now_ms=0) == ec.NONE
    assert sp.start_offset == 3
    assert sp.records[3].state == ACQUIRED


def test_release_redelivers_with_a_higher_count() -> None:
    sp = SharePartition(0, CONFIG)
    sp.acquire("a", [(0, 1)], 100, now_ms=0)
    assert sp.acknowledge("a", [(0, 1, [RELEASE, ACCEPT])], now_ms=0) == ec.NONE
    assert sp.start_offset == 0 and sp.records[0].state == AVAILABLE
    assert sp.next_fetch_offset() == 0
    assert sp.acquire("b", [(0, 1)], 100, now_ms=0) == [Acquired(0, 0, 2)]


def test_reject_archives() -> None:
    sp = SharePartition(0, CONFIG)
    sp.acquire("a", [(0, 1)], 100, now_ms=0)
    assert sp.acknowledge("a", [(0, 0, [REJECT])], now_ms=0) == ec.NONE
    assert sp.start_offset == 1
    assert sp.acquire("a", [(0, 1)], 100, now_ms=0) == []


def test_ack_of_records_not_held_is_invalid_record_state_and_changes_nothing() -> None:
    sp = SharePartition(0, CONFIG)
    sp.acquire("a", [(0, 3)], 100, now_ms=0)
    assert sp.acknowledge("b", [(0, 0, [ACCEPT])], now_ms=0) == ec.INVALID_RECORD_STATE
    # One bad offset fails the whole request: offset 0 stays acquired.
    assert sp.acknowledge("a", [(0, 0, [ACCEPT]), (7, 7, [ACCEPT])], 0) == (ec.INVALID_RECORD_STATE)
    assert sp.records[0].state == ACQUIRED
    assert sp.acknowledge("a", [(0, 1, [ACCEPT, 9])], 0) == ec.INVALID_REQUEST
    assert sp.acknowledge("a", [(0, 2, [ACCEPT, ACCEPT])], 0) == ec.INVALID_REQUEST


def test_lock_expiry_and_the_delivery_count_limit() -> None:
    sp = SharePartition(0, CONFIG)
    for delivery in range(1, CONFIG.delivery_count_limit + 1):
        assert sp.acquire("a", [(0, 0)], 100, now_ms=delivery * 10_000) == [
            Acquired(0, 0, delivery)
        ]
        assert not sp.expire_locks(delivery * 10_000 + 999)
        assert sp.expire_locks(delivery * 10_000 + 1000)
    # The third lock expiry reached the limit: archived, the start offset moved past it.
    assert sp.start_offset == 1 and not sp.records


def test_renew_extends_the_lock() -> None:
    sp = SharePartition(0, CONFIG)
    sp.acquire("a", [(0, 0)], 100, now_ms=0)
    assert sp.acknowledge("a", [(0, 0, [RENEW])], now_ms=900) == ec.NONE
    assert not sp.expire_locks(1500)
    assert sp.expire_locks(1900)


def test_release_member_and_gap() -> None:
    sp = SharePartition(0, CONFIG)
    sp.acquire("a", [(0, 1)], 100, now_ms=0)
    sp.acquire("b", [(2, 3)], 100, now_ms=0)
    assert sp.release_member("a")
    assert sp.records[0].state == AVAILABLE and sp.records[2].state == ACQUIRED
    assert sp.acknowledge("b", [(2, 3, [GAP])], now_ms=0) == ec.NONE
    assert sp.records[2].state == ARCHIVED


def test_window_bounds_in_flight_records() -> None:
    sp = SharePartition(0, ShareConfig(max_record_locks=5))
    assert sp.acquire("a", [(0, 99)], 100, now_ms=0) == [Acquired(0, 4, 1)]
    assert not sp.can_acquire()
    sp.acknowledge("a", [(0, 1, [ACCEPT])], now_ms=0)
    assert sp.acquire("b", [(5, 99)], 100, now_ms=0) == [Acquired(5, 6, 1)]


def test_log_start_moving_up_drops_in_flight_records() -> None:
    sp = SharePartition(0, CONFIG)
    sp.acquire("a", [(0, 9)], 100, now_ms=0)
    assert sp.on_log_start(5)
    assert sp.start_offset == 5 and min(sp.records) == 5
    assert sp.on_log_start(20) and sp.start_offset == 20 and sp.end_offset == 20
    assert not sp.on_log_start(3)


def test_persisted_batches_and_restore() -> None:
    sp = SharePartition(0, CONFIG)
    sp.acquire("a", [(0, 5)], 100, now_ms=0)
    sp.acknowledge("a", [(1, 2, [ACCEPT]), (3, 3, [REJECT]), (4, 4, [RELEASE])], now_ms=0)
    batches = sp.state_batches()
    assert batches == (
        StateBatch(0, 0, AVAILABLE, 1),  # acquired: persisted as available
        StateBatch(1, 2, ACKNOWLEDGED, 1),
        StateBatch(3, 3, ARCHIVED, 1),
        StateBatch(4, 5, AVAILABLE, 1),
    )
    back = SharePartition.restored(sp.start_offset, batches, CONFIG)
    assert back.end_offset == 6 and back.next_fetch_offset() == 0
    assert back.acquire("b", [(0, 5)], 100, now_ms=0) == [
        Acquired(0, 0, 2),
        Acquired(4, 5, 2),
    ]


def test_archived_batches_are_skipped_and_done() -> None:
    sp = SharePartition(0, CONFIG)
    got = sp.acquire("a", [(0, 1), (2, 4), (5, 5)], 100, now_ms=0, archive=[(2, 4)])
    assert got == [Acquired(0, 1, 1), Acquired(5, 5, 1)]
    assert all(sp.records[o].state == ARCHIVED for o in (2, 3, 4))
    sp.acknowledge("a", [(0, 1, [ACCEPT])], now_ms=0)
    assert sp.start_offset == 5  # past the accepted and the archived


def test_aborted_ranges_follow_the_markers() -> None:
    from ferrokafka.share.manager import BatchHeader, aborted_ranges

    headers = [
        BatchHeader(0, 2, 7, transactional=True, control=False),  # aborted txn of 7
        BatchHeader(3, 4, 8, transactional=True, control=False),  # 8 commits
        BatchHeader(5, 5, 7, transactional=False, control=True),  # 7's ABORT marker
        BatchHeader(6, 6, 8, transactional=False, control=True),  # 8's COMMIT marker
        BatchHeader(7, 9, 7, transactional=True, control=False),  # 7's next, committed
        BatchHeader(10, 10, -1, transactional=False, control=False),
    ]
    assert aborted_ranges(headers, ((7, 0),)) == [(0, 2)]
    assert aborted_ranges(headers, ()) == []


@pytest.mark.parametrize("seed", range(20))
def test_simulation_invariants(seed: int) -> None:
    rng = random.Random(seed)
    sp = SharePartition(0, CONFIG)
    members = ["m0", "m1", "m2"]
    log_end = 0
    now = 0
    held: dict[str, set[int]] = {m: set() for m in members}
    max_seen: dict[int, int] = {}
    for _ in range(400):
        now += rng.randrange(0, 400)
        action = rng.random()
        member = rng.choice(members)
        if action < 0.15:
            log_end += rng.randrange(1, 8)
        elif action < 0.45:
            first = sp.next_fetch_offset()
            batches = [(o, o) for o in range(first, log_end)]
            before = {o: (r.state, r.delivery_count) for o, r in sp.records.items()}
            got = sp.acquire(member, batches, rng.randrange(1, 6), now)
            for a in got:
                for o in range(a.first_offset, a.last_offset + 1):
                    state = before.get(o, (AVAILABLE, 0))
                    assert state[0] == AVAILABLE, "acquired a record that was not available"
                    assert a.delivery_count == state[1] + 1
                    held[member].add(o)
        elif action < 0.8 and held[member]:
            # Mostly the member's own records; sometimes another's or some past the end.
            pool = sorted(held[member])
            if rng.random() < 0.2:
                pool = sorted(held[rng.choice(members)] | {rng.randrange(0, log_end + 3)})
            offsets = sorted(rng.sample(pool, rng.randrange(1, len(pool) + 1)))
            kind = rng.choice([ACCEPT, RELEASE, REJECT, RENEW])
            expect_ok = all(
                o in sp.records
                and sp.records[o].state == ACQUIRED
                and sp.records[o].member_id == member
                for o in offsets
            )
            code = sp.acknowledge(member, [(o, o, [kind]) for o in offsets], now)
            assert code == (ec.NONE if expect_ok else ec.INVALID_RECORD_STATE)
        elif action < 0.9:
            sp.expire_locks(now)
            # Every lock that passed was released: AVAILABLE again, or ARCHIVED at the limit.
            assert all(r.state != ACQUIRED or r.lock_deadline_ms > now for r in sp.records.values())
        else:
            sp.release_member(member)
            assert not any(r.member_id == member for r in sp.records.values())
        # The truth of who holds what, from the state machine.
        for m in members:
            held[m] = {o for o, r in sp.records.items() if r.state == ACQUIRED and r.member_id == m}
        _check(sp, now, max_seen)


def _check(sp: SharePartition, now: int, max_seen: dict[int, int]) -> None:
    owners: dict[int, str] = {}
    for offset, record in sp.records.items():
        assert sp.start_offset <= offset < sp.end_offset
        assert 0 <= record.delivery_count <= CONFIG.delivery_count_limit
        assert record.delivery_count >= max_seen.get(offset, 0), "delivery count went down"
        max_seen[offset] = record.delivery_count
        if record.state == ACQUIRED:
            assert record.member_id is not None
            assert offset not in owners  # at most one member at a time
            owners[offset] = record.member_id
        else:
            assert record.member_id is None
        if record.state == AVAILABLE:  # released at the limit would have been archived
            assert record.delivery_count < CONFIG.delivery_count_limit
    # Below the start offset nothing is tracked (done); the first tracked record is not done.
    first = sp.records.get(sp.start_offset)
    if sp.start_offset < sp.end_offset:
        assert first is not None and first.state in (AVAILABLE, ACQUIRED)
    assert sp.end_offset - sp.start_offset <= CONFIG.max_record_locks


# -- the dead-letter queue (share.version 2, KIP-1191) ----------------------------------------

DLQ_CONFIG = ShareConfig(
    record_lock_duration_ms=1000, delivery_count_limit=2, max_record_locks=50, dead_letter=True
)


def test_dead_letter_reject_and_delivery_limit_wait_in_archiving() -> None:
    sp = SharePartition(0, DLQ_CONFIG)
    sp.acquire("a", [(0, 3)], 100, now_ms=0)
    # 0, 1 rejected; 2 released (delivered again); 3 accepted.
    assert sp.acknowledge("a", [(0, 3, [REJECT, REJECT, RELEASE, ACCEPT])], now_ms=0) == ec.NONE
    assert [sp.records[o].state for o in (0, 1)] == [ARCHIVING, ARCHIVING]
    assert sp.start_offset == 0  # waits for the DLQ write
    assert sp.take_dead_letters() == [DeadLetter(0, 1, 1, CLIENT_REJECT)]
    assert sp.take_dead_letters() == []
    assert sp.acquire("b", [(0, 3)], 100, now_ms=0) == [Acquired(2, 2, 2)]
    # The lock of 2 expires at its second delivery, the limit: ARCHIVING too.
    assert sp.expire_locks(now_ms=5000)
    assert sp.records[2].state == ARCHIVING
    assert sp.take_dead_letters() == [DeadLetter(2, 2, 2, DELIVERY_COUNT_EXCEEDED)]
    # Persisted as ARCHIVING (Kafka's RecordState id 3).
    assert sp.state_batches()[:2] == (
        StateBatch(0, 1, ARCHIVING, 1),
        StateBatch(2, 2, ARCHIVING, 2),
    )
    assert sp.dead_lettered(0, 1)
    assert sp.start_offset == 2  # 2 still ARCHIVING
    assert sp.dead_lettered(2, 2)
    assert sp.start_offset == 4 and not sp.records
    assert not sp.dead_lettered(2, 2)


def test_without_dead_letter_queue_reject_archives_at_once() -> None:
    sp = SharePartition(0, CONFIG)
    sp.acquire("a", [(0, 0)], 100, now_ms=0)
    assert sp.acknowledge("a", [(0, 0, [REJECT])], now_ms=0) == ec.NONE
    assert sp.start_offset == 1 and sp.take_dead_letters() == []


def test_restored_archiving_records_are_dead_lettered_again() -> None:
    batches = (StateBatch(5, 6, ARCHIVING, 1), StateBatch(7, 7, ARCHIVING, 2))
    sp = SharePartition.restored(5, batches, DLQ_CONFIG)
    assert sp.start_offset == 5
    # The cause is the delivery count limit where the count reached it (Kafka's
    # maybeResumeDlqArchiving), else a reject.
    assert sp.take_dead_letters() == [
        DeadLetter(5, 6, 1, CLIENT_REJECT),
        DeadLetter(7, 7, 2, DELIVERY_COUNT_EXCEEDED),
    ]
