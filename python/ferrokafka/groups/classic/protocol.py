"""The classic group protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup and the timers that
drive rebalances (Kafka's classic GroupCoordinator; KIP-345 static members, KIP-394 member id
required, the initial rebalance delay).

A JoinGroup waits (a :class:`Waiter`) until the rebalance completes: when every known member
has rejoined, or when the rebalance timeout (the largest member's) expires and members that did
not rejoin are dropped. A new empty group first waits ``group.initial.rebalance.delay.ms``,
extended by the same step while members keep arriving, up to the rebalance timeout. After the
join, the leader's SyncGroup carries the assignment; it is persisted (GroupMetadataValue)
before any member gets its share, as in Kafka. Members whose session expires without a
heartbeat are removed, which starts a rebalance.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from ferrokafka.groups.base import CLASSIC, Group
from ferrokafka.groups.classic.group import (
    COMPLETING_REBALANCE,
    DEAD,
    EMPTY,
    PREPARING_REBALANCE,
    STABLE,
    ClassicGroup,
    Member,
    Waiter,
)
from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.groups.rebalance_log import log_classic_rebalance
from ferrokafka.groups.records import GroupMetadataKey, GroupMetadataValue
from ferrokafka.groups.serde import GROUP_METADATA
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.schema import Message

log = logging.getLogger(__name__)

# JoinGroup v4+ makes a new dynamic member rejoin with the id it is given (KIP-394).
MEMBER_ID_REQUIRED_VERSION = 4
# JoinGroup v9 tells a static leader rejoining a stable group to skip assignment (KIP-814).
SKIP_ASSIGNMENT_VERSION = 9
# A JoinGroup/SyncGroup waits at most the rebalance timeout; this slack covers the time the
# rebalance needs to finish after the deadline fired.
WAIT_SLACK_S = 5.0
# Kafka's bound on a group's members' client id + uuid member ids is the request size; a
# generous ceiling on one join's protocols list keeps one member from holding megabytes.
PROTOCOLS_MAX = 64


@dataclass
class JoinArgs:
    group_id: str
    member_id: str
    group_instance_id: str | None
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    session_timeout_ms: int
    rebalance_timeout_ms: int
    client_id: str
    client_host: str
    api_version: int


@dataclass
class JoinResult:
    error_code: int
    member_id: str = ""
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    skip_assignment: bool = False
    # (member id, group instance id, metadata), only for the leader
    members: list[tuple[str, str | None, bytes]] = field(default_factory=list)


@dataclass
class SyncResult:
    error_code: int
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""


def _join_error(code: int, member_id: str = "") -> JoinResult:
    return JoinResult(error_code=code, member_id=member_id)


class ClassicGroups:
    """The classic protocol over the coordinator's group map."""

    def __init__(self, coordinator: GroupCoordinator) -> None:
        self.c = coordinator
        coordinator.register_record_type(GROUP_METADATA, self.replay)
        coordinator.simple_group_factory = self.simple_group

    # -- replay ------------------------------------------------------------------------------

    def replay(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, GroupMetadataKey)
        existing = self.c.get_group(key.group)
        if existing is not None and existing.kind != CLASSIC:
            return
        if existing is not None:
            self._cancel_timers(existing)  # type: ignore[arg-type]
            self.c.remove_group(key.group)
        if value is None:
            return
        assert isinstance(value, GroupMetadataValue)
        group = ClassicGroup.from_record(key.group, value, self.c.now_ms())
        group.on_delete = self._cancel_timers
        self.c.add_group(group)
        for member in group.members.values():
            self._schedule_session(group, member)

    def simple_group(self, group_id: str) -> ClassicGroup:
        """An empty group without a protocol type: what offsets committed from outside any
        group belong to (Kafka's simple consumer group)."""
        group = ClassicGroup(group_id, self.c.now_ms())
        group.on_delete = self._cancel_timers
        return group

    # -- config ------------------------------------------------------------------------------

    def _group(self, group_id: str) -> ClassicGroup | None:
        group = self.c.get_group(group_id)
        return group if isinstance(group, ClassicGroup) else None

    # -- JoinGroup ---------------------------------------------------------------------------

    async def join(self, args: JoinArgs) -> JoinResult:
        if not args.group_id:
            return _join_error(ec.INVALID_GROUP_ID, args.member_id)
        code = self.c.error_code(args.group_id or None)
        if code != ec.NONE:
            return _join_error(code, args.member_id)
        low = int(self.c.config("group.min.session.timeout.ms"))
        high = int(self.c.config("group.max.session.timeout.ms"))
        if not low <= args.session_timeout_ms <= high:
            return _join_error(ec.INVALID_SESSION_TIMEOUT, args.member_id)
        if len(args.protocols) > PROTOCOLS_MAX:
            return _join_error(ec.INCONSISTENT_GROUP_PROTOCOL, args.member_id)
        existing = self.c.get_group(args.group_id)
        if existing is not None and not isinstance(existing, ClassicGroup):
            if not existing.is_empty() or not await self._remove_empty(existing):
                # A classic member joining a consumer group with members (Kafka's migration
                # of classic members into KIP-848 groups) is not implemented.
                return _join_error(ec.INCONSISTENT_GROUP_PROTOCOL, args.member_id)
            existing = self.c.get_group(args.group_id)
            if existing is not None:  # someone made another group meanwhile: try again
                return _join_error(ec.REBALANCE_IN_PROGRESS, args.member_id)
        group = existing
        created = False
        if group is None:
            if args.member_id:
                return _join_error(ec.UNKNOWN_MEMBER_ID, args.member_id)
            group = ClassicGroup(args.group_id, self.c.now_ms())
            group.on_delete = self._cancel_timers
            self.c.add_group(group)
            created = True
        outcome = self._join(group, args)
        if created and group.is_empty() and group.state == EMPTY:
            self.c.remove_group(group.group_id)  # nobody got in: leave no trace
        if isinstance(outcome, JoinResult):
            return outcome
        timeout_s = max(args.rebalance_timeout_ms, args.session_timeout_ms) / 1000
        result = await outcome.wait(timeout_s + WAIT_SLACK_S, _join_error(ec.REBALANCE_IN_PROGRESS))
        if isinstance(result, int):
            return _join_error(result, args.member_id)
        assert isinstance(result, JoinResult)
        return result

    async def _remove_empty(self, group: Group) -> bool:
        """An empty group of another kind makes way for a classic one (Kafka converts an
        empty consumer group on the first JoinGroup): its records get tombstones."""

        def apply() -> None:
            if self.c.get_group(group.group_id) is group and group.is_empty():
                self.c.remove_group(group.group_id)
                group.on_deleted()

        code = await self.c.write(group.group_id, group.tombstones(), apply)
        return code == ec.NONE and self.c.get_group(group.group_id) is not group

    def _join(self, group: ClassicGroup, args: JoinArgs) -> JoinResult | Waiter:
        if group.state == DEAD:
            return _join_error(ec.COORDINATOR_NOT_AVAILABLE, args.member_id)
        if not group.supports(args.protocol_type, args.protocols):
            return _join_error(ec.INCONSISTENT_GROUP_PROTOCOL, args.member_id)
        known = args.member_id in group.members or args.member_id in group.pending_members
        static_known = (
            args.group_instance_id is not None and args.group_instance_id in group.static_members
        )
        if not known and not static_known:
            max_size = int(self.c.config("group.max.size"))
            if len(group.members) + len(group.pending_members) >= max_size:
                return _join_error(ec.GROUP_MAX_SIZE_REACHED, args.member_id)
        if not args.member_id:
            return self._join_new(group, args)
        return self._join_existing(group, args)

    def _join_new(self, group: ClassicGroup, args: JoinArgs) -> JoinResult | Waiter:
        if args.group_instance_id is not None:
            new_id = f"{args.group_instance_id}-{uuid.uuid4()}"
            old_id = group.static_members.get(args.group_instance_id)
            if old_id is not None:
                return self._replace_static(group, old_id, new_id, args)
            return self._add_and_rebalance(group, new_id, args)
        new_id = f"{args.client_id}-{uuid.uuid4()}"
        if args.api_version >= MEMBER_ID_REQUIRED_VERSION:
            group.pending_members.add(new_id)
            self.c.timers.schedule(
                (group.group_id, "pending", new_id),
                args.session_timeout_ms / 1000,
                lambda: self._expire_pending(group, new_id),
            )
            return _join_error(ec.MEMBER_ID_REQUIRED, new_id)
        return self._add_and_rebalance(group, new_id, args)

    def _join_existing(self, group: ClassicGroup, args: JoinArgs) -> JoinResult | Waiter:
        member_id = args.member_id
        if member_id in group.pending_members:
            group.pending_members.discard(member_id)
            self.c.timers.cancel((group.group_id, "pending", member_id))
            return self._add_and_rebalance(group, member_id, args)
        if args.group_instance_id is not None:
            known = group.static_members.get(args.group_instance_id)
            if known is not None and known != member_id:
                return _join_error(ec.FENCED_INSTANCE_ID, member_id)
        member = group.members.get(member_id)
        if member is None or group.state in (EMPTY, DEAD):
            return _join_error(ec.UNKNOWN_MEMBER_ID, member_id)
        if group.state == PREPARING_REBALANCE:
            return self._update_and_rebalance(group, member, args)
        if group.state == COMPLETING_REBALANCE:
            if member.matches(args.protocols):
                return self._join_result(group, member)  # a retry of the same join
            return self._update_and_rebalance(group, member, args)
        # Stable: the leader may rejoin to force a rebalance; others only with changes.
        if member_id == group.leader_id or not member.matches(args.protocols):
            return self._update_and_rebalance(group, member, args)
        return self._join_result(group, member)

    def _new_member(self, member_id: str, args: JoinArgs) -> Member:
        return Member(
            member_id=member_id,
            group_instance_id=args.group_instance_id,
            client_id=args.client_id,
            client_host=args.client_host,
            rebalance_timeout_ms=args.rebalance_timeout_ms,
            session_timeout_ms=args.session_timeout_ms,
            protocol_type=args.protocol_type,
            protocols=list(args.protocols),
        )

    def _add_and_rebalance(self, group: ClassicGroup, member_id: str, args: JoinArgs) -> Waiter:
        member = self._new_member(member_id, args)
        waiter = member.join_waiter = Waiter()
        group.add(member)
        group.new_member_added = True
        self._schedule_session(group, member)
        self._maybe_prepare_rebalance(group)
        self._try_complete_join(group)  # may answer the waiter at once
        return waiter

    def _update_and_rebalance(self, group: ClassicGroup, member: Member, args: JoinArgs) -> Waiter:
        member.protocols = list(args.protocols)
        member.rebalance_timeout_ms = args.rebalance_timeout_ms
        member.session_timeout_ms = args.session_timeout_ms
        member.client_id = args.client_id
        member.client_host = args.client_host
        if member.join_waiter is not None:
            member.join_waiter.complete(_join_error(ec.REBALANCE_IN_PROGRESS, member.member_id))
        waiter = member.join_waiter = Waiter()
        self._maybe_prepare_rebalance(group)
        self._try_complete_join(group)  # may answer the waiter at once
        return waiter

    def _replace_static(
        self, group: ClassicGroup, old_id: str, new_id: str, args: JoinArgs
    ) -> JoinResult | Waiter:
        """KIP-345: a known group.instance.id joins with no member id: its new id replaces the
        old one (which is fenced from now on), without a rebalance when nothing changed."""
        old = group.members[old_id]
        for waiter in (old.join_waiter, old.sync_waiter):
            if waiter is not None:
                waiter.complete(_join_error(ec.FENCED_INSTANCE_ID, old_id))
        self.c.timers.cancel((group.group_id, "session", old_id))
        was_leader = group.leader_id == old_id
        unchanged = old.metadata(group.protocol_name) == dict(args.protocols).get(
            group.protocol_name or ""
        ) and old.protocol_names() == {name for name, _ in args.protocols}
        group.members.pop(old_id)
        group.pending_sync.discard(old_id)
        member = self._new_member(new_id, args)
        member.assignment = old.assignment
        if not unchanged or group.state != STABLE:
            group.members[new_id] = member
            group.static_members[args.group_instance_id or ""] = new_id
            if was_leader:
                group.leader_id = new_id
            self._schedule_session(group, member)
            return self._update_and_rebalance(group, member, args)
        # Stable with the same subscription: keep the assignment, persist the new id.
        member.protocols = [
            (name, data) if name != group.protocol_name else (name, old.metadata(name))
            for name, data in args.protocols
        ]
        group.members[new_id] = member
        group.static_members[args.group_instance_id or ""] = new_id
        if was_leader:
            group.leader_id = new_id
        self._schedule_session(group, member)
        self.c.spawn(self._store, group)
        result = self._join_result(group, member, leader_sees_members=False)
        if was_leader and args.api_version >= SKIP_ASSIGNMENT_VERSION:
            result.members = self._member_list(group)
            result.skip_assignment = True
        return result

    def _join_result(
        self, group: ClassicGroup, member: Member, *, leader_sees_members: bool = True
    ) -> JoinResult:
        is_leader = member.member_id == group.leader_id
        return JoinResult(
            error_code=ec.NONE,
            member_id=member.member_id,
            generation_id=group.generation_id,
            protocol_type=group.protocol_type,
            protocol_name=group.protocol_name,
            leader=group.leader_id or "",
            members=self._member_list(group) if is_leader and leader_sees_members else [],
        )

    @staticmethod
    def _member_list(group: ClassicGroup) -> list[tuple[str, str | None, bytes]]:
        return [
            (m.member_id, m.group_instance_id, m.metadata(group.protocol_name))
            for m in group.members.values()
        ]

    # -- rebalance ---------------------------------------------------------------------------

    def _maybe_prepare_rebalance(self, group: ClassicGroup) -> None:
        if group.state in (EMPTY, STABLE, COMPLETING_REBALANCE):
            self._prepare_rebalance(group)

    def _prepare_rebalance(self, group: ClassicGroup) -> None:
        if group.state == COMPLETING_REBALANCE:
            self.c.timers.cancel((group.group_id, "sync"))
            for member in group.members.values():
                member.assignment = b""
                if member.sync_waiter is not None:
                    member.sync_waiter.complete(SyncResult(ec.REBALANCE_IN_PROGRESS))
                    member.sync_waiter = None
        was_empty = group.state == EMPTY
        group.transition(PREPARING_REBALANCE, self.c.now_ms())
        rebalance_ms = group.max_rebalance_timeout_ms()
        if was_empty:
            delay_ms = int(self.c.config("group.initial.rebalance.delay.ms"))
            group.initial_delay_remaining_ms = max(rebalance_ms - delay_ms, 0)
            group.new_member_added = False
            self.c.timers.schedule(
                (group.group_id, "join"), delay_ms / 1000, lambda: self._initial_delay_done(group)
            )
        else:
            group.initial_delay_remaining_ms = None
            self.c.timers.schedule(
                (group.group_id, "join"), rebalance_ms / 1000, lambda: self._complete_join(group)
            )

    def _initial_delay_done(self, group: ClassicGroup) -> None:
        remaining = group.initial_delay_remaining_ms or 0
        if group.new_member_added and remaining > 0:
            group.new_member_added = False
            delay_ms = min(int(self.c.config("group.initial.rebalance.delay.ms")), remaining)
            group.initial_delay_remaining_ms = remaining - delay_ms
            self.c.timers.schedule(
                (group.group_id, "join"), delay_ms / 1000, lambda: self._initial_delay_done(group)
            )
            return
        group.initial_delay_remaining_ms = None
        self._complete_join(group)

    def _try_complete_join(self, group: ClassicGroup) -> None:
        if (
            group.state == PREPARING_REBALANCE
            and group.initial_delay_remaining_ms is None
            and group.all_joined()
        ):
            self._complete_join(group)

    def _complete_join(self, group: ClassicGroup) -> None:
        if group.state != PREPARING_REBALANCE or self.c.get_group(group.group_id) is not group:
            return
        self.c.timers.cancel((group.group_id, "join"))
        group.initial_delay_remaining_ms = None
        for member in list(group.members.values()):
            if member.join_waiter is None and member.group_instance_id is None:
                self._remove(group, member, rebalance=False)
        group.generation_id += 1
        now = self.c.now_ms()
        if not group.members:
            group.protocol_name = None
            group.leader_id = None
            group.transition(EMPTY, now)
            self.c.spawn(self._store, group)
            return
        leader = group.members.get(group.leader_id or "")
        if leader is None or leader.join_waiter is None:
            # The leader must be a member that rejoined: it computes the assignment (a static
            # member kept without rejoining would leave the generation unassigned).
            joined = [m.member_id for m in group.members.values() if m.join_waiter is not None]
            group.leader_id = joined[0] if joined else next(iter(group.members))
        group.protocol_name = group.select_protocol()
        group.transition(COMPLETING_REBALANCE, now)
        group.pending_sync = set(group.members)
        for member in group.members.values():
            waiter, member.join_waiter = member.join_waiter, None
            if waiter is not None:
                waiter.complete(self._join_result(group, member))
            self._schedule_session(group, member)
        generation = group.generation_id
        self.c.timers.schedule(
            (group.group_id, "sync"),
            group.max_rebalance_timeout_ms() / 1000,
            lambda: self._sync_expired(group, generation),
        )

    def _sync_expired(self, group: ClassicGroup, generation: int) -> None:
        """Members that did not SyncGroup within the rebalance timeout are dropped (Kafka's
        pending-sync expiry), which starts a new rebalance."""
        if group.state != COMPLETING_REBALANCE or group.generation_id != generation:
            return
        for member_id in list(group.pending_sync):
            member = group.members.get(member_id)
            if member is not None:
                self._remove(group, member, rebalance=False)
        self._prepare_rebalance(group)

    async def _store(self, group: ClassicGroup) -> None:
        """Persist the group as it is (errors are logged: the next store corrects it)."""
        if self.c.get_group(group.group_id) is not group:
            return
        code = await self.c.write(group.group_id, [group.metadata_record()])
        if code != ec.NONE:
            log.warning("storing group %s failed with error %d", group.group_id, code)

    # -- members leaving ---------------------------------------------------------------------

    def _schedule_session(self, group: ClassicGroup, member: Member) -> None:
        member_id = member.member_id
        self.c.timers.schedule(
            (group.group_id, "session", member_id),
            member.session_timeout_ms / 1000,
            lambda: self._session_expired(group, member_id),
        )

    def _session_expired(self, group: ClassicGroup, member_id: str) -> None:
        member = group.members.get(member_id)
        if member is None or group.state == DEAD:
            return
        if member.join_waiter is not None or member.sync_waiter is not None:
            # Waiting on the group, not on the client: Kafka keeps such members alive.
            self._schedule_session(group, member)
            return
        log.info("group %s: member %s session expired", group.group_id, member_id)
        self._remove(group, member, rebalance=True)

    def _expire_pending(self, group: ClassicGroup, member_id: str) -> None:
        if member_id in group.pending_members:
            group.pending_members.discard(member_id)
            self._try_complete_join(group)

    def _remove(self, group: ClassicGroup, member: Member, *, rebalance: bool) -> None:
        group.remove(member.member_id)
        self.c.timers.cancel((group.group_id, "session", member.member_id))
        if member.join_waiter is not None:
            member.join_waiter.complete(_join_error(ec.UNKNOWN_MEMBER_ID, member.member_id))
        if member.sync_waiter is not None:
            member.sync_waiter.complete(SyncResult(ec.UNKNOWN_MEMBER_ID))
        if not rebalance:
            return
        if group.state in (STABLE, COMPLETING_REBALANCE):
            self._prepare_rebalance(group)
        elif group.state == PREPARING_REBALANCE:
            self._try_complete_join(group)

    def _cancel_timers(self, group: ClassicGroup) -> None:
        self.c.timers.cancel((group.group_id, "join"))
        self.c.timers.cancel((group.group_id, "sync"))
        for member_id in list(group.members) + list(group.pending_members):
            self.c.timers.cancel((group.group_id, "session", member_id))
            self.c.timers.cancel((group.group_id, "pending", member_id))

    # -- SyncGroup ---------------------------------------------------------------------------

    async def sync(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: dict[str, bytes],
    ) -> SyncResult:
        code = self.c.error_code(group_id or None)
        if code != ec.NONE:
            return SyncResult(code)
        group = self._group(group_id)
        if group is None:
            return SyncResult(ec.UNKNOWN_MEMBER_ID)
        if group.state == DEAD:
            return SyncResult(ec.COORDINATOR_NOT_AVAILABLE)
        code = group.validate_member(member_id, group_instance_id, generation_id)
        if code != ec.NONE:
            return SyncResult(code)
        if (protocol_type is not None and protocol_type != group.protocol_type) or (
            protocol_name is not None and protocol_name != group.protocol_name
        ):
            return SyncResult(ec.INCONSISTENT_GROUP_PROTOCOL)
        member = group.members[member_id]
        if group.state == EMPTY:
            return SyncResult(ec.UNKNOWN_MEMBER_ID)
        if group.state == PREPARING_REBALANCE:
            return SyncResult(ec.REBALANCE_IN_PROGRESS)
        self._schedule_session(group, member)
        if group.state == STABLE:
            return self._sync_result(group, member.assignment)
        # CompletingRebalance: wait for the leader's assignment.
        group.pending_sync.discard(member_id)
        if member.sync_waiter is not None:
            member.sync_waiter.complete(SyncResult(ec.REBALANCE_IN_PROGRESS))
        waiter = member.sync_waiter = Waiter()
        if member_id == group.leader_id:
            await self._store_assignment(group, assignments)
        result = await waiter.wait(
            member.rebalance_timeout_ms / 1000 + WAIT_SLACK_S, SyncResult(ec.REBALANCE_IN_PROGRESS)
        )
        if isinstance(result, int):
            return SyncResult(result)
        assert isinstance(result, SyncResult)
        return result

    async def _store_assignment(self, group: ClassicGroup, assignments: dict[str, bytes]) -> None:
        generation = group.generation_id
        known = {mid: data for mid, data in assignments.items() if mid in group.members}

        def apply() -> None:
            if group.state != COMPLETING_REBALANCE or group.generation_id != generation:
                return
            self.c.timers.cancel((group.group_id, "sync"))
            for member in group.members.values():
                member.assignment = known.get(member.member_id, b"")
            group.transition(STABLE, self.c.now_ms())
            log_classic_rebalance(group)  # INFO: the rebalance completed
            for member in group.members.values():
                waiter, member.sync_waiter = member.sync_waiter, None
                if waiter is not None:
                    waiter.complete(self._sync_result(group, member.assignment))

        code = await self.c.write(group.group_id, [group.metadata_record(known)], apply)
        if code != ec.NONE and group.state == COMPLETING_REBALANCE:
            if group.generation_id == generation:
                failure = ec.COORDINATOR_NOT_AVAILABLE
                for member in group.members.values():
                    waiter, member.sync_waiter = member.sync_waiter, None
                    if waiter is not None:
                        waiter.complete(SyncResult(failure))
                self._prepare_rebalance(group)

    @staticmethod
    def _sync_result(group: ClassicGroup, assignment: bytes) -> SyncResult:
        return SyncResult(ec.NONE, group.protocol_type, group.protocol_name, assignment)

    # -- Heartbeat ---------------------------------------------------------------------------

    def heartbeat(
        self, group_id: str, generation_id: int, member_id: str, group_instance_id: str | None
    ) -> int:
        code = self.c.error_code(group_id or None)
        if code != ec.NONE:
            return code
        group = self._group(group_id)
        if group is None:
            return ec.UNKNOWN_MEMBER_ID
        if group.state == DEAD:
            return ec.COORDINATOR_NOT_AVAILABLE
        if group.state == EMPTY:
            return ec.UNKNOWN_MEMBER_ID
        code = group.validate_member(member_id, group_instance_id, generation_id)
        if code != ec.NONE:
            return code
        self._schedule_session(group, group.members[member_id])
        if group.state == PREPARING_REBALANCE:
            return ec.REBALANCE_IN_PROGRESS
        return ec.NONE

    def touch(self, group_id: str, member_id: str) -> None:
        """An accepted offset commit of a member counts as a heartbeat (Kafka does the same)."""
        group = self._group(group_id)
        member = group.members.get(member_id) if group is not None else None
        if group is not None and member is not None:
            self._schedule_session(group, member)

    # -- LeaveGroup --------------------------------------------------------------------------

    def leave(self, group_id: str, leaving: list[tuple[str, str | None]]) -> tuple[int, list[int]]:
        """Remove members (member id, group instance id); the top-level error and one per
        member."""
        code = self.c.error_code(group_id or None)
        if code != ec.NONE:
            return code, [code] * len(leaving)
        group = self._group(group_id)
        if group is None or group.state == DEAD:
            return ec.UNKNOWN_MEMBER_ID, [ec.UNKNOWN_MEMBER_ID] * len(leaving)
        codes = [self._leave_one(group, member_id, instance) for member_id, instance in leaving]
        return ec.NONE, codes

    def _leave_one(self, group: ClassicGroup, member_id: str, instance: str | None) -> int:
        if instance is not None:
            known = group.static_members.get(instance)
            if known is None:
                return ec.UNKNOWN_MEMBER_ID
            if member_id and member_id != known:
                return ec.FENCED_INSTANCE_ID
            member_id = known
        elif member_id in group.pending_members:
            group.pending_members.discard(member_id)
            self.c.timers.cancel((group.group_id, "pending", member_id))
            self._try_complete_join(group)
            return ec.NONE
        member = group.members.get(member_id)
        if member is None:
            return ec.UNKNOWN_MEMBER_ID
        self._remove(group, member, rebalance=True)
        return ec.NONE
