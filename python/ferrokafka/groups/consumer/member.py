"""One member of a consumer group (KIP-848) and its reconciliation: how its current
assignment moves toward its target assignment, revoking before assigning.

The rules, as Kafka's ``CurrentAssignmentBuilder`` applies them:

- A member whose epoch is behind the target assignment epoch keeps the target partitions it
  already has, must revoke the ones it has that the target does not hold, and gets the new
  ones that no other member still owns.
- While it has partitions to revoke it stays at its epoch in ``unrevoked_partitions``; it
  leaves that state when a heartbeat lists its owned partitions without the revoked ones.
- A new partition still owned (assigned or pending revocation) by another member is held back:
  the member moves to the target epoch in ``unreleased_partitions`` and gets it on a later
  heartbeat, once the other member has released it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

# Member epochs with a meaning of their own in ConsumerGroupHeartbeat (shared with streams).
from ferrokafka.groups.epoch_group import (  # noqa: F401 (for importers)
    JOIN_EPOCH,
    LEAVE_EPOCH,
    LEAVE_STATIC_EPOCH,
)

# Member states (Kafka's MemberState, as ConsumerGroupDescribe does not report them but the
# group state derives from them).
STABLE = "stable"
UNREVOKED_PARTITIONS = "unrevoked_partitions"
UNRELEASED_PARTITIONS = "unreleased_partitions"

TopicAssignment = Mapping[uuid.UUID, frozenset[int]]
EMPTY: TopicAssignment = {}


@dataclass(frozen=True)
class ConsumerMember:
    """A member as the coordinator keeps it. Immutable: every change makes a new one, so the
    group can compare before and after (which decides the group epoch bump and whether the
    heartbeat response carries the assignment)."""

    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: tuple[str, ...] = ()
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    member_epoch: int = 0
    previous_member_epoch: int = -1
    state: str = STABLE
    assigned: TopicAssignment = field(default_factory=dict)
    pending_revocation: TopicAssignment = field(default_factory=dict)

    def owned_partitions(self) -> set[tuple[uuid.UUID, int]]:
        """Assigned or still pending revocation: nobody else may get these yet."""
        return {
            (t, p)
            for part in (self.assigned, self.pending_revocation)
            for t, ps in part.items()
            for p in ps
        }

    def assigned_count(self) -> int:
        return sum(len(ps) for ps in self.assigned.values())


# (topic id, partition) -> id of the member owning it, or None when free
OwnerOf = Callable[[uuid.UUID, int], "str | None"]
# The partitions a heartbeat lists as owned (None: not sent in this heartbeat)
Owned = Mapping[uuid.UUID, frozenset[int]] | None


def owns_any(owned: Owned, partitions: TopicAssignment) -> bool:
    """Whether the member may still own some of ``partitions``: unknown (None) counts as yes,
    since only a heartbeat listing its owned partitions acknowledges a revocation."""
    if owned is None:
        return True
    return any(owned.get(t, frozenset()) & ps for t, ps in partitions.items())


def is_subset(owned: Owned, assigned: TopicAssignment) -> bool:
    if owned is None:
        return False
    return all(ps <= assigned.get(t, frozenset()) for t, ps in owned.items() if ps)


def reconcile(
    member: ConsumerMember,
    target_epoch: int,
    target: TopicAssignment,
    owner_of: OwnerOf,
    owned: Owned,
) -> ConsumerMember:
    """The member after one heartbeat's reconciliation step toward ``target`` (its part of the
    target assignment at ``target_epoch``)."""
    if member.state == STABLE:
        if member.member_epoch == target_epoch:
            return member
        return _next(
            member, member.member_epoch, member.assigned, target_epoch, target, owner_of, owned
        )
    if member.state == UNREVOKED_PARTITIONS:
        if owns_any(owned, member.pending_revocation):
            return member
        # Revocation acknowledged: the member may move on, one epoch at most.
        epoch = min(member.member_epoch + 1, target_epoch)
        return _next(member, epoch, member.assigned, target_epoch, target, owner_of, owned)
    # UNRELEASED_PARTITIONS: maybe the other member released them meanwhile.
    return _next(
        member, member.member_epoch, member.assigned, target_epoch, target, owner_of, owned
    )


def _next(
    member: ConsumerMember,
    epoch: int,
    current: TopicAssignment,
    target_epoch: int,
    target: TopicAssignment,
    owner_of: OwnerOf,
    owned: Owned,
) -> ConsumerMember:
    kept: dict[uuid.UUID, frozenset[int]] = {}
    revoking: dict[uuid.UUID, frozenset[int]] = {}
    adding: list[tuple[uuid.UUID, int]] = []
    for topic in set(target) | set(current):
        want = target.get(topic, frozenset())
        have = current.get(topic, frozenset())
        if have & want:
            kept[topic] = have & want
        if have - want:
            revoking[topic] = have - want
        adding.extend((topic, p) for p in want - have)
    if revoking and owns_any(owned, revoking):
        # Revoke first: nothing new until the member acknowledges the revocation.
        return replace(
            member,
            state=UNREVOKED_PARTITIONS,
            member_epoch=epoch,
            previous_member_epoch=member.member_epoch,
            assigned=kept,
            pending_revocation=revoking,
        )
    assigned = {t: set(ps) for t, ps in kept.items()}
    unreleased = False
    for topic, partition in adding:
        holder = owner_of(topic, partition)
        if holder is None or holder == member.member_id:
            assigned.setdefault(topic, set()).add(partition)
        else:
            unreleased = True
    return replace(
        member,
        state=UNRELEASED_PARTITIONS if unreleased else STABLE,
        member_epoch=target_epoch,
        previous_member_epoch=member.member_epoch,
        assigned={t: frozenset(ps) for t, ps in assigned.items()},
        pending_revocation={},
    )
