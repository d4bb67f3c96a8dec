"""A consumer group's records: replaying what :func:`changes` wrote after every step rebuilds
the same group (epochs, members, target and current assignments); tombstones remove it."""

from __future__ import annotations

import uuid

from ferrokafka.groups.consumer.group import ConsumerGroup, GroupConfig, Heartbeat
from ferrokafka.groups.consumer.records import Replayer, changes, snapshot
from ferrokafka.groups.serde import decode_record

T = uuid.UUID(int=5)
TOPICS = {"t": (T, 6)}
CONFIG = GroupConfig()


def _replay(log):
    groups = {}
    replayer = Replayer(
        groups.get, lambda g: groups.__setitem__(g.group_id, g), groups.pop, lambda _gid: CONFIG
    )
    handlers = replayer.record_types()
    for key, value in log:
        rec = decode_record(key, value)
        handlers[rec.record_type](rec.key, rec.value)
    return groups


def _state(g):
    return (g.group_epoch, g.assignment_epoch, g.members, g.target)


def test_replay_rebuilds_the_group():
    g = ConsumerGroup("g", CONFIG)
    log = []
    exists = False

    def step(hb):
        nonlocal exists
        before = snapshot(g, exists)
        result = g.heartbeat(hb, TOPICS, 0)
        log.extend(changes(before, g))
        exists = True
        return result

    a = step(
        Heartbeat(
            member_id="a",
            member_epoch=0,
            rebalance_timeout_ms=100,
            subscribed_topic_names=["t"],
            owned={},
            client_id="ca",
        )
    )
    b = step(
        Heartbeat(
            member_id="b",
            member_epoch=0,
            rebalance_timeout_ms=100,
            subscribed_topic_names=["t"],
            owned={},
            instance_id="i",
        )
    )
    step(Heartbeat(member_id="a", member_epoch=a.member_epoch, owned=a.assignment))
    rebuilt = _replay(log)["g"]
    assert _state(rebuilt) == _state(g)
    assert rebuilt.static_members == {"i": "b"}
    # The first heartbeat after the load does not bump the epoch when topics are unchanged.
    epoch = rebuilt.group_epoch
    rebuilt.heartbeat(Heartbeat(member_id="b", member_epoch=b.member_epoch, owned={}), TOPICS, 1)
    assert rebuilt.group_epoch == epoch

    before = snapshot(g)
    g.heartbeat(Heartbeat(member_id="a", member_epoch=-1), TOPICS, 0)
    log.extend(changes(before, g))
    assert _state(_replay(log)["g"]) == _state(g)

    before = snapshot(g)
    g.heartbeat(Heartbeat(member_id="b", member_epoch=-1), TOPICS, 0)
    log.extend(changes(before, g))
    log.extend(g.tombstones())
    assert _replay(log) == {}


def test_loaded_group_knows_its_subscribed_topics() -> None:
    g = ConsumerGroup("g", CONFIG)
    before = snapshot(g, exists=False)
    g.heartbeat(
        Heartbeat(
            member_id="a",
            member_epoch=0,
            rebalance_timeout_ms=100,
            subscribed_topic_names=["t"],
            owned={},
        ),
        TOPICS,
        0,
    )
    rebuilt = _replay(changes(before, g))["g"]
    assert rebuilt.subscribed_topics() == frozenset({"t"})


def test_replay_after_a_static_member_came_back() -> None:
    g = ConsumerGroup("g", CONFIG)
    log = []

    def step(hb, exists=True):
        before = snapshot(g, exists)
        result = g.heartbeat(hb, TOPICS, 0)
        log.extend(changes(before, g))
        return result

    step(
        Heartbeat(
            member_id="a",
            member_epoch=0,
            rebalance_timeout_ms=100,
            subscribed_topic_names=["t"],
            owned={},
            instance_id="i",
        ),
        exists=False,
    )
    step(Heartbeat(member_id="a", member_epoch=-2, instance_id="i"))
    back = step(
        Heartbeat(
            member_id="a2",
            member_epoch=0,
            rebalance_timeout_ms=100,
            subscribed_topic_names=["t"],
            owned={},
            instance_id="i",
        )
    )
    assert sorted(back.assignment[T]) == list(range(6))
    rebuilt = _replay(log)["g"]
    assert _state(rebuilt) == _state(g)
    assert rebuilt.static_members == {"i": "a2"}
