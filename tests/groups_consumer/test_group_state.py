"""The consumer group state machine (sans-io): epochs, revoke-before-assign reconciliation,
fencing, leaving, static members, timeouts, offset commit validation."""

from __future__ import annotations

import uuid

import pytest

from ferrokafka.groups.base import OffsetCommitter
from ferrokafka.groups.consumer.group import (
    ConsumerGroup,
    GroupConfig,
    Heartbeat,
    HeartbeatError,
)
from ferrokafka.protocol import error_codes as ec

T = uuid.UUID(int=7)
TOPICS = {"t": (T, 4)}
CONFIG = GroupConfig(session_timeout_ms=1000, heartbeat_interval_ms=100)


def join(g, member_id, now=0, instance_id=None, topics=TOPICS):
    return g.heartbeat(
        Heartbeat(
            member_id=member_id,
            member_epoch=0,
            rebalance_timeout_ms=500,
            subscribed_topic_names=["t"],
            owned={},
            instance_id=instance_id,
        ),
        topics,
        now,
    )


def beat(g, member_id, epoch, owned, now=0, topics=TOPICS):
    owned_map = None if owned is None else {T: frozenset(owned)}
    return g.heartbeat(
        Heartbeat(member_id=member_id, member_epoch=epoch, owned=owned_map), topics, now
    )


def parts(result):
    return sorted(result.assignment.get(T, ())) if result.assignment is not None else None


def test_join_revoke_then_assign():
    g = ConsumerGroup("g", CONFIG)
    a = join(g, "a")
    assert parts(a) == [0, 1, 2, 3] and a.member_epoch == g.group_epoch
    assert g.state == "Stable"
    b = join(g, "b")
    # b's partitions are still owned by a: b moves to the new epoch with nothing yet.
    assert b.member_epoch == g.group_epoch and parts(b) == []
    assert g.state == "Reconciling"
    # a must revoke two partitions first and stays at its epoch.
    a2 = beat(g, "a", a.member_epoch, [0, 1, 2, 3])
    assert a2.member_epoch == a.member_epoch and len(parts(a2)) == 2
    kept = parts(a2)
    # b asks again: still unreleased.
    assert beat(g, "b", b.member_epoch, []).assignment is None
    # a acknowledges the revocation: moves to the new epoch.
    a3 = beat(g, "a", a.member_epoch, kept)
    assert a3.member_epoch == g.group_epoch
    b2 = beat(g, "b", b.member_epoch, [])
    assert sorted(parts(b2) + kept) == [0, 1, 2, 3]
    assert g.state == "Stable"


def test_epoch_checks():
    g = ConsumerGroup("g", CONFIG)
    a = join(g, "a")
    with pytest.raises(HeartbeatError) as err:
        beat(g, "a", a.member_epoch + 1, None)
    assert err.value.code == ec.FENCED_MEMBER_EPOCH
    with pytest.raises(HeartbeatError) as err:
        beat(g, "nobody", 3, None)
    assert err.value.code == ec.UNKNOWN_MEMBER_ID
    join(g, "b")
    a2 = beat(g, "a", a.member_epoch, [0, 1, 2, 3])
    kept = parts(a2)
    a3 = beat(g, "a", a.member_epoch, kept)
    # A lost response: the previous epoch with partitions it still holds is accepted...
    assert beat(g, "a", a.member_epoch, kept).member_epoch == a3.member_epoch
    # ...but not with partitions it no longer holds.
    with pytest.raises(HeartbeatError) as err:
        beat(g, "a", a.member_epoch, [0, 1, 2, 3])
    assert err.value.code == ec.FENCED_MEMBER_EPOCH


def test_leave_and_session_expiry_free_partitions():
    g = ConsumerGroup("g", CONFIG)
    join(g, "a", now=0)
    b = join(g, "b", now=0)
    left = g.heartbeat(Heartbeat(member_id="a", member_epoch=-1), TOPICS, 10)
    assert left.member_epoch == -1
    b2 = beat(g, "b", b.member_epoch, [], now=10)
    assert parts(b2) == [0, 1, 2, 3]
    assert g.expire(500) == []
    assert g.expire(1010) == ["b"] and g.state == "Empty"


def test_revocation_timeout_fences():
    g = ConsumerGroup("g", CONFIG)
    a = join(g, "a", now=0)
    join(g, "b", now=0)
    beat(g, "a", a.member_epoch, [0, 1, 2, 3], now=100)  # revocation asked; rebalance 500 ms
    beat(g, "b", g.members["b"].member_epoch, [], now=300)
    assert "a" in g.expire(601)
    assert "b" in g.members


def test_static_member_replacement_keeps_partitions():
    g = ConsumerGroup("g", CONFIG)
    a = join(g, "a", instance_id="i1")
    with pytest.raises(HeartbeatError) as err:
        join(g, "a2", instance_id="i1")
    assert err.value.code == ec.UNRELEASED_INSTANCE_ID
    g.heartbeat(Heartbeat(member_id="a", member_epoch=-2, instance_id="i1"), TOPICS, 0)
    epoch = g.group_epoch
    back = join(g, "a2", instance_id="i1")
    assert parts(back) == [0, 1, 2, 3] and back.member_epoch == a.member_epoch
    assert g.group_epoch == epoch and set(g.members) == {"a2"}


def test_new_partitions_bump_the_epoch():
    g = ConsumerGroup("g", CONFIG)
    a = join(g, "a")
    grown = {"t": (T, 6)}
    a2 = beat(g, "a", a.member_epoch, [0, 1, 2, 3], topics=grown)
    assert a2.member_epoch > a.member_epoch and parts(a2) == [0, 1, 2, 3, 4, 5]


def test_regex_and_assignor_errors():
    g = ConsumerGroup("g", CONFIG)
    with pytest.raises(HeartbeatError) as err:
        g.heartbeat(
            Heartbeat(
                member_id="a",
                member_epoch=0,
                rebalance_timeout_ms=1,
                subscribed_topic_regex="(",
                owned={},
            ),
            TOPICS,
            0,
        )
    assert err.value.code == ec.INVALID_REGULAR_EXPRESSION
    with pytest.raises(HeartbeatError) as err:
        g.heartbeat(
            Heartbeat(
                member_id="a",
                member_epoch=0,
                rebalance_timeout_ms=1,
                subscribed_topic_names=["t"],
                server_assignor="sticky",
                owned={},
            ),
            TOPICS,
            0,
        )
    assert err.value.code == ec.UNSUPPORTED_ASSIGNOR
    r = g.heartbeat(
        Heartbeat(
            member_id="a",
            member_epoch=0,
            rebalance_timeout_ms=1,
            subscribed_topic_regex="t.*",
            owned={},
        ),
        {**TOPICS, "__consumer_offsets": (uuid.UUID(int=9), 50)},
        0,
    )
    assert parts(r) == [0, 1, 2, 3] and set(r.assignment) == {T}


def commit(group: ConsumerGroup, *fields, **flags) -> int:
    return group.validate_offset_commit(OffsetCommitter(*fields, **flags))


def test_offset_commit_and_fetch_validation():
    g = ConsumerGroup("g", CONFIG)
    assert commit(g, "", None, -1, 9) == ec.NONE  # empty group, admin commit
    a = join(g, "a")
    assert commit(g, "", None, -1, 9) == ec.UNKNOWN_MEMBER_ID
    assert commit(g, "a", None, a.member_epoch, 9) == ec.NONE
    assert commit(g, "a", None, a.member_epoch - 1, 9) == ec.STALE_MEMBER_EPOCH
    assert commit(g, "a", None, a.member_epoch, 8) == ec.UNSUPPORTED_VERSION
    # TxnOffsetCommit (any version; its v3 here): member and epoch checked, version not.
    txn = {"transactional": True}
    assert commit(g, "a", None, a.member_epoch, 3, **txn) == ec.NONE
    assert commit(g, "a", None, 99, 3, **txn) == ec.STALE_MEMBER_EPOCH
    assert commit(g, "", None, -1, 3, **txn) == ec.UNKNOWN_MEMBER_ID
    assert g.validate_offset_fetch(None, -1) == ec.NONE
    assert g.validate_offset_fetch("a", a.member_epoch) == ec.NONE
    assert g.validate_offset_fetch("a", 99) == ec.STALE_MEMBER_EPOCH
    assert g.validate_offset_fetch("zz", 1) == ec.UNKNOWN_MEMBER_ID
    assert g.validate_delete() == ec.NON_EMPTY_GROUP


def test_static_identity_checks():
    g = ConsumerGroup("g", CONFIG)
    a = join(g, "a", instance_id="i1")

    def err(hb):
        with pytest.raises(HeartbeatError) as caught:
            g.heartbeat(hb, TOPICS, 0)
        return caught.value.code, caught.value.message

    assert err(Heartbeat(member_id="a", member_epoch=-2, instance_id="nope")) == (
        ec.UNKNOWN_MEMBER_ID,
        "Instance id nope is unknown.",
    )
    assert err(Heartbeat(member_id="b", member_epoch=-2, instance_id="i1")) == (
        ec.FENCED_INSTANCE_ID,
        "Static member b with instance id i1 was fenced by member a.",
    )
    assert err(Heartbeat(member_id="b", member_epoch=a.member_epoch, instance_id="i1"))[0] == (
        ec.FENCED_INSTANCE_ID
    )
    # A static member leaving for good (-1) is removed with its instance id.
    g.heartbeat(Heartbeat(member_id="a", member_epoch=-1, instance_id="i1"), TOPICS, 0)
    assert g.members == {} and g.static_members == {}


def test_group_max_size():
    g = ConsumerGroup("g", GroupConfig(max_size=1))
    join(g, "a")
    with pytest.raises(HeartbeatError) as caught:
        join(g, "b")
    assert caught.value.code == ec.GROUP_MAX_SIZE_REACHED
