"""Server-side assignors of consumer groups: every subscribed partition assigned exactly once,
only to a subscriber; "uniform" balanced within one for equal subscriptions and sticky;
"range" co-partitions topics."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from ferrokafka.groups.consumer.assignors import (
    RANGE,
    UNIFORM,
    AssignorMember,
    assign,
)

TOPICS = [uuid.UUID(int=i + 1) for i in range(4)]
MEMBERS_MAX = 8
PARTITIONS_MAX = 24
EXAMPLES = 150


def _flatten(assignment):
    return [(m, t, p) for m, tps in assignment.items() for t, ps in tps.items() for p in ps]


def _check_complete(members, counts, assignment):
    seen = {}
    for m, t, p in _flatten(assignment):
        assert (t, p) not in seen, f"{t}-{p} assigned twice"
        assert t in members[m].subscribed, f"{m} does not subscribe to {t}"
        assert 0 <= p < counts[t]
        seen[(t, p)] = m
    for t, n in counts.items():
        if any(t in m.subscribed for m in members.values()):
            assert all((t, p) in seen for p in range(n)), f"topic {t} not fully assigned"


counts_strategy = st.dictionaries(
    st.sampled_from(TOPICS), st.integers(0, PARTITIONS_MAX), min_size=1
)
subs_strategy = st.frozensets(st.sampled_from(TOPICS), max_size=len(TOPICS))


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    counts=counts_strategy,
    subs=st.lists(subs_strategy, min_size=1, max_size=MEMBERS_MAX),
    name=st.sampled_from([UNIFORM, RANGE]),
)
def test_every_partition_once_to_a_subscriber(counts, subs, name):
    members = {f"m{i}": AssignorMember(subscribed=s) for i, s in enumerate(subs)}
    result = assign(name, members, counts)
    _check_complete(members, counts, result)
    if name == UNIFORM and len(set(subs)) > 1:
        return  # heterogeneous: balanced where possible, no fixed-point promise
    # Feeding the result back in as the current assignment changes nothing (uniform: sticky;
    # range: deterministic).
    again = assign(
        name,
        {m: AssignorMember(subscribed=members[m].subscribed, current=result[m]) for m in members},
        counts,
    )
    assert again == result


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    counts=counts_strategy,
    n=st.integers(1, MEMBERS_MAX),
    sub=subs_strategy,
    leaving=st.integers(0, MEMBERS_MAX),
    joining=st.integers(0, 3),
)
def test_uniform_balanced_and_sticky(counts, n, sub, leaving, joining):
    members = {f"m{i}": AssignorMember(subscribed=sub) for i in range(n)}
    first = assign(UNIFORM, members, counts)
    _check_complete(members, counts, first)
    sizes = [sum(len(ps) for ps in first[m].values()) for m in members]
    assert max(sizes) - min(sizes) <= 1

    # Membership changes: survivors keep what balance lets them keep.
    survivors = [m for i, m in enumerate(sorted(members)) if i != leaving % n or n == 1]
    changed = {m: AssignorMember(subscribed=sub, current=first[m]) for m in survivors}
    changed.update({f"new{j}": AssignorMember(subscribed=sub) for j in range(joining)})
    second = assign(UNIFORM, changed, counts)
    _check_complete(changed, counts, second)
    sizes = [sum(len(ps) for ps in second[m].values()) for m in changed]
    assert max(sizes) - min(sizes) <= 1
    floor = min(sizes)
    for m in survivors:
        kept = sum(len(first[m].get(t, frozenset()) & ps) for t, ps in second[m].items())
        before = sum(len(ps) for ps in first[m].values())
        assert kept >= min(before, floor), f"{m} lost more than balance requires"


def test_uniform_moves_only_what_a_new_member_needs():
    t = TOPICS[0]
    two = {"a": AssignorMember(frozenset([t])), "b": AssignorMember(frozenset([t]))}
    first = assign(UNIFORM, two, {t: 6})
    assert sorted(len(first[m][t]) for m in two) == [3, 3]
    three = {m: AssignorMember(frozenset([t]), first[m]) for m in two}
    three["c"] = AssignorMember(frozenset([t]))
    second = assign(UNIFORM, three, {t: 6})
    assert [len(second[m][t]) for m in ("a", "b", "c")] == [2, 2, 2]
    assert second["a"][t] <= first["a"][t] and second["b"][t] <= first["b"][t]


def test_range_co_partitions_topics():
    t1, t2 = TOPICS[:2]
    subs = frozenset([t1, t2])
    members = {m: AssignorMember(subs) for m in ("b", "a", "c")}
    result = assign(RANGE, members, {t1: 7, t2: 7})
    assert result["a"] == {t1: frozenset({0, 1, 2}), t2: frozenset({0, 1, 2})}
    assert result["b"] == {t1: frozenset({3, 4}), t2: frozenset({3, 4})}
    assert result["c"] == {t1: frozenset({5, 6}), t2: frozenset({5, 6})}


def test_unknown_topics_and_unsubscribed_members_get_nothing():
    t1, t2 = TOPICS[:2]
    members = {"a": AssignorMember(frozenset([t1, t2])), "b": AssignorMember(frozenset())}
    result = assign(UNIFORM, members, {t1: 2})
    assert result == {"a": {t1: frozenset({0, 1})}, "b": {}}
