"""What the groups of KIP-848's protocol family share, sans-io: consumer groups (KIP-848) and
streams groups (KIP-1071) both keep a group epoch, a target assignment with its own epoch and
members that move to it one heartbeat at a time, revoking before they get what another member
still owns. This module is the part that does not depend on what is assigned (partitions or
tasks): the members and their static ids, who owns what, the session and revocation deadlines
(:meth:`EpochGroup.expire`), the member-epoch fencing of a heartbeat, and the
:class:`~ferrokafka.groups.base.Group` interface the offset and admin handlers use.

A kind of group subclasses :class:`EpochGroup` with its member type and assignment type, names
its ``KIND`` and member states, and says what a member owns (:meth:`EpochGroup._owned`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from ferrokafka.groups.base import OffsetCommitter
from ferrokafka.protocol import error_codes as ec

# Group states (ListGroups/DescribeGroups), as Kafka names them for both kinds.
EMPTY = "Empty"
ASSIGNING = "Assigning"
RECONCILING = "Reconciling"
STABLE = "Stable"
DEAD = "Dead"

# Member epochs with a meaning of their own in a heartbeat.
JOIN_EPOCH = 0
LEAVE_EPOCH = -1
LEAVE_STATIC_EPOCH = -2


class HeartbeatError(Exception):
    """The heartbeat (ConsumerGroupHeartbeat, StreamsGroupHeartbeat) answers this error code
    (and message) to the member."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ec.error_name(code))
        self.code = code
        self.message = message


class EpochMember(Protocol):
    """What the shared logic reads of a member (an immutable dataclass of the kind)."""

    @property
    def member_id(self) -> str: ...
    @property
    def instance_id(self) -> str | None: ...
    @property
    def member_epoch(self) -> int: ...
    @property
    def previous_member_epoch(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def rebalance_timeout_ms(self) -> int: ...


@dataclass(frozen=True)
class MemberHeartbeat:
    """The fields every kind's heartbeat carries (a kind's Heartbeat adds its own), after the
    handler checked their shape."""

    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    client_id: str = ""
    client_host: str = ""


M = TypeVar("M", bound=Any)  # the member type (an EpochMember dataclass)
A = TypeVar("A")  # what the target assignment gives one member
C = TypeVar("C", bound=Any)  # the group config (session_timeout_ms, max_size...)


class EpochGroup(Generic[M, A, C]):
    """One group; every method runs in the coordinator's task, never concurrently."""

    KIND: ClassVar[str]  # ListGroups' type and protocol type: "consumer", "streams"
    MEMBER_STABLE: ClassVar[str]  # the member state of a member at its target
    MEMBER_UNREVOKED: ClassVar[str]  # the member state of a member that must revoke

    def __init__(self, group_id: str, config: C) -> None:
        self.group_id = group_id
        self.config = config
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.members: dict[str, M] = {}
        self.static_members: dict[str, str] = {}  # instance id -> member id
        self.target: dict[str, A] = {}
        self._owners: dict[Hashable, str] = {}  # a partition or task -> the member owning it
        self.session_deadline_ms: dict[str, int] = {}
        self.revocation_deadline_ms: dict[str, int] = {}
        self._dead = False

    def clone(self) -> Any:
        """A copy to apply a change to before it is written (members are immutable, so
        copying the maps copies everything)."""
        other = type(self)(self.group_id, self.config)
        other.adopt(self)
        return other

    def adopt(self, other: Any) -> None:
        """Take ``other``'s state (a clone that a written change was applied to); a kind
        extends it with its own fields."""
        self.config = other.config
        self.group_epoch = other.group_epoch
        self.assignment_epoch = other.assignment_epoch
        self.members = dict(other.members)
        self.static_members = dict(other.static_members)
        self.target = dict(other.target)
        self._owners = dict(other._owners)
        self.session_deadline_ms = dict(other.session_deadline_ms)
        self.revocation_deadline_ms = dict(other.revocation_deadline_ms)
        self._dead = other._dead

    # -- the Group interface ------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def protocol_type(self) -> str:
        return self.KIND

    @property
    def state(self) -> str:
        if self._dead:
            return DEAD
        if not self.members:
            return EMPTY
        not_ready = self._not_ready_state()
        if not_ready is not None:
            return not_ready
        if self.group_epoch != self.assignment_epoch:
            return ASSIGNING
        if any(
            x.state != self.MEMBER_STABLE or x.member_epoch != self.assignment_epoch
            for x in self.members.values()
        ):
            return RECONCILING
        return STABLE

    def _not_ready_state(self) -> str | None:
        """A state of the kind's own between Empty and Assigning (streams: NotReady)."""
        return None

    def is_empty(self) -> bool:
        return not self.members

    def validate_offset_commit(self, committer: OffsetCommitter) -> int:
        """Kafka's ConsumerGroup.validateOffsetCommit (StreamsGroup's is the same): an epoch
        below zero commits only into an empty group (admin tools, consumers using assign); a
        member must exist, commit with OffsetCommit v9+ (any TxnOffsetCommit version), and
        name its current epoch."""
        if committer.epoch < 0 and not self.members:
            return ec.NONE
        member = self.members.get(committer.member_id)
        if member is None:
            return ec.UNKNOWN_MEMBER_ID
        if committer.api_version < 9 and not committer.transactional:
            return ec.UNSUPPORTED_VERSION
        if committer.epoch != member.member_epoch:
            return ec.STALE_MEMBER_EPOCH
        return ec.NONE

    def validate_offset_fetch(self, member_id: str | None, member_epoch: int) -> int:
        if member_id is None and member_epoch < 0:
            return ec.NONE
        member = self.members.get(member_id or "")
        if member is None:
            return ec.UNKNOWN_MEMBER_ID
        if member_epoch != member.member_epoch:
            return ec.STALE_MEMBER_EPOCH
        return ec.NONE

    def validate_delete(self) -> int:
        if self._dead:
            return ec.GROUP_ID_NOT_FOUND
        return ec.NONE if not self.members else ec.NON_EMPTY_GROUP

    def on_deleted(self) -> None:
        self._dead = True
        self.session_deadline_ms.clear()
        self.revocation_deadline_ms.clear()

    # -- heartbeats -------------------------------------------------------------------------

    def _with_client(self, member: M, hb: MemberHeartbeat, **fields: object) -> M:
        """``member`` with what this heartbeat says of its client (and the kind's ``fields``);
        a field the heartbeat leaves out (None, or -1 for the rebalance timeout) is kept."""
        return replace(
            member,
            rack_id=hb.rack_id if hb.rack_id is not None else member.rack_id,
            client_id=hb.client_id,
            client_host=hb.client_host,
            rebalance_timeout_ms=(
                hb.rebalance_timeout_ms
                if hb.rebalance_timeout_ms != -1
                else member.rebalance_timeout_ms
            ),
            **fields,
        )

    def _check_epoch(self, member: M, hb: MemberHeartbeat) -> None:
        """Kafka's throwIfMemberEpochIsInvalid: a member ahead of us, or behind us except by one
        epoch with what it still legitimately holds (a lost response), is fenced."""
        if hb.member_epoch > member.member_epoch:
            raise HeartbeatError(
                ec.FENCED_MEMBER_EPOCH,
                f"The {self.KIND} group member has a greater member epoch ({hb.member_epoch}) "
                f"than the one known by the group coordinator ({member.member_epoch}).",
            )
        if hb.member_epoch < member.member_epoch and not (
            hb.member_epoch == member.previous_member_epoch
            and self._holds_only_assigned(member, hb)
        ):
            raise HeartbeatError(
                ec.FENCED_MEMBER_EPOCH,
                f"The {self.KIND} group member has a smaller member epoch ({hb.member_epoch}) "
                f"than the one known by the group coordinator ({member.member_epoch}).",
            )

    def _holds_only_assigned(self, member: M, hb: Any) -> bool:
        """Whether what the heartbeat reports as owned is within the member's assignment."""
        raise NotImplementedError

    def _unknown(self, member_id: str) -> str:
        return f"Member {member_id} is not a member of group {self.group_id}."

    def _check_capacity(self) -> None:
        """A new member is refused once the group has ``max_size`` members."""
        if len(self.members) >= self.config.max_size:
            raise HeartbeatError(
                ec.GROUP_MAX_SIZE_REACHED,
                f"The {self.KIND} group has reached its maximum capacity of "
                f"{self.config.max_size} members.",
            )

    def restore_member(self, member_id: str, member: M | None) -> None:
        """Loading from the log: put (or with None remove) a member as its records say."""
        if member is None:
            if member_id in self.members:
                self._remove(member_id)
        else:
            self._put(member)

    def start_session(self, member_id: str, now_ms: int) -> None:
        """A member loaded from the log gets a full session to come back in."""
        self.session_deadline_ms[member_id] = now_ms + self.config.session_timeout_ms

    # -- removal and timeouts ---------------------------------------------------------------

    def fence(self, member_id: str) -> None:
        """Remove a member (left, session expired, or did not revoke in time); what it owned
        is free at once and the group epoch goes up."""
        if member_id in self.members:
            self._remove(member_id)
            self.group_epoch += 1

    def expire(self, now_ms: int) -> list[str]:
        """Fence the members whose session or revocation deadline passed; their ids."""
        expired = [
            member_id
            for deadlines in (self.session_deadline_ms, self.revocation_deadline_ms)
            for member_id, deadline in list(deadlines.items())
            if deadline <= now_ms
        ]
        for member_id in dict.fromkeys(expired):
            self.fence(member_id)
        return list(dict.fromkeys(expired))

    def next_deadline_ms(self) -> int | None:
        deadlines = [*self.session_deadline_ms.values(), *self.revocation_deadline_ms.values()]
        return min(deadlines) if deadlines else None

    # -- internals ----------------------------------------------------------------------------

    def _owned(self, member: M) -> Iterable[Hashable]:
        """What nobody else may get while ``member`` has it (assigned or pending revocation)."""
        raise NotImplementedError

    def _member_changing(self, old: M | None, new: M) -> None:
        """Hook: ``new`` is about to replace ``old`` (None: it joins)."""

    def _member_removed(self, member: M) -> None:
        """Hook: ``member`` was removed."""

    def _put(self, member: M) -> None:
        old = self.members.get(member.member_id)
        self._member_changing(old, member)
        if old is not None:
            for owned in self._owned(old):
                if self._owners.get(owned) == member.member_id:
                    del self._owners[owned]
        for owned in self._owned(member):
            self._owners[owned] = member.member_id
        self.members[member.member_id] = member
        if member.instance_id is not None:
            self.static_members[member.instance_id] = member.member_id

    def _remove(self, member_id: str) -> None:
        member = self.members.pop(member_id)
        for owned in self._owned(member):
            if self._owners.get(owned) == member_id:
                del self._owners[owned]
        if member.instance_id is not None and self.static_members.get(member.instance_id) == (
            member_id
        ):
            del self.static_members[member.instance_id]
        self.target.pop(member_id, None)
        self.session_deadline_ms.pop(member_id, None)
        self.revocation_deadline_ms.pop(member_id, None)
        self._member_removed(member)

    def _schedule(self, before: M, after: M, now_ms: int) -> None:
        """A heartbeat renews the session; a member that must revoke has its rebalance timeout
        to do it from when it was asked (again, if asked at a new epoch)."""
        self.session_deadline_ms[after.member_id] = now_ms + self.config.session_timeout_ms
        unrevoked = self.MEMBER_UNREVOKED
        if after.state != unrevoked:
            self.revocation_deadline_ms.pop(after.member_id, None)
        elif before.state != unrevoked or before.member_epoch != after.member_epoch:
            self.revocation_deadline_ms[after.member_id] = now_ms + max(
                after.rebalance_timeout_ms, 0
            )
