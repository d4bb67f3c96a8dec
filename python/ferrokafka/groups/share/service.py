"""Share groups inside the group coordinator: heartbeats applied to a copy of the group,
written to ``__consumer_offsets`` as ShareGroup* records, then adopted; one session timer per
group; the replay at load; and the initialization of each share-partition's state through the
persister when the group is first assigned it (Kafka's InitializeShareGroupState), recorded
in ShareGroupStatePartitionMetadata before the member hears of the assignment.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

import trio

from ferrokafka.config.group import GROUP_RESOURCE, effective_group_value
from ferrokafka.groups.share.group import (
    SHARE,
    Heartbeat,
    HeartbeatError,
    HeartbeatResult,
    ShareGroup,
    ShareGroupConfig,
    Topics,
)
from ferrokafka.groups.share.records import Replayer, changes, snapshot, state_metadata
from ferrokafka.protocol import error_codes as ec

if TYPE_CHECKING:
    from ferrokafka.coordinator import CoordinatorHost
    from ferrokafka.groups.coordinator import GroupCoordinator

# Initializes one share-partition's state (group id, topic id, partition) through the
# persister (InitializeShareGroupState: state epoch 0, start offset not set); its error code.
InitializeState = Callable[[str, uuid.UUID, int], Awaitable[int]]
# Deletes one share-partition's state (group id, topic id, partition); its error code.
DeleteState = Callable[[str, uuid.UUID, int], Awaitable[int]]


def topics_of(node: CoordinatorHost) -> Topics:
    return {
        name: (topic.topic_id, len(topic.partitions))
        for name, topic in node.image.topics_by_name.items()
    }


class ShareGroups:
    """The share groups of one coordinator."""

    def __init__(
        self,
        node: CoordinatorHost,
        coordinator: GroupCoordinator,
        initialize_state: InitializeState,
        delete_state: DeleteState,
    ) -> None:
        self.node = node
        self.coordinator = coordinator
        self.initialize_state = initialize_state
        self.delete_state = delete_state
        coordinator.delete_hooks[SHARE] = self._before_delete
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

    def _value(self, group_id: str, name: str) -> int:
        broker = self.node.broker_config()
        overrides = self.node.image.configs.get((GROUP_RESOURCE, group_id), {})
        return int(effective_group_value(broker, overrides, name))

    def group_config(self, group_id: str) -> ShareGroupConfig:
        return ShareGroupConfig(
            session_timeout_ms=self._value(group_id, "share.session.timeout.ms"),
            heartbeat_interval_ms=self._value(group_id, "share.heartbeat.interval.ms"),
            max_size=int(self.node.broker_config()["group.share.max.size"]),
        )

    def share_group(self, group_id: str) -> ShareGroup | None:
        group = self.coordinator.get_group(group_id)
        return group if isinstance(group, ShareGroup) else None

    async def heartbeat(self, group_id: str, hb: Heartbeat) -> HeartbeatResult:
        async with self._locked(group_id):
            current = self.coordinator.get_group(group_id)
            if current is not None and not isinstance(current, ShareGroup):
                raise HeartbeatError(
                    ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a share group."
                )
            if current is None and hb.member_epoch != 0:
                raise HeartbeatError(ec.GROUP_ID_NOT_FOUND, f"Share group {group_id} not found.")
            work = (
                current.clone()
                if current is not None
                else ShareGroup(group_id, self.group_config(group_id))
            )
            work.config = self.group_config(group_id)
            before = snapshot(work, exists=current is not None)
            topics = topics_of(self.node)
            result = work.heartbeat(hb, topics, self.coordinator.now_ms())
            await self._write(group_id, current, work, before)
            group = current if current is not None else work
            await self._initialize(group)
            self.schedule(group)
            return result

    async def _write(
        self, group_id: str, current: ShareGroup | None, work: ShareGroup, before: object
    ) -> None:
        adopted = False

        def adopt() -> None:
            nonlocal adopted
            existing = self.coordinator.get_group(group_id)
            if current is not None:
                current.adopt(work)
                adopted = True
            elif existing is None:
                self.coordinator.add_group(work)
                adopted = True

        records = changes(before, work)  # type: ignore[arg-type]
        code = await self.coordinator.write(group_id, records, adopt)
        if code:
            raise HeartbeatError(code)
        if not adopted:
            raise HeartbeatError(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a share group.")

    async def _initialize(self, group: ShareGroup) -> None:
        """Initialize the state of the assigned share-partitions not initialized yet."""
        wanted: dict = {}
        for parts in group.target.values():
            for topic_id, ps in parts.items():
                new = ps - group.initialized.get(topic_id, frozenset())
                if new:
                    wanted[topic_id] = wanted.get(topic_id, frozenset()) | new
        if not wanted:
            return
        done: dict = {}
        for topic_id, ps in wanted.items():
            for p in sorted(ps):
                if await self.initialize_state(group.group_id, topic_id, p) == ec.NONE:
                    done.setdefault(topic_id, set()).add(p)
        if not done:
            raise HeartbeatError(ec.COORDINATOR_NOT_AVAILABLE)
        initialized = dict(group.initialized)
        for topic_id, ps in done.items():
            initialized[topic_id] = initialized.get(topic_id, frozenset()) | frozenset(ps)
        work = group.clone()
        work.initialized = initialized
        code = await self.coordinator.write(
            group.group_id, [state_metadata(work)], lambda: group.adopt(work)
        )
        if code:
            raise HeartbeatError(code)

    async def _before_delete(self, group: object) -> int:
        """DeleteGroups of a share group: its share-partitions' state goes first (Kafka's
        DeleteShareGroupState through the persister); GROUP_DELETION_FAILED if it cannot."""
        assert isinstance(group, ShareGroup)
        for topic_id, partitions in sorted(group.initialized.items(), key=str):
            for partition in sorted(partitions):
                if await self.delete_state(group.group_id, topic_id, partition) != ec.NONE:
                    return ec.GROUP_DELETION_FAILED
        return ec.NONE

    def error_code(self, group_id: str) -> int:
        """0 when this coordinator serves ``group_id`` now, else the coordinator error."""
        return self.coordinator.error_code(group_id)

    def locked(self, group_id: str) -> AbstractAsyncContextManager[None]:
        """The group's lock: heartbeats, expiry and the offset admin operations in turn."""
        return self._locked(group_id)

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

    # -- session timers -----------------------------------------------------------------------

    def schedule(self, group: ShareGroup) -> None:
        key = (group.group_id, "share-group-sessions")
        deadline = group.next_deadline_ms()
        if deadline is None:
            self.coordinator.timers.cancel(key)
            return
        delay_s = max(deadline - self.coordinator.now_ms(), 0) / 1000
        self.coordinator.timers.schedule(
            key, delay_s, lambda: self.coordinator.spawn(self.expire, group)
        )

    async def expire(self, group: ShareGroup) -> None:
        async with self._locked(group.group_id):
            if self.coordinator.get_group(group.group_id) is not group:
                return
            work = group.clone()
            before = snapshot(work)
            gone = work.expire(self.coordinator.now_ms(), topics_of(self.node))
            if gone:
                code = await self.coordinator.write(
                    group.group_id, changes(before, work), lambda: group.adopt(work)
                )
                if code:
                    self.coordinator.timers.schedule(
                        (group.group_id, "share-group-sessions"),
                        1.0,
                        lambda: self.coordinator.spawn(self.expire, group),
                    )
                    return
            self.schedule(group)

    def _member_loaded(self, group: ShareGroup, member_id: str) -> None:
        group.config = self.group_config(group.group_id)
        group.start_session(member_id, self.coordinator.now_ms())
        self.schedule(group)
