"""The groups of one KIP-848-style kind (consumer, streams) inside the group coordinator (trio):
a heartbeat is applied to a copy of the group, what it changed is written to
``__consumer_offsets`` as records, and the group in memory adopts the copy once they are
appended (so it is always what the log says); one timer per group at its earliest member
deadline; the replay of the kind's records at load, where a loaded member gets a full session
to come back in.

A per-group lock serializes the changes of one group (heartbeats and expiry), since each is
computed from the group's last written state and must not be overtaken while it is written.

A kind subclasses :class:`HeartbeatService` with its group type, records, config and how a
heartbeat applies (:meth:`HeartbeatService.apply`).
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import trio

from ferrokafka.groups.base import Group
from ferrokafka.groups.epoch_group import JOIN_EPOCH, EpochGroup, HeartbeatError
from ferrokafka.groups.member_records import GroupRecords, Snapshot
from ferrokafka.protocol import error_codes as ec

if TYPE_CHECKING:
    from ferrokafka.coordinator import CoordinatorHost
    from ferrokafka.groups.coordinator import GroupCoordinator

log = logging.getLogger(__name__)

G = TypeVar("G", bound=EpochGroup)
# How long a group waits before trying again to write an expiry that failed to be written.
EXPIRY_RETRY_S = 1.0


def new_member_id() -> str:
    """Kafka's ``Uuid.randomUuid().toString()``: URL-safe base64 of 16 bytes, no padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class HeartbeatService(Generic[G]):
    """The groups of one kind in one coordinator."""

    group_type: ClassVar[type]
    records: ClassVar[GroupRecords]
    DEADLINES_TIMER: ClassVar[str]  # the timer name of a group's member deadlines
    # HeartbeatError messages for a group id (the kind's own words, as Kafka's)
    NOT_FOUND: ClassVar[str]  # e.g. "Consumer group {} not found."
    OTHER_KIND: ClassVar[str]  # e.g. "Group {} is not a consumer group"

    def __init__(self, node: CoordinatorHost, coordinator: GroupCoordinator) -> None:
        self.node = node
        self.coordinator = coordinator
        self._locks: dict[str, trio.Lock] = {}
        replayer = self.records.replayer(
            coordinator.get_group,
            coordinator.add_group,
            coordinator.remove_group,
            self.group_config,
            self._member_loaded,
        )
        for record_type, replay in replayer.record_types().items():
            coordinator.register_record_type(record_type, replay)

    def group_config(self, group_id: str) -> Any:
        """The broker's group settings for this kind, with the group's own configs over
        them."""
        raise NotImplementedError

    def new_group(self, group_id: str) -> G:
        return self.group_type(group_id, self.group_config(group_id))

    async def apply(self, work: G, hb: Any) -> Any:
        """Apply one heartbeat to ``work`` (a copy of the group); its result."""
        raise NotImplementedError

    def written(self, before: Snapshot, group: G) -> None:
        """Hook: a heartbeat's change of ``group`` (``before`` it) is written and adopted."""

    async def heartbeat(self, group_id: str, hb: Any) -> Any:
        """Apply one heartbeat and write what it changed; raises :class:`HeartbeatError`."""
        if not hb.member_id:
            hb = replace(hb, member_id=new_member_id())
        async with self._locked(group_id):
            current, replaced = self._group_for(group_id, hb.member_epoch == JOIN_EPOCH)
            work = current.clone() if current is not None else self.new_group(group_id)
            work.config = self.group_config(group_id)  # the group's configs may have changed
            before = self.records.snapshot(work, exists=current is not None)
            result = await self.apply(work, hb)
            records = self.records.changes(before, work)
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
                # load would rebuild this group from them (the classic replay skips an id such
                # a group holds): a divergence this rare race can cause, which Kafka avoids by
                # running every change of one partition in one thread.

            code = await self.coordinator.write(group_id, records, adopt)
            if code:
                raise HeartbeatError(code)
            if not adopted:
                raise HeartbeatError(ec.GROUP_ID_NOT_FOUND, self.OTHER_KIND.format(group_id))
            self.written(before, work)
            self.schedule(current if current is not None else work)
            return result

    def _group_for(self, group_id: str, joining: bool) -> tuple[G | None, Group | None]:
        """The group (None: to be created) and an empty group of another kind it replaces."""
        group = self.coordinator.get_group(group_id)
        if group is None:
            if not joining:
                raise HeartbeatError(ec.GROUP_ID_NOT_FOUND, self.NOT_FOUND.format(group_id))
            return None, None
        if isinstance(group, self.group_type):
            return group, None  # type: ignore[return-value]
        # An empty group of another kind (a classic group with only offsets) becomes one of
        # this kind on the first join. A classic group with members is refused as Kafka
        # refuses it with group.consumer.migration.policy "disabled"; Kafka's default
        # ("bidirectional") would convert it and keep the classic members inside the
        # consumer group, which is not implemented here.
        if joining and group.is_empty():
            return None, group
        raise HeartbeatError(ec.GROUP_ID_NOT_FOUND, self.OTHER_KIND.format(group_id))

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

    def schedule(self, group: G) -> None:
        """One timer per group at its earliest member deadline; firing starts :meth:`expire`."""
        key = (group.group_id, self.DEADLINES_TIMER)
        deadline = group.next_deadline_ms()
        if deadline is None:
            self.coordinator.timers.cancel(key)
            return
        delay_s = max(deadline - self.coordinator.now_ms(), 0) / 1000
        fire: Callable[[], None] = lambda: self.coordinator.spawn(self.expire, group)  # noqa: E731
        self.coordinator.timers.schedule(key, delay_s, fire)

    async def expire(self, group: G) -> None:
        """Fence the members whose session or revocation deadline passed, and write it."""
        async with self._locked(group.group_id):
            if self.coordinator.get_group(group.group_id) is not group:
                return
            work = group.clone()
            before = self.records.snapshot(work)
            expired = work.expire(self.coordinator.now_ms())
            code = await self.coordinator.write(
                group.group_id, self.records.changes(before, work), lambda: group.adopt(work)
            )
            if code:
                # Not written: try again in a second rather than lose the expiry.
                self.coordinator.timers.schedule(
                    (group.group_id, self.DEADLINES_TIMER),
                    EXPIRY_RETRY_S,
                    lambda: self.coordinator.spawn(self.expire, group),
                )
                return
            if expired:
                log.info("%s group %s: members %s expired", group.KIND, group.group_id, expired)
            self.schedule(group)

    # -- load -------------------------------------------------------------------------------

    def _member_loaded(self, group: G, member_id: str) -> None:
        """A member read back at load gets a full session from now to come back in, as Kafka
        restarts the session timers of a loaded group (with the group's own configs)."""
        group.config = self.group_config(group.group_id)
        group.start_session(member_id, self.coordinator.now_ms())
        self.schedule(group)
