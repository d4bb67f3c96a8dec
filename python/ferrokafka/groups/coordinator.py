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
- **Timers.** ``coordinator.timers.schedule(key, delay_s, callback)`` / ``cancel(key)``; keys
  are any hashable (use a tuple starting with your group id). Callbacks are synchronous; for
  async work (a write) use ``coordinator.spawn(async_fn, *args)``.
- **Offset commits.** The OffsetCommit handler asks ``group.validate_offset_commit(...)``; a
  group of either kind decides generation/epoch rules. Offsets live here, not in the group.
- **Time.** ``coordinator.now_ms()`` (wall clock, what records carry).

The coordinator is ready once ``__consumer_offsets`` exists (created through the controller on
the first FindCoordinator, as Kafka does) and every partition has been replayed; before that
:meth:`error_code` answers COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from ferrokafka.groups.base import Group, Record
from ferrokafka.groups.offsets import OffsetStore, offset_tombstone
from ferrokafka.groups.serde import (
    LEGACY_OFFSET_COMMIT,
    OFFSET_COMMIT,
    CoordinatorRecordError,
    decode_record,
)
from ferrokafka.groups.timers import Timers
from ferrokafka.partition import AppendOrigin
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.schema import Message
from ferrokafka.storage import BatchBuilder

if TYPE_CHECKING:
    from ferrokafka.coordinator import CoordinatorHost
    from ferrokafka.partition import Partition

log = logging.getLogger(__name__)

OFFSETS_TOPIC = "__consumer_offsets"
# Kafka's offsets.topic.compression.codec ids (CompressionType.id).
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
# One write is one batch; Kafka caps a coordinator batch at the topic's max.message.bytes.
# A group's records (all members' metadata) stay far below; this bounds a runaway.
WRITE_RECORDS_MAX = 100_000
# Records waiting for their write when many commits arrive at once are bounded by the
# connections' own limits (one request at a time per connection reaches a handler).

Replay = Callable[[Message, Message | None], None]


def java_string_hash(text: str) -> int:
    """Java's String.hashCode (over UTF-16 code units), as a signed 32-bit int."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(group_id: str, num_partitions: int) -> int:
    """Kafka's ``Utils.abs(groupId.hashCode()) % numPartitions``. Utils.abs is Math.abs with
    Integer.MIN_VALUE mapped to 0 -- not ``& 0x7fffffff``, which differs for every negative
    hash (checked against a real Kafka broker in tests/groups/test_format_kafka.py)."""
    h = java_string_hash(group_id)
    return (0 if h == -(2**31) else abs(h)) % num_partitions


class GroupCoordinator:
    """Groups and offsets of every ``__consumer_offsets`` partition this node leads."""

    def __init__(self, node: CoordinatorHost) -> None:
        self.node = node
        self.groups: dict[str, Group] = {}
        self.offsets = OffsetStore()
        self.timers = Timers()
        self._replay: dict[int, Replay] = {
            LEGACY_OFFSET_COMMIT: self.offsets.replay,
            OFFSET_COMMIT: self.offsets.replay,
        }
        # Makes the empty group that offsets committed outside any group belong to (Kafka's
        # "simple consumer group"; the classic protocol sets it).
        self.simple_group_factory: Callable[[str], Group] | None = None
        self._nursery: trio.Nursery | None = None
        self._loaded = False
        self._loading = False
        self._create_lock = trio.Lock()

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

    @staticmethod
    def now_ms() -> int:
        return int(time.time() * 1000)

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

    def error_code(self) -> int:
        """0 when groups can be served; else the coordinator error a client retries on."""
        if self._loaded:
            return ec.NONE
        if self._loading:
            return ec.COORDINATOR_LOAD_IN_PROGRESS
        return ec.COORDINATOR_NOT_AVAILABLE

    async def ensure_topic(self) -> int:
        """Create ``__consumer_offsets`` when missing (Kafka does it on FindCoordinator), then
        answer :meth:`error_code`."""
        if OFFSETS_TOPIC in self.node.image.topics_by_name:
            return self.error_code()
        async with self._create_lock:
            if OFFSETS_TOPIC not in self.node.image.topics_by_name:
                response = await self.node.controller_channel.create_topics(self._create_request())
                code = response.topics[0].error_code if response.topics else ec.NONE
                if code not in (ec.NONE, ec.TOPIC_ALREADY_EXISTS):
                    log.warning("creating %s failed with error %d", OFFSETS_TOPIC, code)
                    return ec.COORDINATOR_NOT_AVAILABLE
                if not self._loaded and not self._loading:
                    await self._load_all()
        return self.error_code()

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
        """The coordinator's tasks (timers, offset expiry); loads existing partitions first.
        Runs until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.timers.run)
            if OFFSETS_TOPIC in self.node.image.topics_by_name:
                self._loading = True
                task_status.started()
                await self._load_all()
            else:
                task_status.started()
            nursery.start_soon(self._expire_offsets_forever)

    async def _load_all(self) -> None:
        self._loading = True
        try:
            for index in range(self.num_partitions):
                handle = self.node.replicas.partition(OFFSETS_TOPIC, index)
                if handle is not None and handle.is_leader:
                    await self._load_partition(handle)
        finally:
            self._loading = False
        if self.simple_group_factory is not None:
            # Offsets without a group: a simple group, as Kafka's replay makes one. Done after
            # the whole load so that the records of any group kind were all seen first.
            for group_id in self.offsets.group_ids():
                if group_id not in self.groups:
                    self.groups[group_id] = self.simple_group_factory(group_id)
        self._loaded = True
        log.info("group coordinator loaded %d groups", len(self.groups))

    async def _load_partition(self, handle: Partition) -> None:
        """Replay one partition from its log start to its high watermark."""
        buffer_bytes = int(self.config("offsets.load.buffer.size"))
        offset = handle.log.log_start_offset
        end = handle.high_watermark
        while offset < end:
            batches = await trio.to_thread.run_sync(
                lambda o=offset: handle.log.read_batches(o, buffer_bytes, max_offset=end)
            )
            if not batches:
                break
            for batch in batches:
                if batch.is_control or batch.is_transactional:
                    continue  # transactional offset commits: not supported yet
                for record in batch.records():
                    if record.offset >= offset and record.key is not None:
                        self._replay_one(record.key, record.value, handle.partition)
            offset = batches[-1].next_offset

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
    ) -> int:
        """Append ``records`` as one batch to the group's partition; 0 or an error code."""
        if not records:
            if on_appended is not None:
                on_appended()
            return ec.NONE
        if len(records) > WRITE_RECORDS_MAX:
            return ec.RECORD_LIST_TOO_LARGE
        found = self.node.replicas.leader_partition_or_error(
            OFFSETS_TOPIC, self.partition_for(group_id)
        )
        if isinstance(found, int) or not self._loaded:
            return ec.COORDINATOR_NOT_AVAILABLE
        codec = CODECS.get(int(self.config("offsets.topic.compression.codec")), "none")
        builder = BatchBuilder(compression=codec)
        now = self.now_ms()
        for key, value in records:
            builder.append(value, key=key, timestamp=now)
        # Kafka's coordinators append with acks=1 and then wait for the high watermark; with
        # the ISR this node alone, the append itself moves it.
        result = await found.append_as_leader(
            builder.build(),
            origin=AppendOrigin.COORDINATOR,
            required_acks=1,
            on_appended=(lambda _: on_appended()) if on_appended is not None else None,
        )
        if result.code:
            log.warning(
                "append to %s-%d failed: error %d %s",
                OFFSETS_TOPIC,
                found.partition,
                result.code,
                result.message or "",
            )
        return result.code

    # -- offset expiry -----------------------------------------------------------------------

    async def _expire_offsets_forever(self) -> None:
        while True:
            await trio.sleep(int(self.config("offsets.retention.check.interval.ms")) / 1000)
            if self._loaded:
                await self.expire_offsets()

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
            expired = [
                tp
                for tp, committed in self.offsets.of_group(group_id).items()
                if tp[0] not in keep and _expired(committed, empty_since, retention_ms, now)
            ]
            if not expired:
                continue
            records = [offset_tombstone(group_id, t, p) for t, p in expired]
            if len(expired) == len(self.offsets.of_group(group_id)) and group is not None:
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
