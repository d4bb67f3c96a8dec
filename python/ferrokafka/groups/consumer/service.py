"""Consumer groups (KIP-848) inside the group coordinator: heartbeats applied to a copy of the
group, written to ``__consumer_offsets`` as records, then adopted once appended (so the group
in memory is always what the log says); one timer per group at its earliest member deadline;
the replay of the group records at load.

A per-group lock serializes the changes of one group (heartbeats and expiry), since each is
computed from the group's last written state and must not be overtaken while it is written.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import trio

from ferrokafka.config.group import GROUP_RESOURCE, effective_group_value
from ferrokafka.groups.base import CONSUMER, Group
from ferrokafka.groups.consumer import member as m
from ferrokafka.groups.consumer.group import (
    ConsumerGroup,
    GroupConfig,
    Heartbeat,
    HeartbeatError,
    HeartbeatResult,
    Topics,
)
from ferrokafka.groups.consumer.records import Replayer, changes, snapshot
from ferrokafka.groups.rebalance_log import log_consumer_rebalance
from ferrokafka.protocol import error_codes as ec

if TYPE_CHECKING:
    from ferrokafka.coordinator import CoordinatorHost
    from ferrokafka.groups.coordinator import GroupCoordinator


def new_member_id() -> str:
    """Kafka's ``Uuid.randomUuid().toString()``: URL-safe base64 of 16 bytes, no padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def topics_of(node: CoordinatorHost) -> Topics:
    return {
        name: (topic.topic_id, len(topic.partitions))
        for name, topic in node.image.topics_by_name.items()
    }


class ConsumerGroups:
    """The consumer groups of one coordinator."""

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

    def group_config(self, group_id: str | None = None) -> GroupConfig:
        """The broker's consumer group settings, with the group's own configs (resource type
        GROUP: ``consumer.session.timeout.ms``, ``consumer.heartbeat.interval.ms``) over them."""
        broker = self.node.broker_config()
        overrides = self.node.image.configs.get((GROUP_RESOURCE, group_id or ""), {})
        return GroupConfig(
            session_timeout_ms=int(
                effective_group_value(broker, overrides, "consumer.session.timeout.ms")
            ),
            heartbeat_interval_ms=int(
                effective_group_value(broker, overrides, "consumer.heartbeat.interval.ms")
            ),
            max_size=int(broker["group.consumer.max.size"]),
        )

    async def heartbeat(self, group_id: str, hb: Heartbeat) -> HeartbeatResult:
        """Apply one heartbeat and write what it changed; raises :class:`HeartbeatError`."""
        if not hb.member_id:
            hb = replace(hb, member_id=new_member_id())
        async with self._locked(group_id):
            current, replaced = self._group_for(group_id, hb.member_epoch == m.JOIN_EPOCH)
            work = (
                current.clone()
                if current is not None
                else ConsumerGroup(group_id, self.group_config(group_id))
            )
            work.config = self.group_config(group_id)  # the group's configs may have changed
            before = snapshot(work, exists=current is not None)
            result = work.heartbeat(hb, topics_of(self.node), self.coordinator.now_ms())
            records = changes(before, work)
            if replaced is not None:
                records = replaced.tombstones() + records

            adopted = False

            def adopt() -> None:
                nonlocal adopted
                existing = self.coordinator.get_group(group_id)
                if replaced is not None and existing is replaced:
                    self.coordinator.remove_group(group_id)
                    replaced.on_deleted()
                    existing = None
                if current is not None:
                    current.adopt(work)
                    adopted = True
                elif existing is None:
                    self.coordinator.add_group(work)
                    adopted = True
                # else: a classic JoinGroup created the group while this write waited for the
                # partition, and keeps the id. Our records are in the log already, and a later
                # load would rebuild the consumer group from them (the classic replay skips an
                # id a consumer group holds): a divergence this rare race can cause, which
                # Kafka avoids by running every change of one partition in one thread.

            code = await self.coordinator.write(group_id, records, adopt)
            if code:
                raise HeartbeatError(code)
            if not adopted:
                raise HeartbeatError(
                    ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a consumer group"
                )
            log_consumer_rebalance(before.assignment_epoch, work)  # INFO, on a new target
            self.schedule(current if current is not None else work)
            return result

    def _group_for(self, group_id: str, joining: bool) -> tuple[ConsumerGroup | None, Group | None]:
        """The consumer group (None: to be created) and a classic group it replaces."""
        group = self.coordinator.get_group(group_id)
        if group is None:
            if not joining:
                raise HeartbeatError(ec.GROUP_ID_NOT_FOUND, f"Consumer group {group_id} not found.")
            return None, None
        if group.kind == CONSUMER and isinstance(group, ConsumerGroup):
            return group, None
        # An empty classic group becomes a consumer group on the first join. A classic group
        # with members is refused as Kafka refuses it with group.consumer.migration.policy
        # "disabled"; Kafka's default ("bidirectional") would convert it and keep the classic
        # members inside the consumer group, which is not implemented here.
        if joining and group.is_empty():
            return None, group
        raise HeartbeatError(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a consumer group")

    @asynccontextmanager
    async def _locked(self, group_id: str) -> AsyncIterator[None]:
        """Hold the group's lock; the lock is dropped once nobody holds or waits for it and the
        group is gone, so groups that failed to be created or were deleted leave nothing."""
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

    def schedule(self, group: ConsumerGroup) -> None:
        """One timer per group at its earliest member deadline; firing starts :meth:`expire`."""
        key = (group.group_id, "consumer-group-deadlines")
        deadline = group.next_deadline_ms()
        if deadline is None:
            self.coordinator.timers.cancel(key)
            return
        delay_s = max(deadline - self.coordinator.now_ms(), 0) / 1000
        fire: Callable[[], None] = lambda: self.coordinator.spawn(self.expire, group)  # noqa: E731
        self.coordinator.timers.schedule(key, delay_s, fire)

    async def expire(self, group: ConsumerGroup) -> None:
        """Fence the members whose session or revocation deadline passed, and write it."""
        async with self._locked(group.group_id):
            if self.coordinator.get_group(group.group_id) is not group:
                return
            work = group.clone()
            before = snapshot(work)
            work.expire(self.coordinator.now_ms())
            code = await self.coordinator.write(
                group.group_id, changes(before, work), lambda: group.adopt(work)
            )
            if code:
                # Not written: try again in a second rather than lose the expiry.
                self.coordinator.timers.schedule(
                    (group.group_id, "consumer-group-deadlines"),
                    1.0,
                    lambda: self.coordinator.spawn(self.expire, group),
                )
                return
            self.schedule(group)

    # -- load -------------------------------------------------------------------------------

    def _member_loaded(self, group: ConsumerGroup, member_id: str) -> None:
        """A member read back at load gets a full session from now to come back in, as Kafka
        restarts the session timers of a loaded group (with the group's own configs)."""
        group.config = self.group_config(group.group_id)
        group.start_session(member_id, self.coordinator.now_ms())
        self.schedule(group)
