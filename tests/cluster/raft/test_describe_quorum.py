"""The leader's replica progress as DescribeQuorum reports it (Kafka's
``LeaderState.ReplicaState.updateFollowerState`` and ``RaftUtil.toReplicaState``): fetch and
caught-up times, unknown values, observers with their directory ids, wall-clock times."""

from __future__ import annotations

import uuid

from ferrokafka.cluster.raft.describe import NO_DIRECTORY_ID, describe_quorum
from ferrokafka.cluster.raft.leader import OBSERVER_SESSION_TIMEOUT_MS, LeaderState

WALL_OFFSET_MS = 1_700_000_000_000
DIRECTORY = uuid.UUID("12345678-1234-5678-1234-567812345678")


def leader(now_ms: int = 0) -> LeaderState:
    state = LeaderState(
        local_id=1,
        epoch=3,
        epoch_start_offset=10,
        voters=frozenset({1, 2, 3}),
        granting_voters=frozenset({2}),
        fetch_timeout_ms=2000,
        now_ms=now_ms,
    )
    state.update_local_state(20)
    return state


def test_caught_up_time_follows_kafka() -> None:
    state = leader()
    progress = state.voter_states[2]
    state.update_replica_state(2, 100, 15)  # behind the leader's end (20): not caught up
    assert (progress.last_fetch_ms, progress.last_caught_up_ms) == (100, -1)
    state.update_local_state(25)
    # Reached the leader's end as of the previous fetch (20): caught up as of that fetch.
    state.update_replica_state(2, 200, 20)
    assert (progress.last_fetch_ms, progress.last_caught_up_ms) == (200, 100)
    state.update_replica_state(2, 300, 25)  # at the leader's end: caught up now
    assert (progress.last_fetch_ms, progress.last_caught_up_ms) == (300, 300)
    state.update_local_state(40)
    state.update_replica_state(2, 400, 30)  # behind both: unchanged
    assert (progress.last_fetch_ms, progress.last_caught_up_ms) == (400, 300)
    assert progress.acknowledged


def test_description_of_leader_voters_and_observers() -> None:
    state = leader()
    state.update_replica_state(2, 100, 20)
    assert state.high_watermark == 20
    state.update_replica_state(7, 150, 18, DIRECTORY)
    found = describe_quorum(state, 500, WALL_OFFSET_MS)
    assert (found.leader_id, found.leader_epoch, found.high_watermark) == (1, 3, 20)
    me, two, three = found.voters
    assert (me.replica_id, me.log_end_offset) == (1, 20)
    assert me.last_fetch_timestamp_ms == me.last_caught_up_timestamp_ms == 500 + WALL_OFFSET_MS
    assert (two.log_end_offset, two.last_fetch_timestamp_ms) == (20, 100 + WALL_OFFSET_MS)
    assert two.last_caught_up_timestamp_ms == 100 + WALL_OFFSET_MS
    assert (three.log_end_offset, three.last_fetch_timestamp_ms) == (-1, -1)
    assert three.last_caught_up_timestamp_ms == -1
    assert {v.directory_id for v in found.voters} == {NO_DIRECTORY_ID}  # static voters
    (observer,) = found.observers
    assert (observer.replica_id, observer.directory_id, observer.log_end_offset) == (
        7,
        DIRECTORY,
        18,
    )
    assert observer.last_caught_up_timestamp_ms == -1


def test_no_high_watermark_and_expired_observers() -> None:
    state = leader()
    state.update_replica_state(7, 0, 5)
    found = describe_quorum(state, OBSERVER_SESSION_TIMEOUT_MS, WALL_OFFSET_MS)
    assert found.high_watermark == -1
    assert found.observers == ()
