"""Server-side partition assignors of consumer groups (KIP-848): "uniform" (the default for
``group.protocol=consumer``) and "range".

They are pure functions: members (their subscriptions and current assignment) and the
partition count of each topic in, the target assignment out. Topics are named by their topic
id, as the heartbeat speaks them; a subscribed topic that does not exist is simply absent from
``partition_counts`` and gets nobody.

Why sticky: KIP-848 reconciles by revoking before assigning, so every partition that moves
costs a revocation round trip; "uniform" moves a partition only when balance requires it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

UNIFORM = "uniform"
RANGE = "range"
# The first is the default when a member names none (Kafka's group.consumer.assignors order).
ASSIGNOR_NAMES = (UNIFORM, RANGE)

TopicPartition = tuple[uuid.UUID, int]
# member id -> topic id -> partitions
Assignment = dict[str, dict[uuid.UUID, frozenset[int]]]


@dataclass(frozen=True)
class AssignorMember:
    """What an assignor knows of one member: the topic ids it subscribes to (existing topics
    only) and what it is assigned now (empty for a new member)."""

    subscribed: frozenset[uuid.UUID]
    current: Mapping[uuid.UUID, frozenset[int]] = field(default_factory=dict)


def assign(
    name: str,
    members: Mapping[str, AssignorMember],
    partition_counts: Mapping[uuid.UUID, int],
) -> Assignment:
    """The target assignment by the assignor called ``name`` (one of :data:`ASSIGNOR_NAMES`)."""
    if name == UNIFORM:
        return uniform(members, partition_counts)
    if name == RANGE:
        return range_assign(members, partition_counts)
    raise ValueError(f"unknown assignor {name!r}")


def uniform(
    members: Mapping[str, AssignorMember], partition_counts: Mapping[uuid.UUID, int]
) -> Assignment:
    """Balanced and sticky: each partition goes to one of its topic's subscribers; members keep
    what they own up to their share, then the rest goes to whichever eligible subscriber holds
    fewest partitions.

    A member's share is its topics' partitions spread over the members competing for them:
    ``floor`` for everyone, and with equal subscriptions only ``partitions % members`` of them
    may keep one more, so the counts differ by at most one. With different subscriptions the
    greedy fill (most constrained partitions first) is balanced where the subscriptions allow,
    as Kafka's heterogeneous uniform assignor aims to be, not provably optimal.
    """
    order = sorted(members)
    rank = {m: i for i, m in enumerate(order)}
    result: dict[str, dict[uuid.UUID, set[int]]] = {m: {} for m in order}
    counts = dict.fromkeys(order, 0)
    subscribers = {
        topic: [m for m in order if topic in members[m].subscribed]
        for topic in sorted(partition_counts)
    }
    floor_quota, extras = _quotas(members, partition_counts, subscribers)
    taken: set[TopicPartition] = set()

    def give(member_id: str, tp: TopicPartition) -> None:
        result[member_id].setdefault(tp[0], set()).add(tp[1])
        counts[member_id] += 1
        taken.add(tp)

    owned = {m: _owned(members[m], partition_counts) for m in order}
    for member_id in order:  # keep up to the floor share
        for tp in owned[member_id][: floor_quota[member_id]]:
            give(member_id, tp)
    for member_id in order:  # then one more, while the extra slots last
        rest = owned[member_id][floor_quota[member_id] :]
        if rest and (extras is None or extras > 0):
            give(member_id, rest[0])
            extras = None if extras is None else extras - 1
    unassigned = [
        (topic, partition)
        for topic, subs in subscribers.items()
        if subs
        for partition in range(partition_counts[topic])
        if (topic, partition) not in taken
    ]
    # Fewest eligible subscribers first, so constrained partitions find a home.
    unassigned.sort(key=lambda tp: (len(subscribers[tp[0]]), str(tp[0]), tp[1]))
    # Ties go to the member with fewer partitions to choose from, which has fewer chances.
    potential = {
        m: sum(partition_counts[t] for t in members[m].subscribed if t in partition_counts)
        for m in order
    }
    for tp in unassigned:
        give(min(subscribers[tp[0]], key=lambda m: (counts[m], potential[m], rank[m])), tp)
    return {m: {t: frozenset(ps) for t, ps in tps.items()} for m, tps in result.items()}


def _owned(member: AssignorMember, partition_counts: Mapping[uuid.UUID, int]) -> list:
    """The member's current partitions that it may still have, in a stable order."""
    return [
        (topic, partition)
        for topic in sorted(member.current, key=str)
        if topic in member.subscribed and topic in partition_counts
        for partition in sorted(member.current[topic])
        if partition < partition_counts[topic]
    ]


def _quotas(
    members: Mapping[str, AssignorMember],
    partition_counts: Mapping[uuid.UUID, int],
    subscribers: Mapping[uuid.UUID, list[str]],
) -> tuple[dict[str, int], int | None]:
    """Per member, the floor of its share; and how many members may hold one more than that
    (None: not limited, when subscriptions differ)."""
    # Members with the same subscription share a quota: computed once per distinct one.
    by_subscription: dict[frozenset[uuid.UUID], int] = {}
    floor_quota: dict[str, int] = {}
    for member_id, member in members.items():
        quota = by_subscription.get(member.subscribed)
        if quota is None:
            topics = [t for t in member.subscribed if t in partition_counts]
            total = sum(partition_counts[t] for t in topics)
            competitors = set().union(*(subscribers[t] for t in topics))
            quota = by_subscription[member.subscribed] = total // max(len(competitors), 1)
        floor_quota[member_id] = quota
    subscriptions = {
        frozenset(t for t in m.subscribed if t in partition_counts) for m in members.values()
    }
    if len(subscriptions) > 1 or not members:
        return floor_quota, None
    total = sum(partition_counts[t] for t in next(iter(subscriptions)))
    return floor_quota, total % len(members)


def range_assign(
    members: Mapping[str, AssignorMember], partition_counts: Mapping[uuid.UUID, int]
) -> Assignment:
    """Per topic, its subscribers sorted by member id get consecutive ranges: the first
    ``partitions % subscribers`` get one more. Topics with the same partition count and the
    same subscribers are thus co-partitioned (partition i of each goes to the same member),
    which is what range is for. Not sticky, as Kafka's range is not across membership changes.
    """
    result: dict[str, dict[uuid.UUID, frozenset[int]]] = {m: {} for m in members}
    for topic in sorted(partition_counts):
        subs = sorted(m for m in members if topic in members[m].subscribed)
        if not subs:
            continue
        count = partition_counts[topic]
        per_member, extra = divmod(count, len(subs))
        start = 0
        for i, member_id in enumerate(subs):
            size = per_member + (1 if i < extra else 0)
            if size:
                result[member_id][topic] = frozenset(range(start, start + size))
            start += size
    return result
