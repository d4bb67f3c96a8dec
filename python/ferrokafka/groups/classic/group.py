"""A classic group (JoinGroup/SyncGroup protocol): its members, state and generation, what the
offset and admin handlers ask of it (the :class:`~ferrokafka.groups.base.Group` interface), and
its GroupMetadata record.

States, as Kafka names them: Empty -> PreparingRebalance -> CompletingRebalance -> Stable, and
Dead once deleted. The rebalance logic that moves between them is
:mod:`ferrokafka.groups.classic.protocol`; this module holds data and answers questions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from ferrokafka.groups.base import CLASSIC, OffsetCommitter, Record
from ferrokafka.groups.records import GroupMetadataKey, GroupMetadataValue
from ferrokafka.groups.serde import encode_key, encode_value
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.api import decode_message
from ferrokafka.protocol.errors import ProtocolDecodeError
from ferrokafka.protocol.messages.consumer_protocol_subscription import (
    ConsumerProtocolSubscription,
)

EMPTY = "Empty"
PREPARING_REBALANCE = "PreparingRebalance"
COMPLETING_REBALANCE = "CompletingRebalance"
STABLE = "Stable"
DEAD = "Dead"
CONSUMER_PROTOCOL_TYPE = "consumer"


class Waiter:
    """One pending JoinGroup or SyncGroup response: completed once, awaited by its handler."""

    def __init__(self) -> None:
        self._event = trio.Event()
        self.value: object = None

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def complete(self, value: object) -> None:
        if not self._event.is_set():
            self.value = value
            self._event.set()

    async def wait(self, timeout_s: float, on_timeout: object) -> object:
        with trio.move_on_after(timeout_s):
            await self._event.wait()
        if not self._event.is_set():
            self.complete(on_timeout)
        return self.value


@dataclass(eq=False)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    # (name, metadata) in the member's order of preference
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    join_waiter: Waiter | None = None
    sync_waiter: Waiter | None = None

    def metadata(self, protocol: str | None) -> bytes:
        for name, data in self.protocols:
            if name == protocol:
                return data
        return b""

    def matches(self, protocols: list[tuple[str, bytes]]) -> bool:
        """Same protocols with the same metadata, in the same order (Kafka's matches)."""
        return self.protocols == protocols

    def protocol_names(self) -> set[str]:
        return {name for name, _ in self.protocols}


@dataclass(eq=False)
class ClassicGroup:
    group_id: str
    current_state_timestamp_ms: int
    _state: str = EMPTY
    generation_id: int = 0
    _protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, Member] = field(default_factory=dict)
    # Member ids handed out with MEMBER_ID_REQUIRED, not yet joined (KIP-394).
    pending_members: set[str] = field(default_factory=set)
    # group.instance.id -> member id (KIP-345)
    static_members: dict[str, str] = field(default_factory=dict)
    # Members that must still SyncGroup in this generation.
    pending_sync: set[str] = field(default_factory=set)
    new_member_added: bool = False
    # While the first rebalance of an empty group waits for more members: the rebalance
    # time left to spend (group.initial.rebalance.delay.ms steps); None otherwise.
    initial_delay_remaining_ms: int | None = None
    # Set by the protocol: cancels the group's timers when it is deleted.
    on_delete: Callable[[ClassicGroup], None] | None = None

    # -- Group interface ---------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return CLASSIC

    @property
    def state(self) -> str:
        return self._state

    @property
    def protocol_type(self) -> str:
        return self._protocol_type or ""

    def is_empty(self) -> bool:
        return not self.members and not self.pending_members

    def subscribed_topics(self) -> frozenset[str] | None:
        if self._protocol_type != CONSUMER_PROTOCOL_TYPE:
            return None if self._protocol_type else frozenset()
        topics: set[str] = set()
        for member in self.members.values():
            data = member.metadata(self.protocol_name)
            parsed = _subscription(data)
            if parsed is None:
                return None
            topics.update(parsed)
        return frozenset(topics)

    def validate_offset_commit(self, committer: OffsetCommitter) -> int:
        epoch, member_id = committer.epoch, committer.member_id
        if self._state == DEAD:
            return ec.COORDINATOR_NOT_AVAILABLE
        if epoch < 0 and self._state == EMPTY:
            return ec.NONE  # a commit from outside the group (simple consumer, admin)
        anonymous = epoch < 0 and not member_id and committer.group_instance_id is None
        if committer.transactional and anonymous:
            return ec.NONE  # TxnOffsetCommit v0-2 carries neither member nor generation
        code = self.validate_member(member_id, committer.group_instance_id, epoch)
        if code != ec.NONE:
            return code
        if self._state == COMPLETING_REBALANCE and not committer.transactional:
            return ec.REBALANCE_IN_PROGRESS
        return ec.NONE

    def validate_offset_fetch(self, member_id: str | None, member_epoch: int) -> int:
        return ec.GROUP_ID_NOT_FOUND if self._state == DEAD else ec.NONE

    def validate_delete(self) -> int:
        if self._state == DEAD:
            return ec.GROUP_ID_NOT_FOUND
        if self._state != EMPTY:
            return ec.NON_EMPTY_GROUP
        return ec.NONE

    def tombstones(self) -> list[Record]:
        return [(encode_key(GroupMetadataKey(group=self.group_id)), None)]

    def on_deleted(self) -> None:
        self._state = DEAD
        for member in self.members.values():
            for waiter in (member.join_waiter, member.sync_waiter):
                if waiter is not None:
                    waiter.complete(ec.COORDINATOR_NOT_AVAILABLE)
        if self.on_delete is not None:
            self.on_delete(self)

    @property
    def offsets_expire_from_ms(self) -> int | None:
        """Where the retention of an empty group's offsets starts (the coordinator's expiry):
        when it became empty, for a group that had members (a protocol type); None for a
        simple group, whose offsets expire one by one from their commit (Kafka's rule)."""
        if self._state == EMPTY and self._protocol_type:
            return self.current_state_timestamp_ms
        return None

    # -- questions the protocol asks ---------------------------------------------------------

    def transition(self, state: str, now_ms: int) -> None:
        self._state = state
        self.current_state_timestamp_ms = now_ms

    def validate_member(
        self, member_id: str, group_instance_id: str | None, generation: int
    ) -> int:
        """Kafka's validateMember: instance fencing, then membership, then generation."""
        if group_instance_id is not None:
            known = self.static_members.get(group_instance_id)
            if known is None:
                return ec.UNKNOWN_MEMBER_ID
            if known != member_id:
                return ec.FENCED_INSTANCE_ID
        if member_id not in self.members:
            return ec.UNKNOWN_MEMBER_ID
        if generation != self.generation_id:
            return ec.ILLEGAL_GENERATION
        return ec.NONE

    def supports(self, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        """Kafka's supportsProtocols: an empty group takes any non-empty protocol type and
        list; otherwise the type must match and some protocol be common to every member."""
        names = {name for name, _ in protocols}
        if not protocol_type or not names:
            return False
        if not self.members:
            return True
        if protocol_type != self._protocol_type:
            return False
        common = set(names)
        for member in self.members.values():
            common &= member.protocol_names()
        return bool(common)

    def add(self, member: Member) -> None:
        if not self.members:
            self._protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        if self.leader_id is None:
            self.leader_id = member.member_id

    def remove(self, member_id: str) -> Member | None:
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        instance = member.group_instance_id
        if instance is not None and self.static_members.get(instance) == member_id:
            del self.static_members[instance]
        self.pending_sync.discard(member_id)
        if self.leader_id == member_id:
            joined = [m for m in self.members.values() if m.join_waiter is not None]
            choice = joined[0] if joined else next(iter(self.members.values()), None)
            self.leader_id = choice.member_id if choice is not None else None
        return member

    def all_joined(self) -> bool:
        return not self.pending_members and all(
            m.join_waiter is not None for m in self.members.values()
        )

    def max_rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def select_protocol(self) -> str:
        """The protocol every member supports that most members rank first (ties: the
        leader's preference), Kafka's vote."""
        members = list(self.members.values())
        common = set.intersection(*(m.protocol_names() for m in members))
        votes: dict[str, int] = {}
        for member in members:
            choice = next(name for name, _ in member.protocols if name in common)
            votes[choice] = votes.get(choice, 0) + 1
        leader = self.members.get(self.leader_id or "", members[0])
        order = [name for name, _ in leader.protocols if name in votes]
        return max(order, key=lambda name: (votes[name], -order.index(name)))

    # -- persistence -------------------------------------------------------------------------

    def metadata_record(self, assignments: dict[str, bytes] | None = None) -> Record:
        """The GroupMetadata record of the group as it is (or with ``assignments``)."""
        value = GroupMetadataValue(
            protocol_type=self._protocol_type or "",
            generation=self.generation_id,
            protocol=self.protocol_name,
            leader=self.leader_id,
            current_state_timestamp=self.current_state_timestamp_ms,
            members=[
                GroupMetadataValue.MemberMetadata(
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    rebalance_timeout=m.rebalance_timeout_ms,
                    session_timeout=m.session_timeout_ms,
                    subscription=m.metadata(self.protocol_name),
                    assignment=(assignments or {}).get(m.member_id, m.assignment),
                )
                for m in self.members.values()
            ],
        )
        return encode_key(GroupMetadataKey(group=self.group_id)), encode_value(value)

    @classmethod
    def from_record(cls, group_id: str, value: GroupMetadataValue, now_ms: int) -> ClassicGroup:
        timestamp = value.current_state_timestamp
        group = cls(group_id, timestamp if timestamp >= 0 else now_ms)
        group._protocol_type = value.protocol_type or None
        group.generation_id = value.generation
        group.protocol_name = value.protocol
        group.leader_id = value.leader
        for m in value.members:
            member = Member(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                rebalance_timeout_ms=m.rebalance_timeout if m.rebalance_timeout >= 0 else 0,
                session_timeout_ms=m.session_timeout,
                protocol_type=value.protocol_type,
                protocols=[(value.protocol or "", bytes(m.subscription))],
                assignment=bytes(m.assignment),
            )
            group.members[member.member_id] = member
            if member.group_instance_id is not None:
                group.static_members[member.group_instance_id] = member.member_id
        group._state = STABLE if group.members else EMPTY
        return group


def _subscription(data: bytes) -> list[str] | None:
    """The topics of a consumer protocol subscription (2-byte version, then the body)."""
    if len(data) < 2:
        return None
    version = int.from_bytes(data[:2], "big", signed=True)
    lo, hi = ConsumerProtocolSubscription.valid_versions()
    # Newer versions only add fields after the topics; read them as the newest we know.
    try:
        parsed = decode_message(ConsumerProtocolSubscription, data[2:], min(max(version, lo), hi))
    except ProtocolDecodeError:
        return None
    return list(parsed.topics)
