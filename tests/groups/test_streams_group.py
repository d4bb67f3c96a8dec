"""Streams groups (KIP-1071) sans-io: the topology resolved against the cluster's topics
(task counts, internal topics to create, statuses) and StreamsGroupHeartbeat's rules (join,
revoke before a task moves, leave, session expiry)."""

from __future__ import annotations

import pytest

from ferrokafka.groups.streams import topology as t
from ferrokafka.groups.streams.group import (
    MEMBER_STABLE,
    UNREVOKED_TASKS,
    GroupConfig,
    Heartbeat,
    HeartbeatError,
    StreamsGroup,
)
from ferrokafka.protocol import error_codes as ec

# PurchaseTotals' shape: 0 reads purchases and writes the repartition topic; 1 reads it and
# the users table (copartitioned) and keeps a store.
TOPOLOGY = t.Topology(
    epoch=0,
    subtopologies=(
        t.Subtopology("0", source_topics=("purchases",), repartition_sink_topics=("app-rep",)),
        t.Subtopology(
            "1",
            source_topics=("users",),
            repartition_source_topics=(
                t.TopicInfo("app-rep", configs=(("cleanup.policy", "delete"),)),
            ),
            state_changelog_topics=(t.TopicInfo("app-store-changelog"),),
            copartition_groups=(
                t.CopartitionGroup(source_topics=(0,), repartition_source_topics=(0,)),
            ),
        ),
    ),
)
TOPICS = {"purchases": 3, "users": 3}
READY = {**TOPICS, "app-rep": 3, "app-store-changelog": 3}


def test_missing_source_topics() -> None:
    configured = t.configure(TOPOLOGY, {"purchases": 3})
    assert configured.task_counts is None
    assert [s.code for s in configured.statuses] == [t.MISSING_SOURCE_TOPICS]
    assert "users" in configured.statuses[0].detail


def test_internal_topics_to_create_take_their_partition_counts() -> None:
    configured = t.configure(TOPOLOGY, TOPICS)
    assert configured.task_counts is None
    assert [s.code for s in configured.statuses] == [t.MISSING_INTERNAL_TOPICS]
    assert {(info.name, n) for info, n in configured.to_create} == {
        ("app-rep", 3),
        ("app-store-changelog", 3),
    }
    ready = t.configure(TOPOLOGY, READY)
    assert ready.task_counts == {"0": 3, "1": 3} and not ready.statuses


def test_copartitioned_sources_must_agree() -> None:
    topology = t.Topology(
        0,
        (
            t.Subtopology(
                "0",
                source_topics=("x", "y"),
                copartition_groups=(t.CopartitionGroup(source_topics=(0, 1)),),
            ),
        ),
    )
    configured = t.configure(topology, {"x": 2, "y": 3})
    assert [s.code for s in configured.statuses] == [t.INCORRECTLY_PARTITIONED_TOPICS]


def test_internal_topic_with_the_wrong_partition_count() -> None:
    configured = t.configure(TOPOLOGY, {**READY, "app-store-changelog": 1})
    assert configured.task_counts is None
    assert [s.code for s in configured.statuses] == [t.INCORRECTLY_PARTITIONED_TOPICS]


def join(member_id: str, process: str) -> Heartbeat:
    return Heartbeat(
        member_id, 0, rebalance_timeout_ms=30_000, topology=TOPOLOGY, process_id=process
    )


def test_a_task_moves_only_after_its_owner_revoked_it() -> None:
    group = StreamsGroup("g", GroupConfig(session_timeout_ms=10_000))
    first = group.heartbeat(join("a", "pa"), READY, 0)
    assert first.assignment is not None and len(first.assignment.active) == 6
    assert group.state == "Stable"
    second = group.heartbeat(join("b", "pb"), READY, 1)
    # b gets nothing yet: every task is still a's.
    assert second.assignment is not None and not second.assignment.active
    # a's next heartbeat asks it to give up half (its epoch stays until it did).
    revoke = group.heartbeat(Heartbeat("a", first.member_epoch), READY, 2)
    assert revoke.assignment is not None and len(revoke.assignment.active) == 3
    a = group.members["a"]
    assert a.state == UNREVOKED_TASKS and len(a.pending_revocation) == 3
    assert a.member_epoch == first.member_epoch
    # a heartbeats still running everything: nothing moves.
    kept = Heartbeat("a", a.member_epoch, active=frozenset(first.assignment.active))
    group.heartbeat(kept, READY, 2)
    assert group.members["a"].state == UNREVOKED_TASKS
    assert not group.heartbeat(Heartbeat("b", second.member_epoch), READY, 2).assignment
    # a reports it gave up the revoked tasks: it moves to the new epoch, then b takes them.
    released = Heartbeat("a", a.member_epoch, active=group.members["a"].assigned.active)
    done = group.heartbeat(released, READY, 3)
    assert done.member_epoch == group.assignment_epoch
    assert group.members["a"].state == MEMBER_STABLE
    b = group.heartbeat(Heartbeat("b", second.member_epoch), READY, 4)
    assert b.assignment is not None and len(b.assignment.active) == 3
    assert not b.assignment.active & group.members["a"].assigned.active
    assert group.state == "Stable"


def test_leave_and_session_expiry_free_the_tasks() -> None:
    group = StreamsGroup("g", GroupConfig(session_timeout_ms=10_000))
    group.heartbeat(join("a", "pa"), READY, 0)
    b = group.heartbeat(join("b", "pb"), READY, 0)
    assert b.member_id == "b"
    group.heartbeat(Heartbeat("b", -1), READY, 1)
    assert set(group.members) == {"a"}
    assert group.expire(5_000) == []
    assert group.expire(10_001) == ["a"]
    assert group.is_empty() and group.state == "Empty"


def test_unknown_member_and_fenced_epoch() -> None:
    group = StreamsGroup("g", GroupConfig())
    with pytest.raises(HeartbeatError) as unknown:
        group.heartbeat(Heartbeat("x", 3), READY, 0)
    assert unknown.value.code == ec.UNKNOWN_MEMBER_ID
    joined = group.heartbeat(join("a", "pa"), READY, 0)
    with pytest.raises(HeartbeatError) as fenced:
        group.heartbeat(Heartbeat("a", joined.member_epoch + 1), READY, 1)
    assert fenced.value.code == ec.FENCED_MEMBER_EPOCH


def replay(records: list, groups: dict) -> None:
    from ferrokafka.groups.serde import decode_record
    from ferrokafka.groups.streams.records import Replayer

    replayer = Replayer(
        groups.get,
        lambda g: groups.__setitem__(g.group_id, g),
        groups.pop,
        lambda _gid: GroupConfig(),
        lambda group, member_id: None,
    )
    types = replayer.record_types()
    for key, value in records:
        decoded = decode_record(key, value)
        types[decoded.record_type](decoded.key, decoded.value)


def test_records_rebuild_the_group() -> None:
    from ferrokafka.groups.streams.records import changes, snapshot

    group = StreamsGroup("g", GroupConfig())
    log: list = []
    for step in (
        lambda: group.heartbeat(join("a", "pa"), READY, 0),
        lambda: group.heartbeat(join("b", "pb"), READY, 1),
        lambda: group.heartbeat(Heartbeat("a", group.members["a"].member_epoch), READY, 2),
    ):
        before = snapshot(group, exists=bool(log))
        step()
        log += changes(before, group)
    assert group.members["a"].state == UNREVOKED_TASKS
    groups: dict = {}
    replay(log, groups)
    loaded = groups["g"]
    assert loaded.topology == TOPOLOGY
    assert (loaded.group_epoch, loaded.assignment_epoch) == (
        group.group_epoch,
        group.assignment_epoch,
    )
    assert loaded.members == group.members
    assert loaded.target == group.target
    # Leaving and deletion: tombstones remove the member, then the group.
    before = snapshot(group)
    group.heartbeat(Heartbeat("b", -1), READY, 3)
    replay(changes(before, group), groups)
    assert set(groups["g"].members) == {"a"}
    replay(group.tombstones(), groups)
    assert "g" not in groups
