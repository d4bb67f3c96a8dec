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
        self.subscribed_metadata = metadata
        return True

    def _compute_target(self, topics: Topics) -> None:
        self.target = simple_assign(
            {x.member_id: x.subscribed_topic_names for x in self.members.values()}, topics
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
    subscriptions: Mapping[str, tuple[str, ...]], topics: Topics
) -> dict[str, TopicAssignment]:
    """The share groups' simple assignor: every subscribed partition to at least one of its
    subscribers. Per topic, with P partitions and M subscribers (both sorted): when M <= P
    partition p goes to subscriber p mod M; when M > P each subscriber j gets partition
    j mod P, so the ceil(M/P) members sharing a partition are spread evenly. Not sticky (Kafka
    4.4's SimpleHomogeneousAssignmentBuilder also keeps existing assignments where it can)."""
    out: dict[str, dict[uuid.UUID, set[int]]] = {m: {} for m in subscriptions}
    names = sorted({n for names in subscriptions.values() for n in names})
    for name in names:
        if name not in topics:
            continue
        topic_id, count = topics[name]
        members = sorted(m for m, subs in subscriptions.items() if name in subs)
        if not members or count <= 0:
            continue
        if len(members) <= count:
            for p in range(count):
                out[members[p % len(members)]].setdefault(topic_id, set()).add(p)
        else:
            for j, member in enumerate(members):
                out[member].setdefault(topic_id, set()).add(j % count)
    return {m: {t: frozenset(ps) for t, ps in parts.items()} for m, parts in out.items()}
