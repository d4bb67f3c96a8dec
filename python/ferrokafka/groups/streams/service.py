"""Streams groups (KIP-1071) inside the group coordinator: heartbeats applied to a copy of the
group and adopted once done, one timer per group at its earliest member deadline, and the
creation of the internal topics (repartition, changelog) a group's topology needs, which the
broker does itself in KIP-1071 (the members no longer create them).

Every change is written to ``__consumer_offsets`` as StreamsGroup* records (Kafka's formats,
:mod:`.records`) before the group in memory adopts it, and replayed when the coordinator loads
the partition; a loaded member gets a full session to come back in.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import trio

from ferrokafka.config.group import GROUP_RESOURCE, effective_group_value
from ferrokafka.groups.base import Group
from ferrokafka.groups.streams.group import (
    JOIN_EPOCH,
    STREAMS,
    GroupConfig,
    Heartbeat,
    HeartbeatError,
    HeartbeatResult,
    StreamsGroup,
)
from ferrokafka.groups.streams.records import Replayer, changes, snapshot
from ferrokafka.groups.streams.topology import TopicInfo, configure
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest

if TYPE_CHECKING:
    from ferrokafka.coordinator import CoordinatorHost
    from ferrokafka.groups.coordinator import GroupCoordinator

log = logging.getLogger(__name__)

# How long a heartbeat waits for the controller to create a group's internal topics; past it
# the member hears MISSING_INTERNAL_TOPICS and asks again with its next heartbeat.
CREATE_TOPICS_TIMEOUT_S = 5.0
CREATE_TOPICS_REQUEST_TIMEOUT_MS = 30_000
DEADLINES_TIMER = "streams-group-deadlines"


def new_member_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class StreamsGroups:
    """The streams groups of one coordinator."""

    def __init__(self, node: CoordinatorHost, coordinator: GroupCoordinator) -> None:
        self.node = node
        self.coordinator = coordinator
        self._locks: dict[str, trio.Lock] = {}
        replayer = Replayer(
            coordinator.get_group,
            coordinator.add_group,
            coordinator.remove_group,
            self.group_config,
            self._member_loaded,
        )
        for record_type, replay in replayer.record_types().items():
            coordinator.register_record_type(record_type, replay)

    def partition_counts(self) -> dict[str, int]:
        return {name: len(t.partitions) for name, t in self.node.image.topics_by_name.items()}

    def group_config(self, group_id: str) -> GroupConfig:
        """The broker's streams group settings, with the group's own configs over them."""
        broker = self.node.broker_config()
        overrides = self.node.image.configs.get((GROUP_RESOURCE, group_id), {})

        def value(name: str) -> int:
            return int(effective_group_value(broker, overrides, name))

        return GroupConfig(
            session_timeout_ms=value("streams.session.timeout.ms"),
            heartbeat_interval_ms=value("streams.heartbeat.interval.ms"),
            num_standby_replicas=value("streams.num.standby.replicas"),
            max_size=int(broker.value("group.streams.max.size")),
            acceptable_recovery_lag=value("streams.acceptable.recovery.lag"),
            task_offset_interval_ms=value("streams.task.offset.interval.ms"),
        )

    async def heartbeat(self, group_id: str, hb: Heartbeat) -> HeartbeatResult:
        """Apply one heartbeat; create the internal topics it found missing; raises
        :class:`HeartbeatError`."""
        if not hb.member_id:
            hb = replace(hb, member_id=new_member_id())
        async with self._locked(group_id):
            current, replaced = self._group_for(group_id, hb.member_epoch == JOIN_EPOCH)
            work = (
                current.clone()
                if current is not None
                else StreamsGroup(group_id, self.group_config(group_id))
            )
            work.config = self.group_config(group_id)
            before = snapshot(work, exists=current is not None)
            result = work.heartbeat(hb, self.partition_counts(), self.coordinator.now_ms())
            if result.to_create and await self._create_topics(result.to_create):
                # Created and in the image: the same heartbeat goes on with them.
                again = work.heartbeat(
                    replace(hb, member_id=result.member_id, member_epoch=result.member_epoch),
                    self.partition_counts(),
                    self.coordinator.now_ms(),
                )
                if again.assignment is None and result.assignment is not None:
                    again = replace(again, assignment=work.members[again.member_id].assigned)
                result = again
            records = changes(before, work)
            if replaced is not None:
                records = replaced.tombstones() + records

            def adopt() -> None:
                existing = self.coordinator.get_group(group_id)
                if replaced is not None and existing is replaced:
                    self.coordinator.remove_group(group_id)
                    replaced.on_deleted()
                if current is not None:
                    current.adopt(work)
                else:
                    self.coordinator.add_group(work)

            code = await self.coordinator.write(group_id, records, adopt)
            if code:
                raise HeartbeatError(code)
            self.schedule(current if current is not None else work)
            return result

    async def _create_topics(self, to_create: tuple[tuple[TopicInfo, int], ...]) -> bool:
        """Ask the controller for the missing internal topics; whether they all exist now."""
        default_rf = int(self.node.broker_config().value("default.replication.factor"))
        request = CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=info.name,
                    num_partitions=partitions,
                    replication_factor=(
                        info.replication_factor if info.replication_factor > 0 else default_rf
                    ),
                    configs=[
                        CreateTopicsRequest.CreatableTopicConfig(name=k, value=v)
                        for k, v in info.configs
                    ],
                )
                for info, partitions in to_create
            ],
            timeout_ms=CREATE_TOPICS_REQUEST_TIMEOUT_MS,
        )
        with trio.move_on_after(CREATE_TOPICS_TIMEOUT_S):
            response = await self.node.controller_channel.create_topics(request)
            failed = [
                (t.name, t.error_code)
                for t in response.topics
                if t.error_code not in (ec.NONE, ec.TOPIC_ALREADY_EXISTS)
            ]
            for name, code in failed:
                log.warning("creating internal topic %s failed: %s", name, ec.error_name(code))
            if failed:
                return False
            # The controller answers once the topics are committed; on a single node the
            # image has them then. Where it does not yet (a follower broker), the member hears
            # MISSING_INTERNAL_TOPICS and its next heartbeat finds them, as with Kafka's
            # asynchronous creation.
            names = {info.name for info, _n in to_create}
            return names <= set(self.node.image.topics_by_name)
        return False

    def _group_for(self, group_id: str, joining: bool) -> tuple[StreamsGroup | None, Group | None]:
        """The streams group (None: to be created) and an empty group of another kind it
        replaces (an offsets-only classic group: a Streams application moving protocols)."""
        group = self.coordinator.get_group(group_id)
        if group is None:
            if not joining:
                raise HeartbeatError(ec.GROUP_ID_NOT_FOUND, f"Streams group {group_id} not found.")
            return None, None
        if group.kind == STREAMS and isinstance(group, StreamsGroup):
            return group, None
        if joining and group.is_empty():
            return None, group
        raise HeartbeatError(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a streams group.")

    @asynccontextmanager
    async def _locked(self, group_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(group_id)
        if lock is None:
            lock = self._locks[group_id] = trio.Lock()
        try:
            async with lock:
                yield
        finally:
            if (
                not lock.locked()
                and lock.statistics().tasks_waiting == 0
                and self.coordinator.get_group(group_id) is None
            ):
                self._locks.pop(group_id, None)

    # -- timers -----------------------------------------------------------------------------

    def schedule(self, group: StreamsGroup) -> None:
        key = (group.group_id, DEADLINES_TIMER)
        deadline = group.next_deadline_ms()
        if deadline is None:
            self.coordinator.timers.cancel(key)
            return
        delay_s = max(deadline - self.coordinator.now_ms(), 0) / 1000
        fire: Callable[[], None] = lambda: self.coordinator.spawn(self.expire, group)  # noqa: E731
        self.coordinator.timers.schedule(key, delay_s, fire)

    async def expire(self, group: StreamsGroup) -> None:
        """Fence the members whose session or revocation deadline passed, and write it."""
        async with self._locked(group.group_id):
            if self.coordinator.get_group(group.group_id) is not group:
                return
            work = group.clone()
            before = snapshot(work)
            expired = work.expire(self.coordinator.now_ms())
            code = await self.coordinator.write(
                group.group_id, changes(before, work), lambda: group.adopt(work)
            )
            if code:
                # Not written: try again in a second rather than lose the expiry.
                self.coordinator.timers.schedule(
                    (group.group_id, DEADLINES_TIMER),
                    1.0,
                    lambda: self.coordinator.spawn(self.expire, group),
                )
                return
            if expired:
                log.info("streams group %s: members %s expired", group.group_id, expired)
            self.schedule(group)

    # -- load -------------------------------------------------------------------------------

    def _member_loaded(self, group: StreamsGroup, member_id: str) -> None:
        """A member read back at load gets a full session from now to come back in."""
        group.config = self.group_config(group.group_id)
        if group.topology is not None:
            group.configured = configure(group.topology, self.partition_counts())
        group.start_session(member_id, self.coordinator.now_ms())
        self.schedule(group)
