"""A share group (KIP-932), sans-io: ShareGroupHeartbeat's rules, the group / assignment /
member epochs, session deadlines the caller checks (:meth:`ShareGroup.expire`), the simple
assignor, and the :class:`~ferrokafka.groups.base.Group` interface the admin handlers use.

Unlike a consumer group there is no revocation: several members may hold one partition, so a
member takes its target assignment at once, with the assignment epoch as its member epoch.
The group epoch goes up when a member joins or leaves, a subscription changes, or a subscribed
topic appears or gains partitions; the target is then recomputed with that epoch.

The member id comes from the client (ShareGroupHeartbeat v1: the client generates it).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ferrokafka.groups.base import Record
from ferrokafka.protocol import error_codes as ec

SHARE = "share"
EMPTY = "Empty"
STABLE = "Stable"
DEAD = "Dead"
JOIN_EPOCH = 0
LEAVE_EPOCH = -1
ASSIGNOR_NAME = "simple"

# topic name -> (topic id, partition count)
Topics = Mapping[str, tuple[uuid.UUID, int]]
# topic id -> partitions
TopicAssignment = Mapping[uuid.UUID, frozenset[int]]


class HeartbeatError(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ec.error_name(code))
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ShareGroupConfig:
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 5_000
    max_size: int = 200


@dataclass(frozen=True)
class ShareMember:
    member_id: str
    member_epoch: int = 0
    previous_member_epoch: int = 0
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    subscribed_topic_names: tuple[str, ...] = ()
    assigned: TopicAssignment = field(default_factory=dict)


@dataclass(frozen=True)
class Heartbeat:
    member_id: str
    member_epoch: int
    rack_id: str | None = None
    subscribed_topic_names: list[str] | None = None
    client_id: str = ""
    client_host: str = ""


@dataclass(frozen=True)
class HeartbeatResult:
    member_id: str
    member_epoch: int
    heartbeat_interval_ms: int
    assignment: TopicAssignment | None


class ShareGroup:
    """One share group; every method runs in the coordinator's task."""

    def __init__(self, group_id: str, config: ShareGroupConfig) -> None:
        self.group_id = group_id
        self.config = config
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.members: dict[str, ShareMember] = {}
        self.target: dict[str, TopicAssignment] = {}
        self.subscribed_metadata: dict[str, tuple[uuid.UUID, int]] = {}
        self.session_deadline_ms: dict[str, int] = {}
        # Share-partitions whose state was initialized (ShareGroupStatePartitionMetadata).
        self.initialized: dict[uuid.UUID, frozenset[int]] = {}
        self.topic_names: dict[uuid.UUID, str] = {}
        # Set by a load: the metadata hash of the last group epoch bump, so the first
        # heartbeat after a restart bumps the epoch only if the subscribed topics changed.
        self.restored_metadata_hash: int | None = None
        self._dead = False

    def clone(self) -> ShareGroup:
        other = ShareGroup(self.group_id, self.config)
        other.adopt(self)
        return other

    def adopt(self, other: ShareGroup) -> None:
        self.config = other.config
        self.group_epoch = other.group_epoch
        self.assignment_epoch = other.assignment_epoch
        self.members = dict(other.members)
        self.target = dict(other.target)
        self.subscribed_metadata = dict(other.subscribed_metadata)
        self.session_deadline_ms = dict(other.session_deadline_ms)
        self.initialized = dict(other.initialized)
        self.topic_names = dict(other.topic_names)
        self.restored_metadata_hash = other.restored_metadata_hash
        self._dead = other._dead

    # -- the Group interface ------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return SHARE

    @property
    def protocol_type(self) -> str:
        return SHARE

    @property
    def state(self) -> str:
        if self._dead:
            return DEAD
        return STABLE if self.members else EMPTY

    def is_empty(self) -> bool:
        return not self.members

    def subscribed_topics(self) -> frozenset[str] | None:
        return frozenset(n for x in self.members.values() for n in x.subscribed_topic_names)

    def validate_offset_commit(self, *args: object, **kwargs: object) -> int:
        return ec.GROUP_ID_NOT_FOUND  # a share group has no committed offsets

    def validate_offset_fetch(self, member_id: str | None, member_epoch: int) -> int:
        return ec.GROUP_ID_NOT_FOUND

    def validate_delete(self) -> int:
        return ec.NONE if not self.members else ec.NON_EMPTY_GROUP

    def tombstones(self) -> list[Record]:
        from ferrokafka.groups.share.records import group_tombstones

        return group_tombstones(self)

    def on_deleted(self) -> None:
        self._dead = True

    # -- heartbeats ---------------------------------------------------------------------------

    def heartbeat(self, hb: Heartbeat, topics: Topics, now_ms: int) -> HeartbeatResult:
        if hb.member_epoch == LEAVE_EPOCH:
            if hb.member_id in self.members:
                self._remove(hb.member_id)
                self._bump()
            return HeartbeatResult(hb.member_id, LEAVE_EPOCH, 0, None)
        member = self.members.get(hb.member_id)
        if member is None:
            if hb.member_epoch != JOIN_EPOCH:
                raise HeartbeatError(
                    ec.UNKNOWN_MEMBER_ID,
                    f"Member {hb.member_id} is not a member of group {self.group_id}.",
                )
            if len(self.members) >= self.config.max_size:
                raise HeartbeatError(
                    ec.GROUP_MAX_SIZE_REACHED,
                    f"The share group has reached its maximum capacity of "
                    f"{self.config.max_size} members.",
                )
            member = ShareMember(hb.member_id)
        elif hb.member_epoch != JOIN_EPOCH:
            _check_epoch(member, hb.member_epoch)
        updated = replace(
            member,
            rack_id=hb.rack_id if hb.rack_id is not None else member.rack_id,
            client_id=hb.client_id,
            client_host=hb.client_host,
            subscribed_topic_names=(
                tuple(sorted(set(hb.subscribed_topic_names)))
                if hb.subscribed_topic_names is not None
                else member.subscribed_topic_names
            ),
        )
        joined = hb.member_id not in self.members
        bump = joined or updated.subscribed_topic_names != member.subscribed_topic_names
        self.members[hb.member_id] = updated
        # One bump for whatever changed: membership, a subscription, the subscribed topics.
        if self._refresh_metadata(topics) or bump:
            self._bump()
        if self.assignment_epoch < self.group_epoch:
            self._compute_target(topics)
        self.session_deadline_ms[hb.member_id] = now_ms + self.config.session_timeout_ms
        current = self.members[hb.member_id]
        target = self.target.get(hb.member_id, {})
        send = hb.member_epoch == JOIN_EPOCH
        if current.member_epoch != self.assignment_epoch or current.assigned != target:
            current = replace(
                current,
                previous_member_epoch=current.member_epoch,
                member_epoch=self.assignment_epoch,
                assigned=target,
            )
            self.members[hb.member_id] = current
            send = True
        return HeartbeatResult(
            hb.member_id,
            current.member_epoch,
            self.config.heartbeat_interval_ms,
            current.assigned if send else None,
        )

    def _bump(self) -> None:
        self.group_epoch += 1

    def _remove(self, member_id: str) -> None:
        self.members.pop(member_id, None)
        self.target.pop(member_id, None)
        self.session_deadline_ms.pop(member_id, None)

    def _refresh_metadata(self, topics: Topics) -> bool:
        subscribed = {n for x in self.members.values() for n in x.subscribed_topic_names}
        metadata = {n: topics[n] for n in sorted(subscribed) if n in topics}
        if metadata == self.subscribed_metadata:
            return False
        restored, self.restored_metadata_hash = self.restored_metadata_hash, None
        self.subscribed_metadata = metadata
        return restored is None or restored != metadata_hash(metadata)

    def _compute_target(self, topics: Topics) -> None:
        self.target = simple_assign(
            {x.member_id: x.subscribed_topic_names for x in self.members.values()},
            topics,
            self.target,
        )
        for name, (topic_id, _) in self.subscribed_metadata.items():
            self.topic_names[topic_id] = name
        self.assignment_epoch = self.group_epoch

    # -- sessions -----------------------------------------------------------------------------

    def start_session(self, member_id: str, now_ms: int) -> None:
        self.session_deadline_ms[member_id] = now_ms + self.config.session_timeout_ms

    def expire(self, now_ms: int, topics: Topics) -> list[str]:
        """Remove the members whose session passed; their ids."""
        gone = [m for m, d in self.session_deadline_ms.items() if d <= now_ms]
        for member_id in gone:
            self._remove(member_id)
        if gone:
            self._bump()
            self._refresh_metadata(topics)
            self._compute_target(topics)
        return gone

    def next_deadline_ms(self) -> int | None:
        return min(self.session_deadline_ms.values(), default=None)

    def restore_member(self, member_id: str, member: ShareMember | None) -> None:
        if member is None:
            self._remove(member_id)
        else:
            self.members[member_id] = member


def metadata_hash(metadata: Mapping[str, tuple[uuid.UUID, int]]) -> int:
    """The ShareGroupMetadata hash of the subscribed topics (ours, not Kafka's): SHA-256 of
    their names, ids and partition counts."""
    text = ";".join(f"{n}:{t}:{c}" for n, (t, c) in sorted(metadata.items()))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def _check_epoch(member: ShareMember, received: int) -> None:
    """Kafka's throwIfShareGroupMemberEpochIsInvalid, with its messages."""
    if received > member.member_epoch:
        raise HeartbeatError(
            ec.FENCED_MEMBER_EPOCH,
            f"The share group member has a greater member epoch ({received}) than the one "
            f"known by the group coordinator ({member.member_epoch}). The member must abandon "
            "all its partitions and rejoin.",
        )
    if received < member.member_epoch and received != member.previous_member_epoch:
        raise HeartbeatError(
            ec.FENCED_MEMBER_EPOCH,
            f"The share group member has a smaller member epoch ({received}) than the one "
            f"known by the group coordinator ({member.member_epoch}), and it does not match "
            f"the previous member epoch ({member.previous_member_epoch}). The member must "
            "abandon all its partitions and rejoin.",
        )


def simple_assign(
    subscriptions: Mapping[str, tuple[str, ...]],
    topics: Topics,
    current: Mapping[str, TopicAssignment] | None = None,
) -> dict[str, TopicAssignment]:
    """The share groups' simple assignor (Kafka 4.4's SimpleHomogeneousAssignmentBuilder):
    every subscribed partition to ``desired_sharing`` = ceil(members / partitions) members,
    member i of M wanting ceil(r(i+1)) - ceil(ri) partitions with r = sharing x partitions /
    M; the ``current`` assignment is kept where it fits (partitions gone, members over their
    count and partitions over their sharing lose the excess), then the remaining slots go to
    the members still under their count. Members that subscribe to the same topics are
    assigned together (Kafka's homogeneous case); with mixed subscriptions each topic is
    assigned among its subscribers (Kafka has a heterogeneous builder for that). Members and
    partitions are taken in sorted order where Kafka iterates hash maps, so ties may resolve
    differently."""
    out: dict[str, dict[uuid.UUID, set[int]]] = {m: {} for m in subscriptions}
    by_subscription: dict[tuple[str, ...], list[str]] = {}
    for member, subscribed in subscriptions.items():
        by_subscription.setdefault(tuple(sorted(set(subscribed))), []).append(member)
    homogeneous = len(by_subscription) == 1
    units: list[tuple[list[str], list[str]]] = (
        [(sorted(subscriptions), sorted(next(iter(by_subscription))))]
        if homogeneous
        else [
            (sorted(m for m, subs in subscriptions.items() if name in subs), [name])
            for name in sorted({n for names in subscriptions.values() for n in names})
        ]
    )
    for members, names in units:
        partitions = [
            (topics[name][0], p) for name in names if name in topics for p in range(topics[name][1])
        ]
        old = {
            m: {
                (t, p)
                for t, ps in (current or {}).get(m, {}).items()
                for p in ps
                if any(t == topics[n][0] for n in names if n in topics)
            }
            for m in members
        }
        for member, parts in _build(members, partitions, old).items():
            for t, p in parts:
                out[member].setdefault(t, set()).add(p)
    return {m: {t: frozenset(ps) for t, ps in parts.items()} for m, parts in out.items()}


def _build(
    members: list[str], partitions: list[tuple[uuid.UUID, int]], old: dict[str, set]
) -> dict[str, set[tuple[uuid.UUID, int]]]:
    count = len(members)
    if not partitions or not count:
        return {m: set() for m in members}
    sharing = (count + len(partitions) - 1) // len(partitions)
    ratio = sharing * len(partitions) / count
    desired = {m: math.ceil(ratio * (i + 1)) - math.ceil(ratio * i) for i, m in enumerate(members)}
    target = set(partitions)
    assigned = {m: sorted(old.get(m, set()) & target) for m in members}  # unassignable gone
    for m in members:  # overfilled members give back the excess
        assigned[m] = assigned[m][: desired[m]]
    holders: dict[tuple[uuid.UUID, int], list[str]] = {tp: [] for tp in partitions}
    for m in members:
        for tp in assigned[m]:
            holders[tp].append(m)
    for tp, who in holders.items():  # overshared partitions lose the excess
        for m in who[sharing:]:
            assigned[m].remove(tp)
        del who[sharing:]
    unfilled = [m for m in members if len(assigned[m]) < desired[m]]
    while unfilled:
        progressed = False
        for tp in partitions:
            for m in list(unfilled):
                if len(holders[tp]) >= sharing:
                    break
                if m in holders[tp]:
                    continue
                holders[tp].append(m)
                assigned[m].append(tp)
                progressed = True
                if len(assigned[m]) >= desired[m]:
                    unfilled.remove(m)
            if not unfilled:
                break
        if not progressed:
            break
    return {m: set(ps) for m, ps in assigned.items()}
