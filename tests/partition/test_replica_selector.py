"""Kafka's replica selectors (KIP-392) as ``preferred_read_replica`` decides: the rack-aware one
sends a consumer to an in-sync replica in its rack, never to a lagging or fenced one, and keeps it
on the leader when the leader is in its rack or no replica is."""

from __future__ import annotations

from ferrokafka.config.broker_keys import LEADER_SELECTOR, RACK_AWARE_SELECTOR
from ferrokafka.partition.isr import FollowerProgress
from ferrokafka.partition.replica_selector import NO_PREFERRED_REPLICA, preferred_read_replica

RACKS = {1: "a", 2: "b", 3: "b", 4: "c"}
NOW_MS = 100_000.0


def progress(end: int, start: int = 0, caught_up_ms: float = NOW_MS) -> FollowerProgress:
    return FollowerProgress(
        log_end_offset=end, log_start_offset=start, last_caught_up_ms=caught_up_ms
    )


def choose(
    client_rack: str,
    followers: dict[int, FollowerProgress],
    *,
    isr: tuple[int, ...] = (1, 2, 3, 4),
    selector: str | None = RACK_AWARE_SELECTOR,
    fetch_offset: int = 10,
    live: frozenset[int] = frozenset({1, 2, 3, 4}),
) -> int:
    return preferred_read_replica(
        selector,
        client_rack=client_rack,
        leader_id=1,
        leader_end_offset=20,
        isr=isr,
        followers=followers,
        fetch_offset=fetch_offset,
        now_ms=NOW_MS,
        rack_of=RACKS,
        is_live=live.__contains__,
    )


FOLLOWERS = {2: progress(20), 3: progress(18), 4: progress(20)}


def test_a_consumer_in_a_followers_rack_is_sent_to_the_most_caught_up_one() -> None:
    assert choose("b", FOLLOWERS) == 2
    assert choose("c", FOLLOWERS) == 4


def test_ties_go_to_the_most_recently_caught_up_then_the_highest_id() -> None:
    recent = {2: progress(20, caught_up_ms=NOW_MS - 500), 3: progress(20, caught_up_ms=NOW_MS)}
    assert choose("b", recent) == 3
    same = {2: progress(20), 3: progress(20)}
    assert choose("b", same) == 3


def test_the_leader_stays_when_it_is_in_the_rack_or_no_replica_is() -> None:
    assert choose("a", FOLLOWERS) == NO_PREFERRED_REPLICA
    assert choose("z", FOLLOWERS) == NO_PREFERRED_REPLICA
    assert choose("", FOLLOWERS) == NO_PREFERRED_REPLICA


def test_only_live_in_sync_replicas_that_hold_the_offset_are_candidates() -> None:
    assert choose("c", FOLLOWERS, isr=(1, 2, 3)) == NO_PREFERRED_REPLICA  # 4 out of the ISR
    assert choose("c", FOLLOWERS, live=frozenset({1, 2, 3})) == NO_PREFERRED_REPLICA  # fenced
    assert choose("b", {2: progress(5), 3: progress(9)}) == NO_PREFERRED_REPLICA  # both behind
    assert choose("b", {2: progress(20, start=15), 3: progress(20, start=0)}) == 3  # 2 deleted it


def test_the_leader_selector_and_no_selector_keep_the_leader() -> None:
    assert choose("b", FOLLOWERS, selector=LEADER_SELECTOR) == NO_PREFERRED_REPLICA
    assert choose("b", FOLLOWERS, selector=None) == NO_PREFERRED_REPLICA
