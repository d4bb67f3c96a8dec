"""Property of the consumer group state machine under random membership changes, with members
that behave like real consumers (they own what the last response assigned them): no partition
is ever held by two members at once, once membership stops changing a few rounds of
heartbeats reach the Stable state with every member on the target assignment, and replaying
the records written along the way rebuilds the same group."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from ferrokafka.groups.consumer.group import ConsumerGroup, GroupConfig, Heartbeat
from ferrokafka.groups.consumer.records import Replayer, changes, snapshot
from ferrokafka.groups.serde import decode_record

TOPICS = {"a": (uuid.UUID(int=1), 5), "b": (uuid.UUID(int=2), 3)}
MEMBERS_MAX = 5
STEPS_MAX = 30
# Rounds for convergence: revoke, then assign, each needs one heartbeat of each member.
SETTLE_ROUNDS = 4
EXAMPLES = 120

step = st.tuples(
    st.sampled_from(["join", "leave", "pause", "beat", "beat", "resubscribe"]),
    st.integers(0, MEMBERS_MAX - 1),
    st.sampled_from([("a",), ("b",), ("a", "b")]),
)


class Client:
    """What a consumer knows: its ids, its epoch and the partitions it was last assigned.
    Even slots are static members (an instance id); a new process gets a new member id."""

    def __init__(self, slot: int, incarnation: int) -> None:
        self.member_id = f"m{slot}-{incarnation}"
        self.instance_id = f"i{slot}" if slot % 2 == 0 else None
        self.epoch = 0
        self.owned: dict[uuid.UUID, frozenset[int]] = {}

    def apply(self, result) -> None:
        self.epoch = result.member_epoch
        if result.assignment is not None:
            self.owned = dict(result.assignment)

    def join(self, group, subscription) -> None:
        self.apply(
            group.heartbeat(
                Heartbeat(
                    member_id=self.member_id,
                    member_epoch=0,
                    rebalance_timeout_ms=1000,
                    subscribed_topic_names=list(subscription),
                    owned={},
                    instance_id=self.instance_id,
                ),
                TOPICS,
                0,
            )
        )

    def beat(self, group, subscription=None) -> None:
        self.apply(
            group.heartbeat(
                Heartbeat(
                    member_id=self.member_id,
                    member_epoch=self.epoch,
                    owned=self.owned,
                    instance_id=self.instance_id,
                    subscribed_topic_names=None if subscription is None else list(subscription),
                ),
                TOPICS,
                0,
            )
        )


def _check_exclusive(group: ConsumerGroup) -> None:
    seen: dict[tuple[uuid.UUID, int], str] = {}
    for member in group.members.values():
        for tp in member.owned_partitions():
            assert tp not in seen, f"{tp} held by {seen[tp]} and {member.member_id}"
            seen[tp] = member.member_id


def _check_clients_exclusive(clients: dict[int, Client]) -> None:
    seen: set[tuple[uuid.UUID, int]] = set()
    for client in clients.values():
        for topic, parts in client.owned.items():
            for p in parts:
                assert (topic, p) not in seen, "two consumers own one partition"
                seen.add((topic, p))


class Logged(ConsumerGroup):
    """A group that keeps the records each heartbeat writes."""

    def __init__(self) -> None:
        super().__init__("g", GroupConfig())
        self.log: list = []
        self.exists = False

    def heartbeat(self, hb, topics, now_ms):
        before = snapshot(self, self.exists)
        result = super().heartbeat(hb, topics, now_ms)
        self.log.extend(changes(before, self))
        self.exists = True
        return result


def _replayed(log: list) -> dict:
    groups: dict = {}
    replay = Replayer(
        groups.get,
        lambda g: groups.__setitem__(g.group_id, g),
        groups.pop,
        lambda _gid: GroupConfig(),
    ).record_types()
    for key, value in log:
        record = decode_record(key, value)
        replay[record.record_type](record.key, record.value)
    return groups


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(step, max_size=STEPS_MAX))
def test_no_double_ownership_and_convergence(steps) -> None:
    group = Logged()
    clients: dict[int, Client] = {}
    paused: dict[int, tuple[str, ...]] = {}  # static slots away (epoch -2), their subscription
    incarnations = 0
    for action, slot, subscription in steps:
        client = clients.get(slot)
        if action == "join" and client is None:
            incarnations += 1
            client = clients[slot] = Client(slot, incarnations)
            client.join(group, paused.pop(slot, subscription))
        elif action in ("leave", "pause") and client is not None:
            static = client.instance_id is not None and action == "pause"
            group.heartbeat(
                Heartbeat(
                    member_id=client.member_id,
                    member_epoch=-2 if static else -1,
                    instance_id=client.instance_id,
                ),
                TOPICS,
                0,
            )
            del clients[slot]
            if static:
                paused[slot] = group.members[client.member_id].subscribed_topic_names
        elif action == "beat" and client is not None:
            client.beat(group)
        elif action == "resubscribe" and client is not None:
            client.beat(group, subscription)
        _check_exclusive(group)
        _check_clients_exclusive(clients)

    for client in clients.values():  # pending epoch bumps are applied first, so that the
        client.beat(group)  # static returns below happen without a new target assignment
    for slot, subscription in list(paused.items()):  # the static members come back
        incarnations += 1
        clients[slot] = Client(slot, incarnations)
        clients[slot].join(group, subscription)
    for _ in range(SETTLE_ROUNDS):
        for client in clients.values():
            client.beat(group)
            _check_exclusive(group)
            _check_clients_exclusive(clients)
    if group.exists:
        rebuilt = _replayed(group.log)["g"]
        assert (rebuilt.group_epoch, rebuilt.assignment_epoch, rebuilt.members, rebuilt.target) == (
            group.group_epoch,
            group.assignment_epoch,
            group.members,
            group.target,
        )
    if clients:
        assert group.state == "Stable"
        for client in clients.values():
            assert client.epoch == group.assignment_epoch
            target = {t: ps for t, ps in group.target[client.member_id].items() if ps}
            assert {t: ps for t, ps in client.owned.items() if ps} == target
    else:
        assert group.state == "Empty"
