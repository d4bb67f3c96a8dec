"""A streams group of the KIP-1071 protocol (``group.protocol=streams``), sans-io:
StreamsGroupHeartbeat's rules, the group/assignment/member epochs, the topology the members
declare, task assignment and reconciliation, session and revocation timeouts as deadlines the
caller checks (:meth:`StreamsGroup.expire`), and the :class:`~ferrokafka.groups.base.Group`
interface the offset and admin handlers use.

Epochs follow the consumer protocol of KIP-848: the group epoch goes up when membership, the
topology or the task counts change; the target assignment (the sticky task assignor) is
recomputed when it is behind the group epoch; each member then moves to it. An active task
moves only once its previous owner revoked it: the owner is first asked to give it up (its
epoch stays until it reports it no longer runs it), and the new owner gets it with a later
heartbeat. A member that does not revoke within its rebalance timeout is fenced.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, replace

from ferrokafka.groups.base import Record
from ferrokafka.groups.epoch_group import (  # noqa: F401 (the group states, for importers)
    ASSIGNING,
    DEAD,
    EMPTY,
    JOIN_EPOCH,
    LEAVE_EPOCH,
    LEAVE_STATIC_EPOCH,
    RECONCILING,
    STABLE,
    EpochGroup,
    HeartbeatError,
    MemberHeartbeat,
)
from ferrokafka.groups.streams.assignor import MemberTasks, TaskId, TaskMember, assign_tasks
from ferrokafka.groups.streams.topology import (
    SHUTDOWN_APPLICATION,
    STALE_TOPOLOGY,
    ConfiguredTopology,
    Status,
    Topology,
    configure,
)
from ferrokafka.protocol import error_codes as ec

STREAMS = "streams"
NOT_READY = "NotReady"

# Member states (Kafka's MemberState names).
MEMBER_STABLE = "STABLE"
UNREVOKED_TASKS = "UNREVOKED_TASKS"
UNRELEASED_TASKS = "UNRELEASED_TASKS"

NO_TASKS = MemberTasks()


@dataclass(frozen=True)
class GroupConfig:
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 5_000
    num_standby_replicas: int = 0
    max_size: int = 2**31 - 1
    acceptable_recovery_lag: int = 10_000
    task_offset_interval_ms: int = 60_000


@dataclass(frozen=True)
class Heartbeat(MemberHeartbeat):
    """The fields of one StreamsGroupHeartbeat, after the handler checked their shape."""

    topology: Topology | None = None
    process_id: str | None = None
    user_endpoint: tuple[str, int] | None = None
    client_tags: tuple[tuple[str, str], ...] | None = None
    # None: unchanged since the last heartbeat
    active: frozenset[TaskId] | None = None
    standby: frozenset[TaskId] | None = None
    warmup: frozenset[TaskId] | None = None
    shutdown_application: bool = False


@dataclass(frozen=True)
class StreamsMember:
    member_id: str
    member_epoch: int = 0
    previous_member_epoch: int = -1
    state: str = MEMBER_STABLE
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    rebalance_timeout_ms: int = -1
    topology_epoch: int = 0
    process_id: str = ""
    user_endpoint: tuple[str, int] | None = None
    client_tags: tuple[tuple[str, str], ...] = ()
    assigned: MemberTasks = NO_TASKS
    # active tasks the member must still give up
    pending_revocation: frozenset[TaskId] = frozenset()


@dataclass(frozen=True)
class HeartbeatResult:
    member_id: str
    member_epoch: int
    heartbeat_interval_ms: int
    # None: unchanged, the response carries no tasks
    assignment: MemberTasks | None
    statuses: tuple[Status, ...] = ()
    # internal topics the broker must create (partition count each)
    to_create: tuple = ()


class StreamsGroup(EpochGroup[StreamsMember, MemberTasks, GroupConfig]):
    """One streams group; every method runs in the coordinator's task, never concurrently."""

    KIND = STREAMS
    MEMBER_STABLE = MEMBER_STABLE
    MEMBER_UNREVOKED = UNREVOKED_TASKS

    def __init__(self, group_id: str, config: GroupConfig) -> None:
        super().__init__(group_id, config)
        self.topology: Topology | None = None
        self.configured: ConfiguredTopology | None = None
        self.shutdown_requested = False
        self.endpoint_epoch = 0

    def adopt(self, other: StreamsGroup) -> None:
        super().adopt(other)
        self.topology = other.topology
        self.configured = other.configured
        self.shutdown_requested = other.shutdown_requested
        self.endpoint_epoch = other.endpoint_epoch

    # -- the Group interface ------------------------------------------------------------

    def _not_ready_state(self) -> str | None:
        if self.configured is None or self.configured.task_counts is None:
            return NOT_READY
        return None

    def subscribed_topics(self) -> frozenset[str] | None:
        if self.configured is None:
            return frozenset()
        return frozenset(t for names in self.configured.sources.values() for t in names)

    def tombstones(self) -> list[Record]:
        from ferrokafka.groups.streams.records import group_tombstones  # records imports us

        return group_tombstones(self)

    # -- StreamsGroupHeartbeat --------------------------------------------------------------

    def heartbeat(
        self, hb: Heartbeat, partition_counts: Mapping[str, int], now_ms: int
    ) -> HeartbeatResult:
        """Apply one heartbeat (join, heartbeat, leave); raises :class:`HeartbeatError`."""
        if hb.member_epoch in (LEAVE_EPOCH, LEAVE_STATIC_EPOCH):
            return self._leave(hb)
        member = self._member_for(hb)
        is_new = member.member_id not in self.members
        topology_changed = False
        if hb.topology is not None and (
            self.topology is None or (not self.members and hb.topology != self.topology)
        ):
            # The first member's topology is the group's; an empty group takes a new one.
            self.topology = hb.topology
            topology_changed = True
        updated = self._with_client(
            member,
            hb,
            topology_epoch=(
                hb.topology.epoch if hb.topology is not None else member.topology_epoch
            ),
            process_id=hb.process_id if hb.process_id is not None else member.process_id,
            user_endpoint=(
                hb.user_endpoint if hb.user_endpoint is not None else member.user_endpoint
            ),
            client_tags=hb.client_tags if hb.client_tags is not None else member.client_tags,
        )
        self._put(updated)
        if hb.shutdown_application:
            self.shutdown_requested = True
        statuses: list[Status] = []
        if self.topology is not None and updated.topology_epoch < self.topology.epoch:
            statuses.append(
                Status(
                    STALE_TOPOLOGY,
                    f"The member's topology epoch {updated.topology_epoch} is behind the "
                    f"group's {self.topology.epoch}.",
                )
            )
        configured = configure(self.topology, partition_counts) if self.topology else None
        counts_changed = (configured.task_counts if configured else None) != (
            self.configured.task_counts if self.configured else None
        )
        self.configured = configured
        if is_new or topology_changed or counts_changed:
            self.group_epoch += 1
        if configured is not None:
            statuses += configured.statuses
        if self.group_epoch > self.assignment_epoch:
            self._compute_target()
        before = self.members[updated.member_id]
        after = self._reconcile(before, hb.active)
        self._put(after)
        self._schedule(before, after, now_ms)
        if self.shutdown_requested:
            statuses.append(
                Status(
                    SHUTDOWN_APPLICATION,
                    "A KafkaStreams instance requested to shut down the application.",
                )
            )
        full = hb.member_epoch == JOIN_EPOCH
        changed = after.assigned != member.assigned
        endpoints_changed = is_new or changed or before.user_endpoint != member.user_endpoint
        if endpoints_changed and after.user_endpoint is not None:
            self.endpoint_epoch += 1
        return HeartbeatResult(
            member_id=after.member_id,
            member_epoch=after.member_epoch,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            assignment=after.assigned if (full or changed or is_new) else None,
            statuses=tuple(statuses),
            to_create=configured.to_create if configured else (),
        )

    def _member_for(self, hb: Heartbeat) -> StreamsMember:
        existing = self.members.get(hb.member_id)
        if hb.instance_id is not None:
            holder = self.static_members.get(hb.instance_id)
            if holder is not None and holder != hb.member_id:
                previous = self.members[holder]
                if hb.member_epoch == JOIN_EPOCH and previous.member_epoch == LEAVE_STATIC_EPOCH:
                    # A static member back under a new member id keeps its tasks.
                    self._remove(holder)
                    successor = replace(previous, member_id=hb.member_id)
                    self._put(successor)
                    return successor
                raise HeartbeatError(
                    ec.UNRELEASED_INSTANCE_ID
                    if hb.member_epoch == JOIN_EPOCH
                    else ec.FENCED_INSTANCE_ID,
                    f"Static member {holder} with instance id {hb.instance_id} holds it.",
                )
        if existing is None:
            if hb.member_epoch != JOIN_EPOCH:
                raise HeartbeatError(ec.UNKNOWN_MEMBER_ID, self._unknown(hb.member_id))
            self._check_capacity()
            return StreamsMember(member_id=hb.member_id, instance_id=hb.instance_id)
        if hb.member_epoch != JOIN_EPOCH:
            self._check_epoch(existing, hb)
        return existing

    def _leave(self, hb: Heartbeat) -> HeartbeatResult:
        member = self.members.get(hb.member_id)
        if member is None:
            raise HeartbeatError(ec.UNKNOWN_MEMBER_ID, self._unknown(hb.member_id))
        if hb.member_epoch == LEAVE_STATIC_EPOCH and member.instance_id is not None:
            self._put(
                replace(member, member_epoch=LEAVE_STATIC_EPOCH, pending_revocation=frozenset())
            )
            self.revocation_deadline_ms.pop(member.member_id, None)
        else:
            self.fence(member.member_id)
        return HeartbeatResult(hb.member_id, hb.member_epoch, 0, None)

    # -- reconciliation ---------------------------------------------------------------------

    def _reconcile(
        self, member: StreamsMember, reported_active: frozenset[TaskId] | None
    ) -> StreamsMember:
        """Move ``member`` toward its target: revoke first, then take what is free."""
        target = self.target.get(member.member_id, NO_TASKS)
        if member.pending_revocation:
            if reported_active is None or reported_active & member.pending_revocation:
                return member  # still running tasks it must give up
            member = replace(member, pending_revocation=frozenset())
        to_revoke = member.assigned.active - target.active
        if to_revoke:
            return replace(
                member,
                state=UNREVOKED_TASKS,
                assigned=MemberTasks(
                    member.assigned.active & target.active,
                    target.standby - target.active,
                ),
                pending_revocation=to_revoke,
            )
        free: Callable[[TaskId], bool] = lambda t: self._owners.get(t) in (None, member.member_id)  # noqa: E731
        active = frozenset(t for t in target.active if free(t))
        assigned = MemberTasks(active, target.standby)
        epoch = self.assignment_epoch
        return replace(
            member,
            state=MEMBER_STABLE if active == target.active else UNRELEASED_TASKS,
            member_epoch=epoch,
            previous_member_epoch=(
                member.member_epoch
                if epoch != member.member_epoch
                else member.previous_member_epoch
            ),
            assigned=assigned,
        )

    def _compute_target(self) -> None:
        counts = self.configured.task_counts if self.configured else None
        if not counts:
            self.target = {m: NO_TASKS for m in self.members}
        else:
            members = {
                x.member_id: TaskMember(
                    process_id=x.process_id or x.member_id,
                    active=x.assigned.active | x.pending_revocation,
                    standby=x.assigned.standby,
                )
                for x in self.members.values()
            }
            self.target = assign_tasks(members, counts, self.config.num_standby_replicas)
        self.assignment_epoch = self.group_epoch

    # -- internals ----------------------------------------------------------------------------

    def _owned(self, member: StreamsMember) -> Iterable[Hashable]:
        return member.assigned.active | member.pending_revocation

    def _holds_only_assigned(self, member: StreamsMember, hb: Heartbeat) -> bool:
        return hb.active is None or hb.active <= member.assigned.active

    def _member_removed(self, member: StreamsMember) -> None:
        self.endpoint_epoch += 1
