"""The share groups' simple assignor (ferrokafka.groups.share.group.simple_assign), as Kafka
4.4's SimpleHomogeneousAssignmentBuilder: sharing ceil(members / partitions), balanced counts,
sticky to the current assignment."""

from __future__ import annotations

import random
import uuid

import pytest

from ferrokafka.groups.share.group import simple_assign

T = uuid.UUID(int=1)
U = uuid.UUID(int=2)


def counts(assignment: dict) -> dict[str, int]:
    return {m: sum(len(ps) for ps in parts.values()) for m, parts in assignment.items()}


def test_more_members_than_partitions_share_them() -> None:
    got = simple_assign({m: ("t",) for m in ("a", "b", "c")}, {"t": (T, 1)})
    assert got == {m: {T: frozenset({0})} for m in ("a", "b", "c")}


def test_fewer_members_split_the_partitions() -> None:
    got = simple_assign({"a": ("t",), "b": ("t",)}, {"t": (T, 4)})
    assert counts(got) == {"a": 2, "b": 2}
    assert got["a"][T] | got["b"][T] == frozenset(range(4))
    assert not got["a"][T] & got["b"][T]


def test_sticky_when_a_member_joins() -> None:
    topics = {"t": (T, 6)}
    before = simple_assign({"a": ("t",), "b": ("t",)}, topics)
    after = simple_assign({"a": ("t",), "b": ("t",), "c": ("t",)}, topics, before)
    assert counts(after) == {"a": 2, "b": 2, "c": 2}
    assert after["a"][T] <= before["a"][T] and after["b"][T] <= before["b"][T]


def test_mixed_subscriptions_each_topic_among_its_subscribers() -> None:
    got = simple_assign({"a": ("t",), "b": ("t", "u")}, {"t": (T, 2), "u": (U, 1)})
    assert got["b"][U] == frozenset({0}) and U not in got["a"]
    assert got["a"][T] | got["b"][T] == frozenset({0, 1})


@pytest.mark.parametrize("seed", range(30))
def test_every_partition_shared_evenly(seed: int) -> None:
    rng = random.Random(seed)
    members = [f"m{i}" for i in range(rng.randrange(1, 12))]
    partitions = rng.randrange(1, 12)
    topics = {"t": (T, partitions)}
    previous = {
        m: {T: frozenset(rng.sample(range(partitions + 2), rng.randrange(0, 3)))}
        for m in members
        if rng.random() < 0.7
    }
    got = simple_assign({m: ("t",) for m in members}, topics, previous)
    sharing = -(-len(members) // partitions)
    holders = {p: [m for m in members if p in got[m].get(T, ())] for p in range(partitions)}
    assert all(len(who) == sharing for who in holders.values()), holders
    per_member = counts(got)
    assert max(per_member.values()) - min(per_member.values()) <= 1
    assert all(p < partitions for m in members for p in got[m].get(T, ()))
