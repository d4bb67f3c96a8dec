"""The node's state that request handlers share: the metadata controller and its image, the
partition logs (LogManager), and per-partition handles with the high watermark and a
data-arrival event for long-poll fetches.

One node is broker and controller at once and the only replica of every partition, so an
append is replicated to the whole ISR the moment it is written: the high watermark is the log
end offset. Replication (later) changes :attr:`PartitionHandle.high_watermark` and nothing
else here.

Threading: the controller and the LogManager are synchronous and block on fsyncs; they run in
worker threads (``trio.to_thread``), one controller operation at a time (``_controller_lock``),
and every change to the handle map happens back in the trio thread after the operation
returned, so handlers never see a half-applied image.

Idempotent producers: each handle holds its partition's producer state, loaded (snapshot plus
log replay) when the handle is made and saved as a snapshot at shutdown; producer ids come
from blocks the controller records in the metadata log.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import trio

from ferrokafka._ferrokafka import Log, LogConfig
from ferrokafka.cluster import BrokerEndpoint, Controller, MetadataImage, SingleVoterLog
from ferrokafka.config import BrokerConfig
from ferrokafka.server.leader_epochs import LeaderEpochCache, load_leader_epoch_cache
from ferrokafka.server.producer_state import ProducerState, load_producer_state
from ferrokafka.storage import LogManager
from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.producer_snapshot import SnapshotEntry

if TYPE_CHECKING:
    from ferrokafka.groups.coordinator import GroupCoordinator

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class PartitionHandle:
    """A partition this node leads: its log and what fetchers wait on."""

    topic: str
    partition: int
    topic_id: uuid.UUID
    log: Log
    leader_epoch: int
    producers: ProducerState
    epochs: LeaderEpochCache
    # Held by an append that waits (a worker-thread append) so that producer checks, the
    # append and the state update of another produce cannot interleave with it.
    append_lock: trio.Lock = field(default_factory=trio.Lock)
    _arrived: trio.Event = field(default_factory=trio.Event)

    @property
    def high_watermark(self) -> int:
        # The only replica is the whole ISR: what is in the log is committed.
        return self.log.log_end_offset

    @property
    def last_stable_offset(self) -> int:
        # No transactions yet: nothing below the high watermark is undecided.
        return self.high_watermark

    @property
    def data_arrived(self) -> trio.Event:
        """Set by the next append; a fetcher takes the event, then re-checks, then waits."""
        return self._arrived

    def notify_append(self) -> None:
        """Wake every fetcher waiting on this partition (call from the trio thread)."""
        arrived, self._arrived = self._arrived, trio.Event()
        arrived.set()


def _cluster_id(config: BrokerConfig) -> str:
    """The cluster id recorded in the first log dir's meta.properties, or a new one."""
    for log_dir in config.log_dirs:
        meta = ckpt.read_meta_properties(Path(log_dir) / ckpt.META_PROPERTIES)
        if meta is not None:
            return meta.cluster_id
    return ckpt.random_directory_id()


class Node:
    """Everything a request handler may read or change, opened by :meth:`open`."""

    def __init__(
        self, config: BrokerConfig, logs: LogManager, controller: Controller, cluster_id: str
    ) -> None:
        self.config = config
        self.logs = logs
        self.controller = controller
        self.cluster_id = cluster_id
        self._controller_lock = trio.Lock()
        self._by_name: dict[tuple[str, int], PartitionHandle] = {}
        self._by_id: dict[tuple[uuid.UUID, int], PartitionHandle] = {}
        self._producer_ids: range = range(0)
        self._producer_id_lock = trio.Lock()
        # Set by the group handlers' registration (groups.GroupCoordinator); run by the Broker.
        self.group_coordinator: GroupCoordinator | None = None
        # min.insync.replicas by topic, valid for the image it was computed from: a metadata
        # image is immutable and every config change (topic or broker, static defaults aside)
        # makes a new one, so a new image empties it. At most one entry per topic of the image.
        self._broker_config_image: object = None
        self._broker_config: BrokerConfig | None = None
        self._min_insync_image: object = None
        self._min_insync: dict[str, int] = {}

    @classmethod
    async def open(cls, config: BrokerConfig) -> Node:
        """Open the partition logs and replay the metadata log (in worker threads)."""
        cluster_id = _cluster_id(config)
        logs = await trio.to_thread.run_sync(
            lambda: LogManager.from_broker_config(config, cluster_id=cluster_id)
        )
        metadata_dir = config["metadata.log.dir"] or config.log_dirs[0]
        controller = Controller(config, await trio.to_thread.run_sync(SingleVoterLog, metadata_dir))
        await trio.to_thread.run_sync(controller.start)
        node = cls(config, logs, controller, cluster_id)
        await node._sync_partitions()
        return node

    @property
    def image(self) -> MetadataImage:
        return self.controller.image

    # -- partitions --------------------------------------------------------------------------

    def partition(self, topic: str, index: int) -> PartitionHandle | None:
        return self._by_name.get((topic, index))

    def partition_by_id(self, topic_id: uuid.UUID, index: int) -> PartitionHandle | None:
        return self._by_id.get((topic_id, index))

    def broker_config(self) -> BrokerConfig:
        """The static config overlaid with the dynamic cluster-default and per-broker values
        the metadata log holds (set with AlterConfigs), the precedence Kafka applies.

        Building it parses every key, too slow for each request (offset commits, acks=all
        produce), so it is kept for the image it came from: images are immutable and every
        dynamic config change makes a new one. BrokerConfig is read-only."""
        image = self.image
        if self._broker_config_image is not image:
            self._broker_config = BrokerConfig(
                self.config.static,
                dynamic_default=image.broker_config(None),
                dynamic_broker=image.broker_config(self.config.node_id),
            )
            self._broker_config_image = image
        assert self._broker_config is not None
        return self._broker_config

    def min_insync_replicas(self, topic: str) -> int:
        """The topic's effective ``min.insync.replicas`` (its override, else the dynamic then
        static broker default), what every acks=all Produce checks. Resolving it parses
        configs, so it is kept per metadata image and topic (see ``_min_insync``)."""
        image = self.image
        if self._min_insync_image is not image:
            self._min_insync_image = image
            self._min_insync = {}
        value = self._min_insync.get(topic)
        if value is None:
            overrides = dict(image.topic_config(topic))
            config = self.broker_config().topic_config(overrides)
            value = self._min_insync[topic] = int(config["min.insync.replicas"])
        return value

    def log_config(self, topic: str, broker: BrokerConfig | None = None) -> LogConfig:
        """The effective LogConfig of ``topic``: broker defaults (static and dynamic)
        overlaid with the topic's own configs."""
        overrides = dict(self.image.topic_config(topic))
        broker = broker if broker is not None else self.broker_config()
        return broker.topic_config(overrides).to_log_config()

    async def _sync_partitions(self) -> None:
        """Make the handle map match the image: open logs of new partitions, update configs,
        delete logs of removed topics."""
        image = self.image
        broker = self.broker_config()  # once per sync: it parses every key
        wanted: dict[tuple[str, int], tuple[uuid.UUID, int]] = {}
        for name, topic in image.topics_by_name.items():
            for index, part in topic.partitions.items():
                if part.leader == self.config.node_id:
                    wanted[(name, index)] = (topic.topic_id, part.leader_epoch)
        for key in [k for k in self._by_name if k not in wanted]:
            handle = self._by_name.pop(key)
            self._by_id.pop((handle.topic_id, handle.partition), None)
            handle.notify_append()  # wake fetchers so they notice the partition is gone
            await trio.to_thread.run_sync(self.logs.delete_log, *key)
        for (name, index), (topic_id, epoch) in wanted.items():
            handle = self._by_name.get((name, index))
            config = self.log_config(name, broker)
            if handle is None or handle.topic_id != topic_id:
                opened = await trio.to_thread.run_sync(
                    self.logs.get_or_create_log, name, index, config
                )
                if opened.config != config:
                    # A log loaded at start was opened with the broker defaults; the topic's
                    # own config comes from the image, replayed from the metadata log.
                    await trio.to_thread.run_sync(self.logs.update_config, name, config)
                producers = await trio.to_thread.run_sync(load_producer_state, opened)
                epochs = await trio.to_thread.run_sync(load_leader_epoch_cache, opened)
                handle = PartitionHandle(name, index, topic_id, opened, epoch, producers, epochs)
                self._by_name[(name, index)] = handle
                self._by_id[(topic_id, index)] = handle
            else:
                handle.leader_epoch = epoch
                if handle.log.config != config:
                    await trio.to_thread.run_sync(self.logs.update_config, name, config)
            if handle.epochs.latest_epoch != epoch:
                # Kafka's leader records its epoch at the log end when it takes over, so the
                # epoch is known before anything is written in it.
                end = handle.log.log_end_offset
                await trio.to_thread.run_sync(handle.epochs.assign, epoch, end)

    # -- controller --------------------------------------------------------------------------

    async def run_controller(self, operation: Callable[[T], R], request: T) -> R:
        """Run one controller operation (e.g. ``controller.create_topics``) in a worker thread,
        serialized with the others, then bring the partition logs in line with the new image."""
        async with self._controller_lock:
            response = await trio.to_thread.run_sync(operation, request)
            await self._sync_partitions()
        return response

    async def register_broker(self, endpoints: Sequence[BrokerEndpoint]) -> None:
        async with self._controller_lock:
            await trio.to_thread.run_sync(
                lambda: self.controller.register_broker(endpoints, log_dir_ids=_dir_ids(self.logs))
            )

    async def next_producer_id(self) -> int:
        """A producer id never handed out before, from the current block or a new one."""
        async with self._producer_id_lock:
            if not self._producer_ids:
                registration = self.image.broker(self.config.node_id)
                broker_epoch = registration.broker_epoch if registration is not None else -1
                async with self._controller_lock:
                    self._producer_ids = await trio.to_thread.run_sync(
                        self.controller.allocate_producer_ids, self.config.node_id, broker_epoch
                    )
            producer_id = self._producer_ids[0]
            self._producer_ids = self._producer_ids[1:]
            return producer_id

    # -- shutdown ----------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Snapshot every partition's producer state, flush and close every partition log,
        write checkpoints and the clean-shutdown marker, then close the metadata log."""
        snapshots = [
            (h.producers, h.log.log_end_offset, h.producers.snapshot_entries())
            for h in self._by_name.values()
            if h.producers.last_snapshot_offset != h.log.log_end_offset
        ]
        await trio.to_thread.run_sync(_write_snapshots, snapshots)
        epoch = self.image.broker(self.config.node_id)
        await trio.to_thread.run_sync(
            lambda: self.logs.shutdown(epoch.broker_epoch if epoch is not None else -1)
        )
        await trio.to_thread.run_sync(self.controller.log.close)


def _write_snapshots(snapshots: list[tuple[ProducerState, int, list[SnapshotEntry]]]) -> None:
    for state, end, entries in snapshots:
        state.write_snapshot(end, entries)


def _dir_ids(logs: LogManager) -> list[uuid.UUID]:
    """The log dirs' directory.id values (Kafka Uuid strings: URL-safe base64, no padding)."""
    return [
        uuid.UUID(bytes=base64.urlsafe_b64decode(directory_id + "=="))
        for directory_id in logs.directory_ids.values()
    ]
