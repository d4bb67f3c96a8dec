"""The share coordinator: the durable state of every share-partition whose
``__share_group_state`` partition this broker leads (Kafka 4.4's ``ShareCoordinatorShard`` and
``ShareCoordinatorService``), on the :class:`~ferrokafka.coordinator.CoordinatorRuntime`.

- **Where.** A share-partition (group, topic id, partition) lives on partition
  ``abs(hash("group:topicId:partition")) % partitions`` of ``__share_group_state`` (created
  through the controller on first use, as Kafka does: cleanup.policy delete, retention -1, the
  ``share.coordinator.state.topic.*`` keys); the partition's leader coordinates it.
- **Records.** ShareSnapshot (the whole state) and ShareUpdate (the batches one write changed,
  merged into the state on replay); a ShareSnapshot tombstone deletes. A write is an update
  unless ``share.coordinator.snapshot.update.records.per.snapshot`` updates followed the last
  snapshot, then a snapshot (snapshot epoch + 1). Initialize always writes a snapshot.
- **Epochs.** The state epoch (set by Initialize) fences older writes and initializes
  (FENCED_STATE_EPOCH); the leader epoch, recorded by a read (a share-partition leader loading
  the state: an update record when it changes) fences older reads and writes
  (FENCED_LEADER_EPOCH). A write keeps the recorded leader epoch; its start offset never moves
  back. Batches combine as :mod:`ferrokafka.share.combiner` says.
- **Errors** as Kafka's shard answers them: INVALID_REQUEST for a negative partition or epoch
  and for a read or write of a share-partition never initialized; UNKNOWN_TOPIC_OR_PARTITION
  when the topic or partition is not in the metadata; NOT_COORDINATOR /
  COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE from the runtime.

Each operation covers one share-partition; the state RPC handlers and the persister loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import trio

from ferrokafka.coordinator.partitioning import partition_for
from ferrokafka.coordinator.runtime import CoordinatorRuntime
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.share import serde
from ferrokafka.share.combiner import combine_state_batches
from ferrokafka.share.persister import (
    NOT_INITIALIZED,
    SharePartitionKey,
    ShareState,
    ShareStateSummary,
    StateBatch,
)
from ferrokafka.storage import BatchBuilder

if TYPE_CHECKING:
    from ferrokafka.coordinator import CoordinatorHost

log = logging.getLogger(__name__)

SHARE_STATE_TOPIC = "__share_group_state"
# How long the call that created __share_group_state waits for its (empty) partitions to load.
CREATE_LOAD_WAIT_S = 5.0
# Kafka's ShareGroupOffset constants.
UNINITIALIZED_EPOCH = 0
NO_DELIVERY_COMPLETE_COUNT = -1

# Kafka's messages for the shard's INVALID_REQUEST answers.
NEGATIVE_PARTITION_ID = "The partition id cannot be a negative number."
NEGATIVE_LEADER_EPOCH = "The leader epoch cannot be a negative number."
NEGATIVE_STATE_EPOCH = "The state epoch cannot be a negative number."
WRITE_UNINITIALIZED = "Write operation on uninitialized share partition not allowed."
READ_UNINITIALIZED = "Read operation on uninitialized share partition not allowed."
# Append errors a state RPC's caller should treat as "try the coordinator again".
_RETRY_AS_NOT_AVAILABLE = (
    ec.UNKNOWN_TOPIC_OR_PARTITION,
    ec.NOT_ENOUGH_REPLICAS,
    ec.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    ec.REQUEST_TIMED_OUT,
)


@dataclass(frozen=True, slots=True)
class ShareGroupOffset:
    """One share-partition's state as the shard holds it (Kafka's ShareGroupOffset)."""

    snapshot_epoch: int
    state_epoch: int
    leader_epoch: int
    start_offset: int
    delivery_complete_count: int
    batches: tuple[StateBatch, ...]
    create_timestamp: int = 0
    write_timestamp: int = 0


@dataclass(slots=True)
class _Shard:
    """The share-partitions of one loaded ``__share_group_state`` partition."""

    states: dict[SharePartitionKey, ShareGroupOffset] = field(default_factory=dict)
    leader_epochs: dict[SharePartitionKey, int] = field(default_factory=dict)
    state_epochs: dict[SharePartitionKey, int] = field(default_factory=dict)
    updates_since_snapshot: dict[SharePartitionKey, int] = field(default_factory=dict)
    # Kafka's ShareCoordinatorOffsetsManager: the log offset of each key's latest snapshot,
    # and the offset below which no record is needed any more (-1: none known).
    snapshot_offsets: dict[SharePartitionKey, int] = field(default_factory=dict)
    redundant_offset: int = -1


@dataclass(frozen=True, slots=True)
class Outcome:
    """An operation's answer for one share-partition."""

    error_code: int = ec.NONE
    error_message: str | None = None


def _batches(batches: Iterable[Any]) -> tuple[StateBatch, ...]:
    return tuple(
        StateBatch(b.first_offset, b.last_offset, b.delivery_state, b.delivery_count)
        for b in batches
    )


class ShareCoordinator:
    """Share-partition state of every ``__share_group_state`` partition this node leads."""

    def __init__(self, node: CoordinatorHost) -> None:
        self.node = node
        self._shards: dict[int, _Shard] = {}
        self._locks: dict[int, trio.Lock] = {}
        self._create_lock = trio.Lock()
        self.on_stop: list[Callable[[], Awaitable[None]]] = []
        self.runtime = CoordinatorRuntime(
            node,
            SHARE_STATE_TOPIC,
            self,
            load_buffer_bytes=lambda: int(self.config("share.coordinator.load.buffer.size")),
        )

    # -- config, placement, readiness --------------------------------------------------------

    def config(self, key: str) -> Any:
        return self.node.broker_config()[key]

    @property
    def num_partitions(self) -> int:
        topic = self.node.image.topics_by_name.get(SHARE_STATE_TOPIC)
        if topic is not None:
            return len(topic.partitions)
        return int(self.config("share.coordinator.state.topic.num.partitions"))

    def partition_for(self, key: SharePartitionKey) -> int:
        """Kafka's ShareCoordinatorService.partitionFor: the coordinator key's Java hash."""
        return partition_for(key.coordinator_key(), self.num_partitions)

    def error_code(self, key: SharePartitionKey) -> int:
        """0 when ``key`` is served here, else the coordinator error its caller retries on."""
        if SHARE_STATE_TOPIC not in self.node.image.topics_by_name:
            return ec.COORDINATOR_NOT_AVAILABLE
        return self.runtime.error_code(self.partition_for(key))

    def _serving(self, key: SharePartitionKey) -> tuple[int, _Shard | None]:
        if SHARE_STATE_TOPIC not in self.node.image.topics_by_name:
            return ec.NOT_COORDINATOR, None
        index = self.partition_for(key)
        code = self.runtime.error_code(index)
        shard = self._shards.get(index)
        if code == ec.NONE and shard is None:
            code = ec.COORDINATOR_LOAD_IN_PROGRESS
        return code, shard if code == ec.NONE else None

    async def ensure_topic(self) -> int:
        """Create ``__share_group_state`` when missing and wait for the partitions this broker
        now leads to load."""
        if SHARE_STATE_TOPIC in self.node.image.topics_by_name:
            return ec.NONE
        async with self._create_lock:
            if SHARE_STATE_TOPIC not in self.node.image.topics_by_name:
                response = await self.node.controller_channel.create_topics(self._create_request())
                code = response.topics[0].error_code if response.topics else ec.NONE
                if code not in (ec.NONE, ec.TOPIC_ALREADY_EXISTS):
                    log.warning("creating %s failed with error %d", SHARE_STATE_TOPIC, code)
                    return ec.COORDINATOR_NOT_AVAILABLE
                await self.runtime.wait_loaded(trio.current_time() + CREATE_LOAD_WAIT_S)
        return ec.NONE

    def _create_request(self) -> CreateTopicsRequest:
        config = self.node.broker_config()
        # Kafka 4.4's ShareCoordinatorService.shareGroupStateTopicConfigs: not compacted
        # (old records go by pruning, DeleteRecords below the oldest snapshot still needed).
        topic_configs = {
            "cleanup.policy": "delete",
            "compression.type": "producer",
            "segment.bytes": str(config["share.coordinator.state.topic.segment.bytes"]),
            "min.insync.replicas": str(config["share.coordinator.state.topic.min.isr"]),
            "retention.ms": "-1",
        }
        return CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=SHARE_STATE_TOPIC,
                    num_partitions=int(config["share.coordinator.state.topic.num.partitions"]),
                    replication_factor=int(
                        config["share.coordinator.state.topic.replication.factor"]
                    ),
                    configs=[
                        CreateTopicsRequest.CreatableTopicConfig(name=k, value=v)
                        for k, v in topic_configs.items()
                    ],
                )
            ],
            timeout_ms=30_000,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The runtime (loads on leadership) and the pruning job, until cancelled; then the
        ``on_stop`` callbacks (the persister's connections close there)."""
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.runtime.run)
                nursery.start_soon(self._prune_every_interval)
                task_status.started()
        finally:
            with trio.CancelScope(shield=True):
                for close in self.on_stop:
                    await close()

    # -- the runtime's shard -----------------------------------------------------------------

    def replay(self, partition: int, key: bytes, value: bytes | None) -> None:
        shard = self._shards.setdefault(partition, _Shard())
        try:
            record = serde.decode_record(key, value)
        except serde.ShareRecordError as exc:
            log.warning("%s-%d: skipping a record: %s", SHARE_STATE_TOPIC, partition, exc)
            return
        self._apply(shard, record)

    def replay_transactional(
        self, partition: int, producer_id: int, producer_epoch: int, key: bytes, value: bytes | None
    ) -> None:
        # The share coordinator never writes transactionally; Kafka's shard treats such
        # records like any other.
        self.replay(partition, key, value)

    def replay_end_transaction(self, partition: int, producer_id: int, commit: bool) -> None:
        return None

    def loaded(self, partition: int) -> None:
        self._shards.setdefault(partition, _Shard())

    def unload(self, partition: int) -> None:
        self._shards.pop(partition, None)

    def _apply(self, shard: _Shard, record: serde.ShareRecord) -> None:
        """Kafka's ShareCoordinatorShard.replay of one record."""
        key = SharePartitionKey(record.group_id, record.topic_id, record.partition)
        value = record.value
        if record.record_type == serde.SHARE_SNAPSHOT:
            self._track_snapshot(shard, key, value is None)
            if value is None:  # tombstone
                for table in (
                    shard.states,
                    shard.leader_epochs,
                    shard.state_epochs,
                    shard.updates_since_snapshot,
                ):
                    table.pop(key, None)  # type: ignore[attr-defined]
                return
            assert isinstance(value, serde.ShareSnapshotValue)
            _raise(shard.leader_epochs, key, value.leader_epoch)
            _raise(shard.state_epochs, key, value.state_epoch)
            shard.states[key] = ShareGroupOffset(
                value.snapshot_epoch,
                value.state_epoch,
                value.leader_epoch,
                value.start_offset,
                value.delivery_complete_count,
                _batches(value.state_batches),
                value.create_timestamp,
                value.write_timestamp,
            )
            per_snapshot = int(
                self.config("share.coordinator.snapshot.update.records.per.snapshot")
            )
            if shard.updates_since_snapshot.get(key, -1) >= per_snapshot:
                shard.updates_since_snapshot[key] = 0
            return
        assert isinstance(value, serde.ShareUpdateValue)
        _raise(shard.leader_epochs, key, value.leader_epoch)
        current = shard.states.get(key)
        if current is None:
            shard.states[key] = ShareGroupOffset(
                value.snapshot_epoch,
                UNINITIALIZED_EPOCH,
                value.leader_epoch,
                value.start_offset,
                value.delivery_complete_count,
                _batches(value.state_batches),
            )
        else:
            start = current.start_offset if value.start_offset == -1 else value.start_offset
            leader = current.leader_epoch if value.leader_epoch == -1 else value.leader_epoch
            shard.states[key] = replace(
                current,
                start_offset=start,
                leader_epoch=leader,
                delivery_complete_count=value.delivery_complete_count,
                batches=tuple(
                    combine_state_batches(current.batches, _batches(value.state_batches), start)
                ),
            )
        count = shard.updates_since_snapshot.get(key)
        shard.updates_since_snapshot[key] = 0 if count is None else count + 1

    def _track_snapshot(self, shard: _Shard, key: SharePartitionKey, tombstone: bool) -> None:
        """Kafka's ShareCoordinatorOffsetsManager.updateState: every record below the oldest
        latest-snapshot of the live keys is redundant (a tombstoned key counts once, then
        goes)."""
        offset = self.runtime.record_offset
        if offset < 0:
            return
        shard.snapshot_offsets[key] = offset
        shard.redundant_offset = min(shard.snapshot_offsets.values())
        if tombstone:
            del shard.snapshot_offsets[key]

    async def prune(self) -> int:
        """Delete the records of every loaded partition below its redundant offset (Kafka's
        share.coordinator.state.topic.prune.interval.ms job); how many partitions moved."""
        moved = 0
        for index in self.runtime.active_partitions():
            shard = self._shards.get(index)
            found = self.node.replicas.leader_partition_or_error(SHARE_STATE_TOPIC, index)
            if shard is None or isinstance(found, int):
                continue
            offset = min(shard.redundant_offset, found.high_watermark)
            if offset <= found.log.log_start_offset:
                continue
            # As DeleteRecords: whole segments below go (file I/O), the epoch cache is trimmed.
            await trio.to_thread.run_sync(found.log.advance_log_start_offset, offset)
            await trio.to_thread.run_sync(found.epochs.truncate_from_start, offset)
            found.wake_waiters()
            log.debug("%s-%d: pruned below %d", SHARE_STATE_TOPIC, index, offset)
            moved += 1
        return moved

    async def _prune_every_interval(self) -> None:
        while True:
            await trio.sleep(
                int(self.config("share.coordinator.state.topic.prune.interval.ms")) / 1000
            )
            try:
                await self.prune()
            except Exception:  # a storage error: logged, tried again next interval
                log.exception("pruning %s failed", SHARE_STATE_TOPIC)

    # -- writes ------------------------------------------------------------------------------

    async def _write(self, key: SharePartitionKey, record: tuple[bytes, bytes | None]) -> int:
        """Append one record to ``key``'s partition and apply it there once appended; 0 once
        committed, else the error the caller retries on."""
        index = self.partition_for(key)
        builder = BatchBuilder()
        builder.append(record[1], key=record[0], timestamp=self.node.wall_clock.now_ms())

        def on_appended() -> None:
            shard = self._shards.get(index)
            if shard is not None:
                self._apply(shard, serde.decode_record(record[0], record[1]))

        code = await self.runtime.write(index, builder.build(), on_appended)
        return ec.COORDINATOR_NOT_AVAILABLE if code in _RETRY_AS_NOT_AVAILABLE else code

    def _lock(self, key: SharePartitionKey) -> trio.Lock:
        # Records are computed from the state, so writes to one partition go one at a time.
        return self._locks.setdefault(self.partition_for(key), trio.Lock())

    def _topic_error(self, key: SharePartitionKey) -> int:
        topic = self.node.image.topic_by_id(key.topic_id)
        if topic is None or not 0 <= key.partition < len(topic.partitions):
            return ec.UNKNOWN_TOPIC_OR_PARTITION
        return ec.NONE

    # -- operations --------------------------------------------------------------------------

    async def initialize(
        self, key: SharePartitionKey, state_epoch: int, start_offset: int
    ) -> Outcome:
        if key.partition < 0:
            return Outcome(ec.INVALID_REQUEST, NEGATIVE_PARTITION_ID)
        if state_epoch < 0:
            return Outcome(ec.INVALID_REQUEST, NEGATIVE_STATE_EPOCH)
        async with self._lock(key):
            code, shard = self._serving(key)
            if shard is None:
                return Outcome(code)
            recorded = shard.state_epochs.get(key)
            if recorded is not None and recorded > state_epoch:
                return Outcome(ec.FENCED_STATE_EPOCH)
            if self._topic_error(key):
                return Outcome(ec.UNKNOWN_TOPIC_OR_PARTITION)
            current = shard.states.get(key)
            now = self.node.wall_clock.now_ms()
            value = serde.ShareSnapshotValue(
                snapshot_epoch=current.snapshot_epoch + 1 if current is not None else 0,
                state_epoch=state_epoch,
                leader_epoch=0,
                start_offset=start_offset,
                delivery_complete_count=-1 if start_offset == NOT_INITIALIZED else 0,
                create_timestamp=now,
                write_timestamp=now,
                state_batches=[],
            )
            record = serde.snapshot_record(key.group_id, key.topic_id, key.partition, value)
            return Outcome(await self._write(key, record))

    async def write(
        self,
        key: SharePartitionKey,
        state_epoch: int,
        leader_epoch: int,
        start_offset: int,
        batches: tuple[StateBatch, ...],
        delivery_complete_count: int = NO_DELIVERY_COMPLETE_COUNT,
    ) -> Outcome:
        if key.partition < 0:
            return Outcome(ec.INVALID_REQUEST, NEGATIVE_PARTITION_ID)
        if leader_epoch < 0:
            return Outcome(ec.INVALID_REQUEST, NEGATIVE_LEADER_EPOCH)
        if state_epoch < 0:
            return Outcome(ec.INVALID_REQUEST, NEGATIVE_STATE_EPOCH)
        async with self._lock(key):
            code, shard = self._serving(key)
            if shard is None:
                return Outcome(code)
            current = shard.states.get(key)
            if current is None:
                return Outcome(ec.INVALID_REQUEST, WRITE_UNINITIALIZED)
            if shard.leader_epochs.get(key, leader_epoch) > leader_epoch:
                return Outcome(ec.FENCED_LEADER_EPOCH)
            if shard.state_epochs.get(key, state_epoch) > state_epoch:
                return Outcome(ec.FENCED_STATE_EPOCH)
            if self._topic_error(key):
                return Outcome(ec.UNKNOWN_TOPIC_OR_PARTITION)
            record = self._state_record(
                shard, key, current, current.leader_epoch, start_offset, batches,
                delivery_complete_count,
            )  # fmt: skip
            return Outcome(await self._write(key, record))

    def _state_record(
        self,
        shard: _Shard,
        key: SharePartitionKey,
        current: ShareGroupOffset,
        leader_epoch: int,
        start_offset: int,
        batches: tuple[StateBatch, ...],
        delivery_complete_count: int,
    ) -> tuple[bytes, bytes]:
        """Kafka's generateShareStateRecord: an update, or a snapshot every
        ``share.coordinator.snapshot.update.records.per.snapshot`` updates. The start offset
        never moves back; the delivery-complete count follows the newer start offset."""
        new_start = max(start_offset, current.start_offset)
        count = delivery_complete_count
        if start_offset == current.start_offset:
            count = max(delivery_complete_count, current.delivery_complete_count)
        elif start_offset < current.start_offset:
            count = current.delivery_complete_count
        per_snapshot = int(self.config("share.coordinator.snapshot.update.records.per.snapshot"))
        if shard.updates_since_snapshot.get(key, 0) >= per_snapshot:
            now = self.node.wall_clock.now_ms()
            merged = combine_state_batches(current.batches, batches, new_start)
            snapshot = serde.ShareSnapshotValue(
                snapshot_epoch=current.snapshot_epoch + 1,
                state_epoch=current.state_epoch,
                leader_epoch=leader_epoch,
                start_offset=new_start,
                delivery_complete_count=count,
                create_timestamp=now,
                write_timestamp=now,
                state_batches=[_snapshot_batch(b) for b in merged],
            )
            return serde.snapshot_record(key.group_id, key.topic_id, key.partition, snapshot)
        update = serde.ShareUpdateValue(
            snapshot_epoch=current.snapshot_epoch,
            leader_epoch=leader_epoch,
            start_offset=new_start,
            delivery_complete_count=count,
            state_batches=[_update_batch(b) for b in combine_state_batches((), batches, new_start)],
        )
        return serde.update_record(key.group_id, key.topic_id, key.partition, update)

    async def read(self, key: SharePartitionKey, leader_epoch: int) -> ShareState:
        """The state for a share-partition leader loading it; a new leader epoch is recorded
        (an update record) before the answer, as Kafka's readStateAndMaybeUpdateLeaderEpoch."""
        if key.partition < 0:
            return ShareState(error_code=ec.INVALID_REQUEST, error_message=NEGATIVE_PARTITION_ID)
        if leader_epoch < 0:
            return ShareState(error_code=ec.INVALID_REQUEST, error_message=NEGATIVE_LEADER_EPOCH)
        async with self._lock(key):
            code, shard = self._serving(key)
            if shard is None:
                return ShareState(error_code=code)
            current = shard.states.get(key)
            if current is None:
                return ShareState(error_code=ec.INVALID_REQUEST, error_message=READ_UNINITIALIZED)
            if shard.leader_epochs.get(key, leader_epoch) > leader_epoch:
                return ShareState(error_code=ec.FENCED_LEADER_EPOCH)
            if self._topic_error(key):
                return ShareState(error_code=ec.UNKNOWN_TOPIC_OR_PARTITION)
            state = ShareState(
                state_epoch=current.state_epoch,
                leader_epoch=leader_epoch,
                start_offset=current.start_offset,
                batches=current.batches,
                delivery_complete_count=current.delivery_complete_count,
            )
            if shard.leader_epochs.get(key) == leader_epoch:
                return state
            record = self._state_record(
                shard, key, current, leader_epoch, current.start_offset, (),
                current.delivery_complete_count,
            )  # fmt: skip
            code = await self._write(key, record)
            return state if code == ec.NONE else ShareState(error_code=code)

    async def read_summary(self, key: SharePartitionKey, leader_epoch: int) -> ShareStateSummary:
        if key.partition < 0:
            return ShareStateSummary(
                error_code=ec.INVALID_REQUEST, error_message=NEGATIVE_PARTITION_ID
            )
        code, shard = self._serving(key)
        if shard is None:
            return ShareStateSummary(error_code=code)
        if self._topic_error(key):
            return ShareStateSummary(error_code=ec.UNKNOWN_TOPIC_OR_PARTITION)
        current = shard.states.get(key)
        if current is None:
            return ShareStateSummary(
                state_epoch=UNINITIALIZED_EPOCH,
                leader_epoch=UNINITIALIZED_EPOCH,
                start_offset=NOT_INITIALIZED,
                delivery_complete_count=NO_DELIVERY_COMPLETE_COUNT,
            )
        return ShareStateSummary(
            state_epoch=current.state_epoch,
            leader_epoch=current.leader_epoch,
            start_offset=current.start_offset,
            delivery_complete_count=current.delivery_complete_count,
        )

    async def delete(self, key: SharePartitionKey) -> Outcome:
        if key.partition < 0:
            return Outcome(ec.INVALID_REQUEST, NEGATIVE_PARTITION_ID)
        async with self._lock(key):
            code, shard = self._serving(key)
            if shard is None:
                return Outcome(code)
            if self._topic_error(key):
                return Outcome(ec.UNKNOWN_TOPIC_OR_PARTITION)
            if key not in shard.states:
                return Outcome()  # Kafka: nothing to delete is no error
            record = serde.tombstone_record(key.group_id, key.topic_id, key.partition)
            return Outcome(await self._write(key, record))

    # -- introspection (tests, tools) --------------------------------------------------------

    def stored(self, key: SharePartitionKey) -> ShareGroupOffset | None:
        shard = self._shards.get(self.partition_for(key))
        return shard.states.get(key) if shard is not None else None


def _snapshot_batch(b: StateBatch) -> serde.ShareSnapshotValue.StateBatch:
    return serde.ShareSnapshotValue.StateBatch(
        first_offset=b.first_offset,
        last_offset=b.last_offset,
        delivery_state=b.delivery_state,
        delivery_count=b.delivery_count,
    )


def _update_batch(b: StateBatch) -> serde.ShareUpdateValue.StateBatch:
    return serde.ShareUpdateValue.StateBatch(
        first_offset=b.first_offset,
        last_offset=b.last_offset,
        delivery_state=b.delivery_state,
        delivery_count=b.delivery_count,
    )


def _raise(table: dict[SharePartitionKey, int], key: SharePartitionKey, epoch: int) -> None:
    """Kafka's maybeUpdate*EpochMap: record the epoch unless a higher one is recorded."""
    if table.get(key, epoch) <= epoch:
        table[key] = epoch
