"""The share group's rules, sans-io (ferrokafka.groups.share.group): joins, epochs, leaving,
session expiry, the group size limit, fencing."""

from __future__ import annotations

import uuid

import pytest

from ferrokafka.groups.share.group import (
    EMPTY,
    STABLE,
    Heartbeat,
    HeartbeatError,
    ShareGroup,
    ShareGroupConfig,
)
from ferrokafka.protocol import error_codes as ec

T = uuid.UUID(int=7)
TOPICS = {"t": (T, 2)}
CONFIG = ShareGroupConfig(session_timeout_ms=1000, heartbeat_interval_ms=100, max_size=2)


def join(group: ShareGroup, member: str, now: int = 0) -> int:
    result = group.heartbeat(Heartbeat(member, 0, subscribed_topic_names=["t"]), TOPICS, now)
    return result.member_epoch


def test_join_assign_leave() -> None:
    group = ShareGroup("g", CONFIG)
    assert group.state == EMPTY
    assert join(group, "a") == 1 and group.members["a"].assigned == {T: frozenset({0, 1})}
    assert join(group, "b") == 2
    again = group.heartbeat(Heartbeat("a", 1), TOPICS, 10)
    assert again.member_epoch == 2 and again.assignment is not None  # a's share shrank
    assert again.heartbeat_interval_ms == 100 and group.state == STABLE
    steady = group.heartbeat(Heartbeat("a", 2), TOPICS, 20)
    assert steady.assignment is None  # nothing changed: no assignment sent
    left = group.heartbeat(Heartbeat("b", -1), TOPICS, 30)
    assert left.member_epoch == -1 and group.group_epoch == 3 and list(group.members) == ["a"]


def test_errors() -> None:
    group = ShareGroup("g", CONFIG)
    join(group, "a")
    join(group, "b")
    with pytest.raises(HeartbeatError) as full:
        join(group, "c")
    assert full.value.code == ec.GROUP_MAX_SIZE_REACHED
    with pytest.raises(HeartbeatError) as unknown:
        group.heartbeat(Heartbeat("z", 3), TOPICS, 0)
    assert unknown.value.code == ec.UNKNOWN_MEMBER_ID
    with pytest.raises(HeartbeatError) as fenced:
        group.heartbeat(Heartbeat("a", 9), TOPICS, 0)
    assert fenced.value.code == ec.FENCED_MEMBER_EPOCH


def test_session_expiry_removes_the_member_and_reassigns() -> None:
    group = ShareGroup("g", CONFIG)
    join(group, "a", now=0)
    join(group, "b", now=500)
    assert group.next_deadline_ms() == 1000
    assert group.expire(999, TOPICS) == []
    assert group.expire(1000, TOPICS) == ["a"]
    assert group.target == {"b": {T: frozenset({0, 1})}}
    assert group.group_epoch == 3


def test_new_partitions_bump_the_epoch() -> None:
    group = ShareGroup("g", CONFIG)
    join(group, "a")
    grown = group.heartbeat(Heartbeat("a", 1), {"t": (T, 3)}, 10)
    assert grown.member_epoch == 2 and grown.assignment == {T: frozenset({0, 1, 2})}
