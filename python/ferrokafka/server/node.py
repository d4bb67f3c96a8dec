"""The node's state that request handlers share: the configuration (static and dynamic), the
metadata controller and its image, the partition logs (LogManager) and the hosted partitions
(:class:`ferrokafka.partition.ReplicaManager`, which owns every :class:`Partition`).

One node is broker and controller at once. Every controller operation runs here, then the new
image is applied to the ReplicaManager, so handlers see partitions and image change together.

Threading: the controller and the LogManager are synchronous and block on fsyncs; they run in
worker threads (``trio.to_thread``), one controller operation at a time (``_controller_lock``),
and every change to the partition map happens back in the trio thread after the operation
returned, so handlers never see a half-applied image.

Idempotent producers: producer ids come from blocks the controller records in the metadata log.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import trio

from ferrokafka.cluster import BrokerEndpoint, Controller, MetadataImage, SingleVoterLog
from ferrokafka.config import BrokerConfig
from ferrokafka.partition import Partition, ReplicaManager
from ferrokafka.storage import LogConfig, LogManager
from ferrokafka.storage import checkpoints as ckpt

if TYPE_CHECKING:
    from ferrokafka.groups.coordinator import GroupCoordinator

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


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
        self.replicas = ReplicaManager(config.node_id, logs)
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

    def partition(self, topic: str, index: int) -> Partition | None:
        """The hosted partition (leader or follower), for inspection; requests ask
        ``replicas.leader_partition_or_error`` for Kafka's error codes."""
        return self.replicas.partition(topic, index)

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
        """Apply the image to the hosted partitions (logs opened, leadership, configs)."""
        broker = self.broker_config()  # once per sync: it parses every key
        await self.replicas.apply_image(
            self.image, lambda name: self.log_config(name, broker), self.min_insync_replicas
        )

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
        """Snapshot every partition's producer state and checkpoint high watermarks, flush and
        close every partition log, write checkpoints and the clean-shutdown marker, then close
        the metadata log."""
        await self.replicas.shutdown()
        epoch = self.image.broker(self.config.node_id)
        await trio.to_thread.run_sync(
            lambda: self.logs.shutdown(epoch.broker_epoch if epoch is not None else -1)
        )
        await trio.to_thread.run_sync(self.controller.log.close)


def _dir_ids(logs: LogManager) -> list[uuid.UUID]:
    """The log dirs' directory.id values (Kafka Uuid strings: URL-safe base64, no padding)."""
    return [
        uuid.UUID(bytes=base64.urlsafe_b64decode(directory_id + "=="))
        for directory_id in logs.directory_ids.values()
    ]
