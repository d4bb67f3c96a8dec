"""The group coordinator: one map group id -> :class:`~ferrokafka.groups.base.Group`, the
committed offsets, and their persistence on ``__consumer_offsets``.

How a group kind plugs in (the classic protocol in :mod:`ferrokafka.groups.classic`, KIP-848
consumer groups in ``ferrokafka.groups.consumer``):

- **Record types.** ``coordinator.register_record_type(record_type, replay)`` with
  ``replay(key, value)`` (decoded messages from :mod:`ferrokafka.groups.records`; ``value`` is
  None for a tombstone). At start every ``__consumer_offsets`` partition is read from its log
  start and each record goes to the replay function of its type, in log order; offsets (types
  0/1) are the coordinator's own. Register before :meth:`GroupCoordinator.run` starts.
- **Groups.** :meth:`get_group`, :meth:`add_group`, :meth:`remove_group`. A replay function
  creates the group it needs (``get_group`` then ``add_group``).
- **Writes.** ``await coordinator.write(group_id, records, on_appended)``: ``records`` are
  (key bytes, value bytes or None) from :mod:`ferrokafka.groups.serde`; they become one batch
  appended to the group's partition (the same handle Produce uses, so fetchers and the high
  watermark follow). ``on_appended()`` runs right after the append, before anything else can
  write to that partition: change the in-memory state there, so state and log never disagree.
  The result is a Kafka error code (0, or COORDINATOR_NOT_AVAILABLE, or what the append met).
- **Timers.** ``coordinator.timers`` (the runtime's): ``schedule(key, delay_s, callback)`` /
  ``cancel(key)``; keys are any hashable (use a tuple starting with your group id). Callbacks
  are synchronous; for async work (a write) use ``coordinator.spawn(async_fn, *args)``.
- **Offset commits.** The OffsetCommit handler asks ``group.validate_offset_commit(...)``; a
  group of either kind decides generation/epoch rules. Offsets live here, not in the group.
- **Transactions.** TxnOffsetCommit writes its offsets in a transactional batch of the
  producer (``write(..., producer_id=, producer_epoch=)``); they are pending
  (:mod:`ferrokafka.groups.txn_offsets`) until :meth:`complete_transaction` writes the
  producer's marker (called by WriteTxnMarkers for a ``__consumer_offsets`` partition).
- **Time.** ``coordinator.now_ms()`` (the host's injectable wall clock, what records carry);
  waits run on trio's clock.

The coordinator is ready once ``__consumer_offsets`` exists (created through the controller on
the first FindCoordinator, as Kafka does) and every partition has been replayed; before that
:meth:`error_code` answers COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from ferrokafka.coordinator.partitioning import java_string_hash, partition_for
from ferrokafka.coordinator.runtime import CoordinatorRuntime
from ferrokafka.groups.base import Group, Record
from ferrokafka.groups.offsets import OffsetStore, offset_tombstone
from ferrokafka.groups.serde import (
    LEGACY_OFFSET_COMMIT,
    OFFSET_COMMIT,
    CoordinatorRecordError,
    decode_record,
)
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.schema import Message
from ferrokafka.storage import BatchBuilder, build_control_batch

if TYPE_CHECKING:
    from ferrokafka.coordinator import CoordinatorHost

log = logging.getLogger(__name__)

OFFSETS_TOPIC = "__consumer_offsets"
# Kafka's offsets.topic.compression.codec ids (CompressionType.id).
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
# One write is one batch; Kafka caps a coordinator batch at the topic's max.message.bytes.
# A group's records (all members' metadata) stay far below; this bounds a runaway.
WRITE_RECORDS_MAX = 100_000
# How long the FindCoordinator that created __consumer_offsets waits for its (empty)
# partitions to load before answering; a client retries COORDINATOR_LOAD_IN_PROGRESS anyway.
CREATE_LOAD_WAIT_S = 5.0
# Records waiting for their write when many commits arrive at once are bounded by the
# connections' own limits (one request at a time per connection reaches a handler).

Replay = Callable[[Message, Message | None], None]
# Re-exported: where group ids hash to (moved to the runtime's package, which the transaction
# coordinator shares).
__all__ = ["OFFSETS_TOPIC", "GroupCoordinator", "java_string_hash", "partition_for"]


class GroupCoordinator:
    """Groups and offsets of every ``__consumer_offsets`` partition this node leads."""

    def __init__(self, node: CoordinatorHost) -> None:
        self.node = node
        self.groups: dict[str, Group] = {}
        self.offsets = OffsetStore()
        self._replay: dict[int, Replay] = {
            LEGACY_OFFSET_COMMIT: self.offsets.replay,
            OFFSET_COMMIT: self.offsets.replay,
        }
        # Makes the empty group that offsets committed outside any group belong to (Kafka's
        # "simple consumer group"; the classic protocol sets it).
        self.simple_group_factory: Callable[[str], Group] | None = None
        self._nursery: trio.Nursery | None = None
        self._create_lock = trio.Lock()
        self.runtime = CoordinatorRuntime(
            node,
            OFFSETS_TOPIC,
            self,
            load_buffer_bytes=lambda: int(self.config("offsets.load.buffer.size")),
        )
        # The runtime's timers (fired by its task): a member's session, a group's rebalance.
        self.timers = self.runtime.timers
        # Group kind -> what must go before a group of that kind is deleted (a share group's
        # share-partition state): answers an error code, DeleteGroups stops on a non-zero one.
        self.delete_hooks: dict[str, Callable[[Group], Awaitable[int]]] = {}

    # -- plugging in -------------------------------------------------------------------------

    def register_record_type(self, record_type: int, replay: Replay) -> None:
        if record_type in self._replay:
            raise ValueError(f"record type {record_type} already has a replay function")
        self._replay[record_type] = replay

    def get_group(self, group_id: str) -> Group | None:
        return self.groups.get(group_id)

    def add_group(self, group: Group) -> None:
        if group.group_id in self.groups:
            raise ValueError(f"group {group.group_id!r} exists")
        self.groups[group.group_id] = group

    def remove_group(self, group_id: str) -> Group | None:
        return self.groups.pop(group_id, None)

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``fn(*args)`` as a task of the coordinator (from a timer callback)."""
        assert self._nursery is not None, "the coordinator is not running"
        self._nursery.start_soon(fn, *args)

    def now_ms(self) -> int:
        """The broker's wall clock (the host's, injectable for tests)."""
        return self.node.wall_clock.now_ms()

    # -- config ------------------------------------------------------------------------------

    def config(self, key: str) -> Any:
        """A broker config value (static or set dynamically)."""
        return self.node.broker_config()[key]

    @property
    def num_partitions(self) -> int:
        """The partitions of the existing topic, else the configured number."""
        topic = self.node.image.topics_by_name.get(OFFSETS_TOPIC)
        if topic is not None:
            return len(topic.partitions)
        return int(self.config("offsets.topic.num.partitions"))

    def partition_for(self, group_id: str) -> int:
        return partition_for(group_id, self.num_partitions)

    # -- readiness ---------------------------------------------------------------------------

    def error_code(self, group_id: str | None = None) -> int:
        """0 when ``group_id`` (or, without one, this broker's groups) can be served here;
        else the coordinator error a client retries on: COORDINATOR_NOT_AVAILABLE before
        ``__consumer_offsets`` exists, COORDINATOR_LOAD_IN_PROGRESS while its partition loads,
        NOT_COORDINATOR when another broker leads it."""
        if OFFSETS_TOPIC not in self.node.image.topics_by_name:
            return ec.COORDINATOR_NOT_AVAILABLE
        if group_id is not None:
            return self.runtime.error_code(self.partition_for(group_id))
        return ec.COORDINATOR_LOAD_IN_PROGRESS if self.runtime.is_loading() else ec.NONE

    async def ensure_topic(self, group_id: str | None = None) -> int:
        """Create ``__consumer_offsets`` when missing (Kafka does it on FindCoordinator), wait
        for the partitions this broker now leads to load, then answer :meth:`error_code`."""
        if OFFSETS_TOPIC in self.node.image.topics_by_name:
            return self.error_code(group_id)
        async with self._create_lock:
            if OFFSETS_TOPIC not in self.node.image.topics_by_name:
                response = await self.node.controller_channel.create_topics(self._create_request())
                code = response.topics[0].error_code if response.topics else ec.NONE
                if code not in (ec.NONE, ec.TOPIC_ALREADY_EXISTS):
                    log.warning("creating %s failed with error %d", OFFSETS_TOPIC, code)
                    return ec.COORDINATOR_NOT_AVAILABLE
                # New partitions are empty: their loads end at once.
                await self.runtime.wait_loaded(trio.current_time() + CREATE_LOAD_WAIT_S)
        return self.error_code(group_id)

    def _create_request(self) -> CreateTopicsRequest:
        config = self.node.broker_config()
        topic_configs = {
            "cleanup.policy": "compact",
            "compression.type": "producer",
            "segment.bytes": str(config["offsets.topic.segment.bytes"]),
        }
        return CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=OFFSETS_TOPIC,
                    num_partitions=int(config["offsets.topic.num.partitions"]),
                    replication_factor=int(config["offsets.topic.replication.factor"]),
                    configs=[
                        CreateTopicsRequest.CreatableTopicConfig(name=k, value=v)
                        for k, v in topic_configs.items()
                    ],
                )
            ],
            timeout_ms=30_000,
        )

    # -- running -----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The coordinator's tasks (timers, the runtime that loads the partitions this broker
        leads, offset expiry). Runs until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.runtime.run)
            task_status.started()
            nursery.start_soon(self._expire_offsets_forever)

    # -- the runtime's shard (CoordinatorShard) ----------------------------------------------

    def replay(self, partition: int, key: bytes, value: bytes | None) -> None:
        self._replay_one(key, value, partition)

    def replay_transactional(
        self,
        partition: int,
        producer_id: int,
        producer_epoch: int,
        key: bytes,
        value: bytes | None,
    ) -> None:
        """An offset commit of a transaction is pending until its marker; any other record
        type replays as usual (Kafka's group records ignore the producer)."""
        try:
            decoded = decode_record(key, value)
        except CoordinatorRecordError as exc:
            log.warning("%s-%d: skipping a record: %s", OFFSETS_TOPIC, partition, exc)
            return
        if decoded.record_type == OFFSET_COMMIT:
            self.offsets.replay_pending(
                (partition, producer_id), producer_epoch, decoded.key, decoded.value
            )
            return
        replay = self._replay.get(decoded.record_type)
        if replay is not None:
            replay(decoded.key, decoded.value)

    def replay_end_transaction(self, partition: int, producer_id: int, commit: bool) -> None:
        self.offsets.end_transaction((partition, producer_id), commit)

    def loaded(self, partition: int) -> None:
        if self.simple_group_factory is not None:
            # Offsets without a group: a simple group, as Kafka's replay makes one. Done after
            # the partition's whole load so that the records of any group kind were all seen.
            for group_id in self.offsets.group_ids():
                if (
                    group_id not in self.groups
                    and self.partition_for(group_id) == partition
                    and self.offsets.has_any_offset(group_id)
                ):
                    self.groups[group_id] = self.simple_group_factory(group_id)
        log.info(
            "group coordinator loaded %s-%d (%d groups here)",
            OFFSETS_TOPIC,
            partition,
            len(self.groups),
        )

    def unload(self, partition: int) -> None:
        """Another broker coordinates this partition's groups now: forget them here (their
        waiting members are answered and come back through FindCoordinator)."""
        for group_id in [g for g in self.offsets.group_ids() if self.partition_for(g) == partition]:
            self.offsets.forget_group(group_id)
        self.offsets.pending.drop_partition(partition)
        for group_id in [g for g in self.groups if self.partition_for(g) == partition]:
            self.groups.pop(group_id).on_deleted()

    def _replay_one(self, key: bytes, value: bytes | None, partition: int) -> None:
        try:
            decoded = decode_record(key, value)
        except CoordinatorRecordError as exc:
            log.warning("%s-%d: skipping a record: %s", OFFSETS_TOPIC, partition, exc)
            return
        replay = self._replay.get(decoded.record_type)
        if replay is None:
            return  # a record type no group kind here reads (share/streams groups)
        replay(decoded.key, decoded.value)

    # -- writes ------------------------------------------------------------------------------

    async def write(
        self,
        group_id: str,
        records: list[Record],
        on_appended: Callable[[], None] | None = None,
        *,
        producer_id: int = -1,
        producer_epoch: int = -1,
    ) -> int:
        """Append ``records`` as one batch to the group's partition; 0 or an error code. With
        a producer id the batch is that producer's transactional batch, as Kafka's runtime
        writes a transactional offset commit (base sequence 0; a coordinator's batches are
        not checked for sequence)."""
        if not records:
            if on_appended is not None:
                on_appended()
            return ec.NONE
        if len(records) > WRITE_RECORDS_MAX:
            return ec.RECORD_LIST_TOO_LARGE
        codec = CODECS.get(int(self.config("offsets.topic.compression.codec")), "none")
        if producer_id >= 0:
            builder = BatchBuilder(
                compression=codec,
                producer_id=producer_id,
                producer_epoch=producer_epoch,
                base_sequence=0,
                is_transactional=True,
            )
        else:
            builder = BatchBuilder(compression=codec)
        now = self.now_ms()
        for key, value in records:
            builder.append(value, key=key, timestamp=now)
        return await self.runtime.write(self.partition_for(group_id), builder.build(), on_appended)

    async def complete_transaction(
        self,
        partition_index: int,
        producer_id: int,
        producer_epoch: int,
        coordinator_epoch: int,
        commit: bool,
    ) -> int:
        """Write the producer's COMMIT or ABORT marker to ``__consumer_offsets`` partition
        ``partition_index`` and apply it right after the append: the transaction's pending
        offsets are committed, or dropped (Kafka's GroupCoordinatorService.completeTransaction
        and the runtime's scheduleTransactionCompletion). 0 once the high watermark covers the
        marker, else Kafka's error code: NOT_COORDINATOR (not the leader here),
        COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, or what the append met (the
        partition's checks of the marker against the producer's state)."""
        if OFFSETS_TOPIC not in self.node.image.topics_by_name:
            return ec.COORDINATOR_NOT_AVAILABLE
        code = self.runtime.error_code(partition_index)
        if code != ec.NONE:
            return code
        marker = build_control_batch(
            commit=commit,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            coordinator_epoch=coordinator_epoch,
            timestamp=self.now_ms(),
        )

        def apply() -> None:
            committed = self.offsets.end_transaction((partition_index, producer_id), commit)
            log.debug(
                "%s-%d: %s of producer %d (%d offsets committed)",
                OFFSETS_TOPIC,
                partition_index,
                "commit" if commit else "abort",
                producer_id,
                committed,
            )

        return await self.runtime.write(partition_index, marker, apply)

    # -- offset expiry -----------------------------------------------------------------------

    async def _expire_offsets_forever(self) -> None:
        while True:
            await trio.sleep(int(self.config("offsets.retention.check.interval.ms")) / 1000)
            await self.expire_offsets()  # the groups loaded here: none before a load

    async def expire_offsets(self) -> int:
        """Tombstone the offsets of empty groups older than offsets.retention.minutes (Kafka
        2.1+: the clock starts when the group became empty, else at the commit); a classic
        group left with neither members nor offsets is deleted. Returns how many expired."""
        now = self.now_ms()
        retention_ms = int(self.config("offsets.retention.minutes")) * 60_000
        expired_total = 0
        for group_id in self.offsets.group_ids():
            group = self.groups.get(group_id)
            keep: frozenset[str] = frozenset()
            empty_since = None
            if group is not None and not group.is_empty():
                # Kafka: a Stable consumer-protocol group loses only the offsets of topics it
                # no longer subscribes to; other non-empty groups keep everything.
                topics = group.subscribed_topics()
                if group.state != "Stable" or group.protocol_type != "consumer" or topics is None:
                    continue
                keep = topics
            elif group is not None:
                # An empty group with a protocol type counts from when it became empty; a
                # simple group (no protocol type) from each commit.
                empty_since = getattr(group, "offsets_expire_from_ms", None)
            # Kafka keeps an offset a transaction may still replace.
            expired = [
                tp
                for tp, committed in self.offsets.of_group(group_id).items()
                if tp[0] not in keep
                and _expired(committed, empty_since, retention_ms, now)
                and not self.offsets.has_pending(group_id, *tp)
            ]
            if not expired:
                continue
            records = [offset_tombstone(group_id, t, p) for t, p in expired]
            everything = len(expired) == len(self.offsets.of_group(group_id))
            if everything and group is not None and not self.offsets.pending.has_open(group_id):
                if group.kind == "classic" and group.validate_delete() == ec.NONE:
                    records += group.tombstones()

            def apply(group_id: str = group_id, expired: list = expired) -> None:
                for topic, partition in expired:
                    self.offsets.remove(group_id, topic, partition)
                gone = self.groups.get(group_id)
                if (
                    gone is not None
                    and gone.kind == "classic"
                    and not self.offsets.has_offsets(group_id)
                    and gone.validate_delete() == ec.NONE
                ):
                    self.groups.pop(group_id, None)
                    gone.on_deleted()

            if await self.write(group_id, records, apply) == ec.NONE:
                expired_total += len(expired)
        await self._delete_empty_groups()
        return expired_total

    async def _delete_empty_groups(self) -> None:
        """Classic groups left Empty with no offsets go, as Kafka's periodic cleanup does (a
        GroupMetadata tombstone); consumer groups manage their own lifetime."""
        for group_id, group in list(self.groups.items()):
            if (
                group.kind != "classic"
                or group.validate_delete() != ec.NONE
                or self.offsets.has_offsets(group_id)
            ):
                continue

            def apply(group_id: str = group_id, group: Group = group) -> None:
                if self.groups.get(group_id) is group and group.validate_delete() == ec.NONE:
                    del self.groups[group_id]
                    group.on_deleted()

            await self.write(group_id, group.tombstones(), apply)


def _expired(committed: Any, empty_since_ms: int | None, retention_ms: int, now: int) -> bool:
    if committed.expire_timestamp_ms >= 0:
        return now >= committed.expire_timestamp_ms
    base = empty_since_ms if empty_since_ms is not None else committed.commit_timestamp_ms
    return now >= base + retention_ms
