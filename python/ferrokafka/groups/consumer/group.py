"""A consumer group of the KIP-848 protocol, sans-io: ConsumerGroupHeartbeat's rules, the
group/assignment/member epochs, session and revocation timeouts as deadlines the caller
checks (:meth:`ConsumerGroup.expire`), and the :class:`~ferrokafka.groups.base.Group`
interface the offset and admin handlers use.

Epochs: the group epoch goes up when membership, a subscription or the partition count of a
subscribed topic changes; the target assignment is recomputed (by the chosen server-side
assignor) when it is behind the group epoch and takes the group epoch as its own; each member
then moves to it through :func:`~ferrokafka.groups.consumer.member.reconcile`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace

from ferrokafka.groups.base import CONSUMER, Record
from ferrokafka.groups.consumer import member as m
from ferrokafka.groups.consumer.assignors import ASSIGNOR_NAMES, AssignorMember, assign
from ferrokafka.groups.consumer.regex import InvalidRegexError, compile_subscription
from ferrokafka.groups.epoch_group import (  # noqa: F401 (the group states, for importers)
    ASSIGNING,
    DEAD,
    EMPTY,
    RECONCILING,
    STABLE,
    EpochGroup,
    HeartbeatError,
    MemberHeartbeat,
)
from ferrokafka.protocol import error_codes as ec

# topic name -> (topic id, partition count): the metadata the group assigns from
Topics = Mapping[str, tuple[uuid.UUID, int]]


@dataclass(frozen=True)
class GroupConfig:
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 5_000
    max_size: int = 2**31 - 1


@dataclass(frozen=True)
class Heartbeat(MemberHeartbeat):
    """The fields of one ConsumerGroupHeartbeat, after the handler checked their shape."""

    subscribed_topic_names: list[str] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    owned: Mapping[uuid.UUID, frozenset[int]] | None = None


@dataclass(frozen=True)
class HeartbeatResult:
    member_id: str
    member_epoch: int
    heartbeat_interval_ms: int
    # None: the response carries no assignment (nothing changed and not a full request)
    assignment: m.TopicAssignment | None


class ConsumerGroup(EpochGroup[m.ConsumerMember, m.TopicAssignment, GroupConfig]):
    """One consumer group; every method runs in the coordinator's task, never concurrently."""

    KIND = CONSUMER
    MEMBER_STABLE = m.STABLE
    MEMBER_UNREVOKED = m.UNREVOKED_PARTITIONS

    def __init__(self, group_id: str, config: GroupConfig) -> None:
        super().__init__(group_id, config)
        self.assignor_name = ASSIGNOR_NAMES[0]
        # Subscribed topics as the last epoch bump saw them: name -> (id, partition count).
        self.subscribed_metadata: dict[str, tuple[uuid.UUID, int]] = {}
        # Set by a load from __consumer_offsets: the metadata hash the group epoch was bumped
        # for, so the first heartbeat after a restart bumps it only if topics changed.
        self.restored_metadata_hash: int | None = None
        self._subscriptions_cache: tuple[frozenset[str], frozenset[str]] | None = None

    def adopt(self, other: ConsumerGroup) -> None:
        super().adopt(other)
        self.assignor_name = other.assignor_name
        self.subscribed_metadata = dict(other.subscribed_metadata)
        self.restored_metadata_hash = other.restored_metadata_hash
        self._subscriptions_cache = other._subscriptions_cache

    # -- the Group interface ------------------------------------------------------------

    def subscribed_topics(self) -> frozenset[str] | None:
        # The names members ask for too: right after a load the resolved metadata is empty
        # until the first heartbeat, and OffsetDelete must still refuse subscribed topics.
        return frozenset(self.subscribed_metadata) | self._subscriptions()[0]

    def tombstones(self) -> list[Record]:
        from ferrokafka.groups.consumer.records import group_tombstones  # records imports us

        return group_tombstones(self)

    # -- ConsumerGroupHeartbeat -------------------------------------------------------------

    def heartbeat(self, hb: Heartbeat, topics: Topics, now_ms: int) -> HeartbeatResult:
        """Apply one heartbeat (join, heartbeat, leave); raises :class:`HeartbeatError`."""
        if hb.member_epoch in (m.LEAVE_EPOCH, m.LEAVE_STATIC_EPOCH):
            return self._leave(hb)
        if hb.server_assignor is not None and hb.server_assignor not in ASSIGNOR_NAMES:
            raise HeartbeatError(
                ec.UNSUPPORTED_ASSIGNOR,
                f"ServerAssignor {hb.server_assignor} is not supported. Supported assignors: "
                f"{', '.join(ASSIGNOR_NAMES)}.",
            )
        if hb.subscribed_topic_regex:
            _compile(hb.subscribed_topic_regex)
        member = self._member_for(hb)
        updated = self._with_client(
            member,
            hb,
            subscribed_topic_names=(
                tuple(sorted(set(hb.subscribed_topic_names)))
                if hb.subscribed_topic_names is not None
                else member.subscribed_topic_names
            ),
            subscribed_topic_regex=_or(hb.subscribed_topic_regex, member.subscribed_topic_regex),
            server_assignor=_or(hb.server_assignor, member.server_assignor),
        )
        is_new = member.member_id not in self.members
        self._put(updated)
        # One bump for whatever changed: membership, a subscription, the subscribed topics.
        metadata_changed = self._refresh_metadata(topics)
        if is_new or _subscription(updated) != _subscription(member) or metadata_changed:
            self.group_epoch += 1
        if self.group_epoch > self.assignment_epoch:
            self._compute_target(topics)
        before = self.members[updated.member_id]
        after = m.reconcile(
            before,
            self.assignment_epoch,
            self.target.get(before.member_id, m.EMPTY),
            self._owner_of,
            hb.owned,
        )
        self._put(after)
        self._schedule(before, after, now_ms)
        full = hb.member_epoch == m.JOIN_EPOCH or (
            hb.rebalance_timeout_ms != -1
            and hb.subscribed_topic_names is not None
            and hb.owned is not None
        )
        changed = after.assigned != member.assigned
        return HeartbeatResult(
            member_id=after.member_id,
            member_epoch=after.member_epoch,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            assignment=after.assigned if (full or changed or is_new) else None,
        )

    def _member_for(self, hb: Heartbeat) -> m.ConsumerMember:
        """The member this heartbeat speaks for (a new one when joining), after Kafka's
        identity and epoch checks."""
        existing = self.members.get(hb.member_id)
        if hb.instance_id is not None:
            holder = self.static_members.get(hb.instance_id)
            if hb.member_epoch == m.JOIN_EPOCH:
                if holder is not None and holder != hb.member_id:
                    previous = self.members[holder]
                    if previous.member_epoch != m.LEAVE_STATIC_EPOCH:
                        raise HeartbeatError(
                            ec.UNRELEASED_INSTANCE_ID,
                            f"Static member {previous.member_id} with instance id "
                            f"{hb.instance_id} is not released yet.",
                        )
                    return self._replace_static(previous, hb)
            else:
                if holder is None:
                    raise HeartbeatError(
                        ec.UNKNOWN_MEMBER_ID, f"Instance id {hb.instance_id} is unknown."
                    )
                if holder != hb.member_id:
                    raise HeartbeatError(ec.FENCED_INSTANCE_ID, _fenced(hb, holder))
        if existing is None:
            if hb.member_epoch != m.JOIN_EPOCH:
                raise HeartbeatError(ec.UNKNOWN_MEMBER_ID, self._unknown(hb.member_id))
            self._check_capacity()
            return m.ConsumerMember(member_id=hb.member_id, instance_id=hb.instance_id)
        if hb.member_epoch != m.JOIN_EPOCH:
            self._check_epoch(existing, hb)
        return existing

    def _replace_static(self, previous: m.ConsumerMember, hb: Heartbeat) -> m.ConsumerMember:
        """A static member came back under a new member id: it takes over the old one's
        assignment and epoch, so its partitions do not move."""
        target = self.target.get(previous.member_id)
        self._remove(previous.member_id)
        successor = replace(previous, member_id=hb.member_id)
        self.members[successor.member_id] = successor
        if target is not None:
            self.target[successor.member_id] = target
        for tp in successor.owned_partitions():
            self._owners[tp] = successor.member_id
        self.static_members[hb.instance_id or ""] = successor.member_id
        # Its epoch is still LEAVE_STATIC_EPOCH: reconciliation brings it to the target epoch
        # with the partitions it had.
        return successor

    def _leave(self, hb: Heartbeat) -> HeartbeatResult:
        """Kafka's consumerGroupLeave: epoch -1 removes the member; -2 (static members only)
        keeps it and its partitions for its return within the session timeout."""
        if hb.instance_id is None:
            member = self.members.get(hb.member_id)
            if member is None:
                raise HeartbeatError(ec.UNKNOWN_MEMBER_ID, self._unknown(hb.member_id))
        else:
            holder = self.static_members.get(hb.instance_id)
            if holder is None:
                raise HeartbeatError(
                    ec.UNKNOWN_MEMBER_ID, f"Instance id {hb.instance_id} is unknown."
                )
            if holder != hb.member_id:
                raise HeartbeatError(ec.FENCED_INSTANCE_ID, _fenced(hb, holder))
            member = self.members[holder]
        if hb.member_epoch == m.LEAVE_STATIC_EPOCH:
            self._put(replace(member, member_epoch=m.LEAVE_STATIC_EPOCH, pending_revocation={}))
            self.revocation_deadline_ms.pop(member.member_id, None)
        else:
            self.fence(member.member_id)
        return HeartbeatResult(
            member_id=hb.member_id,
            member_epoch=hb.member_epoch,
            heartbeat_interval_ms=0,
            assignment=None,
        )

    # -- internals ----------------------------------------------------------------------------

    def _owned(self, member: m.ConsumerMember) -> Iterable[Hashable]:
        return member.owned_partitions()

    def _holds_only_assigned(self, member: m.ConsumerMember, hb: Heartbeat) -> bool:
        return m.is_subset(hb.owned, member.assigned)

    def _member_changing(self, old: m.ConsumerMember | None, new: m.ConsumerMember) -> None:
        if old is None or _subscription(old)[:2] != _subscription(new)[:2]:
            self._subscriptions_cache = None

    def _member_removed(self, member: m.ConsumerMember) -> None:
        self._subscriptions_cache = None

    def _owner_of(self, topic: uuid.UUID, partition: int) -> str | None:
        return self._owners.get((topic, partition))

    def _subscribed_names(self, member: m.ConsumerMember, topics: Topics) -> set[str]:
        names = {t for t in member.subscribed_topic_names if t in topics}
        if member.subscribed_topic_regex:
            names |= _matching(member.subscribed_topic_regex, topics)
        return names

    def _subscriptions(self) -> tuple[frozenset[str], frozenset[str]]:
        """Every topic name and every regex some member subscribes to, cached until a member
        joins, leaves or changes its subscription (a heartbeat must not cost O(members))."""
        if self._subscriptions_cache is None:
            self._subscriptions_cache = (
                frozenset(n for x in self.members.values() for n in x.subscribed_topic_names),
                frozenset(
                    x.subscribed_topic_regex
                    for x in self.members.values()
                    if x.subscribed_topic_regex
                ),
            )
        return self._subscriptions_cache

    def _refresh_metadata(self, topics: Topics) -> bool:
        """Whether a subscribed topic appeared, went away or grew (the group epoch must go
        up)."""
        explicit, regexes = self._subscriptions()
        names = {t for t in explicit if t in topics}
        for regex in regexes:
            names |= _matching(regex, topics)
        metadata = {name: topics[name] for name in sorted(names)}
        if metadata != self.subscribed_metadata:
            self.subscribed_metadata = metadata
            restored, self.restored_metadata_hash = self.restored_metadata_hash, None
            return restored is None or restored != _hash(metadata)
        return False

    def _compute_target(self, topics: Topics) -> None:
        chosen = Counter(x.server_assignor for x in self.members.values() if x.server_assignor)
        self.assignor_name = (
            min(chosen, key=lambda name: (-chosen[name], name)) if chosen else ASSIGNOR_NAMES[0]
        )
        counts = {topic_id: n for topic_id, n in self.subscribed_metadata.values()}
        assignor_members = {
            x.member_id: AssignorMember(
                subscribed=frozenset(topics[t][0] for t in self._subscribed_names(x, topics)),
                current=self.target.get(x.member_id, x.assigned),
            )
            for x in self.members.values()
        }
        self.target = dict(assign(self.assignor_name, assignor_members, counts))
        self.assignment_epoch = self.group_epoch


def _fenced(hb: Heartbeat, holder: str) -> str:
    return (
        f"Static member {hb.member_id} with instance id {hb.instance_id} was fenced by member "
        f"{holder}."
    )


def _compile(regex: str) -> re.Pattern[str]:
    try:
        return compile_subscription(regex)
    except InvalidRegexError as exc:
        raise HeartbeatError(
            ec.INVALID_REGULAR_EXPRESSION, f"SubscribedTopicRegex {regex} is invalid: {exc}"
        ) from None


def _matching(regex: str, topics: Topics) -> set[str]:
    """The topics a subscribed regex matches in full, as Kafka's coordinator resolves it: every
    topic name of the metadata, internal topics (``__consumer_offsets``...) included. Only the
    Java consumer's client-side pattern subscription leaves them out (exclude.internal.topics);
    a KIP-848 regex is matched here, not by the client."""
    pattern = _compile(regex)
    return {t for t in topics if pattern.fullmatch(t)}


def _subscription(member: m.ConsumerMember) -> tuple:
    return (member.subscribed_topic_names, member.subscribed_topic_regex, member.server_assignor)


def _hash(metadata: Mapping[str, tuple[uuid.UUID, int]]) -> int:
    digest = hashlib.sha256()
    for name, (topic_id, count) in sorted(metadata.items()):
        digest.update(f"{name}\0{topic_id}\0{count}\n".encode())
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


def metadata_hash(group: ConsumerGroup) -> int:
    """The group's subscribed-topics hash as ConsumerGroupMetadataValue carries it (ours, a
    SHA-256 prefix, not Kafka's)."""
    return _hash(group.subscribed_metadata)


def _or(new: str | None, old: str | None) -> str | None:
    return new if new is not None else old
