"""The node's state that request handlers share: the configuration (static and dynamic), the
metadata controller and its image, the partition logs (LogManager) and the hosted partitions
(:class:`ferrokafka.partition.ReplicaManager`, which owns every :class:`Partition`).

One node is broker and controller at once. Every controller operation runs here, then the new
image is applied to the ReplicaManager, so handlers see partitions and image change together.

Threading: the controller and the LogManager are synchronous and block on fsyncs; they run in
worker threads (``trio.to_thread``), one controller operation at a time (the ControllerChannel),
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
from typing import TYPE_CHECKING

import trio

from ferrokafka.cluster import BrokerEndpoint, Controller, MetadataImage, SingleVoterLog
from ferrokafka.cluster.bootstrap import BootstrapError, read_bootstrap_scram
from ferrokafka.cluster.channel import ControllerChannel, InProcessControllerChannel
from ferrokafka.cluster.controller import SINGLE_NODE_BOOTSTRAP_LEVELS
from ferrokafka.cluster.records import UserScramCredentialRecord
from ferrokafka.cluster.single_voter_snapshots import SingleVoterSnapshotWriter
from ferrokafka.config import BrokerConfig
from ferrokafka.coordinator.clock import SYSTEM_WALL_CLOCK, WallClock
from ferrokafka.partition import Partition, ReplicaManager
from ferrokafka.partition.follower_fetch import FetcherConfig
from ferrokafka.partition.isr_manager import IsrManager
from ferrokafka.partition.replica_fetcher import ReplicaFetcherManager
from ferrokafka.server.authorize import StandardAuthorizer, build_authorizer
from ferrokafka.share.manager import SharePartitionManager
from ferrokafka.share.persister import InMemoryPersister, Persister
from ferrokafka.storage import LogConfig, LogManager
from ferrokafka.storage import checkpoints as ckpt

if TYPE_CHECKING:
    from ferrokafka.groups.coordinator import GroupCoordinator
    from ferrokafka.share.coordinator import ShareCoordinator
    from ferrokafka.txn.coordinator import TransactionCoordinator
    from ferrokafka.txn.verification import TxnPartitionVerifier

log = logging.getLogger(__name__)


def node_cluster_id(config: BrokerConfig) -> str:
    """The cluster id recorded in the first log dir's meta.properties, or a new one."""
    for log_dir in config.log_dirs:
        try:
            meta = ckpt.read_meta_properties(Path(log_dir) / ckpt.META_PROPERTIES)
        except OSError:  # a failed disk: the LogManager takes the dir offline
            continue
        if meta is not None:
            return meta.cluster_id
    return ckpt.random_directory_id()


class Node:
    """Everything a request handler may read or change, opened by :meth:`open`."""

    def __init__(
        self,
        config: BrokerConfig,
        logs: LogManager,
        channel: ControllerChannel,
        cluster_id: str,
        *,
        own_controller: Controller | None = None,
        wall_clock: WallClock = SYSTEM_WALL_CLOCK,
    ) -> None:
        self.config = config
        # What coordinator records are stamped with; tests inject a ManualWallClock.
        self.wall_clock = wall_clock
        self.logs = logs
        # Everything this broker asks of the controller; images come back through _publish.
        self.controller_channel = channel
        # The controller this node runs itself (closed at shutdown), or None when it is a
        # broker of a cluster whose controller lives elsewhere (the in-process harness).
        self.own_controller = own_controller
        self.cluster_id = cluster_id
        self._image: MetadataImage = MetadataImage()
        # ACL checks (server/authorize.py): None without authorizer.class.name, allowing all.
        self.authorizer: StandardAuthorizer | None = build_authorizer(config, lambda: self._image)
        self.replicas = ReplicaManager(config.node_id, logs)
        listener = config.inter_broker_listener_name
        if listener is not None:
            fetching = FetcherConfig.from_broker_config(config)
            self.replicas.fetchers = ReplicaFetcherManager(config.node_id, listener, fetching)
            self.replicas.isr_manager = IsrManager(
                config.node_id,
                fetching.lag_max_ms,
                channel.alter_partition,
                self.replicas.partitions,
                lambda: self._image,
            )
        self._producer_ids: range = range(0)
        self._producer_id_lock = trio.Lock()
        # Set by the group handlers' registration (groups.GroupCoordinator); run by the Broker.
        self.group_coordinator: GroupCoordinator | None = None
        # Set by the transaction handlers' registration (txn.TransactionCoordinator): asked by
        # the produce path before a transaction's first batch on a partition (KIP-890).
        self.txn_verifier: TxnPartitionVerifier | None = None
        # Set by the same registration; run by the Broker (InitProducerId and FindCoordinator
        # ask it about transactional ids).
        self.txn_coordinator: TransactionCoordinator | None = None
        # The share-group state persister (share.persister contract): share-partition leaders
        # read and write each share-partition's durable state through it. In memory until the
        # share coordinator's registration replaces it with the ``__share_group_state`` one.
        self.share_persister: Persister = InMemoryPersister()
        # Set by the share-state handlers' registration (share.ShareCoordinator, run by the
        # Broker): the state RPCs, FindCoordinator key type 2, and the durable persister.
        self.share_coordinator: ShareCoordinator | None = None
        # The share-partition leaders and share sessions (handlers/share.py makes it).
        self.share_partitions: SharePartitionManager | None = None
        # min.insync.replicas by topic, valid for the image it was computed from: a metadata
        # image is immutable and every config change (topic or broker, static defaults aside)
        # makes a new one, so a new image empties it. At most one entry per topic of the image.
        self._broker_config_image: object = None
        self._broker_config: BrokerConfig | None = None
        self._min_insync_image: object = None
        self._min_insync: dict[str, int] = {}
        # Told each image once the hosted partitions follow it (the dir assignments' sender).
        self.image_listeners: list[Callable[[MetadataImage], None]] = []

    @classmethod
    async def open(
        cls,
        config: BrokerConfig,
        channel: ControllerChannel | None = None,
        cluster_id: str | None = None,
        wall_clock: WallClock = SYSTEM_WALL_CLOCK,
    ) -> Node:
        """Open the partition logs (in worker threads) and subscribe to the metadata; without
        a ``channel``, this node runs its own one-voter controller (replaying its log)."""
        cluster_id = cluster_id if cluster_id is not None else node_cluster_id(config)
        logs = await trio.to_thread.run_sync(
            lambda: LogManager.from_broker_config(config, cluster_id=cluster_id)
        )
        own = None
        if channel is None:
            metadata_dir = config["metadata.log.dir"] or config.log_dirs[0]
            segment_bytes = int(config["metadata.log.segment.bytes"])
            metadata_log = await trio.to_thread.run_sync(
                lambda: SingleVoterLog(metadata_dir, segment_bytes=segment_bytes)
            )
            scram = await trio.to_thread.run_sync(_formatted_scram, metadata_dir)
            own = Controller(
                config,
                metadata_log,
                bootstrap_levels=SINGLE_NODE_BOOTSTRAP_LEVELS,
                bootstrap_scram=scram,
            )
            await trio.to_thread.run_sync(own.start)
            channel = InProcessControllerChannel(own)
        node = cls(config, logs, channel, cluster_id, own_controller=own, wall_clock=wall_clock)
        await channel.subscribe(node._publish)
        if own is not None:
            # The single node snapshots its metadata as a cluster node does (Kafka's keys).
            from ferrokafka.server.kraft import snapshot_policy

            writer = SingleVoterSnapshotWriter(metadata_log.snapshots, snapshot_policy(config))
            await channel.subscribe(writer.publish)
        return node

    async def _publish(self, image: MetadataImage) -> None:
        """A new metadata image (the publisher the channel calls): handlers see it, and the
        hosted partitions follow it, before the operation that made it is answered."""
        self._image = image
        await self._sync_partitions()
        for listener in self.image_listeners:
            listener(image)

    @property
    def image(self) -> MetadataImage:
        """The newest metadata image published to this broker."""
        return self._image

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

    def verifier(self) -> TxnPartitionVerifier | None:
        """What a leader asks before a transaction's first batch on a partition (KIP-890),
        or None: no transaction coordinator, or ``transaction.partition.verification.enable``
        is false (dynamic, as in Kafka)."""
        verifier = self.txn_verifier
        if verifier is None:
            return None
        enabled = self.broker_config()["transaction.partition.verification.enable"]
        return verifier if enabled else None

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

    def log_dir_ids(self) -> list[uuid.UUID]:
        """The directory.id of every log dir (what a broker registers with)."""
        return _dir_ids(self.logs)

    def offline_log_dir_ids(self) -> list[uuid.UUID]:
        """The directory.id of every failed log dir (the heartbeat's offline_log_dirs)."""
        offline = {str(d) for d in self.logs.offline_dirs}
        return [
            uuid.UUID(bytes=base64.urlsafe_b64decode(directory_id + "=="))
            for path, directory_id in self.logs.directory_ids.items()
            if path in offline
        ]

    async def register_broker(self, endpoints: Sequence[BrokerEndpoint]) -> None:
        await self.controller_channel.register_broker(
            self.config.node_id, endpoints, _dir_ids(self.logs)
        )

    async def next_producer_id(self) -> int:
        """A producer id never handed out before, from the current block or a new one."""
        async with self._producer_id_lock:
            if not self._producer_ids:
                registration = self.image.broker(self.config.node_id)
                broker_epoch = registration.broker_epoch if registration is not None else -1
                self._producer_ids = await self.controller_channel.allocate_producer_ids(
                    self.config.node_id, broker_epoch
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
        self.controller_channel.unsubscribe(self._publish)
        if self.own_controller is not None:
            await trio.to_thread.run_sync(self.own_controller.log.close)


def _dir_ids(logs: LogManager) -> list[uuid.UUID]:
    """The log dirs' directory.id values (Kafka Uuid strings: URL-safe base64, no padding)."""
    return [
        uuid.UUID(bytes=base64.urlsafe_b64decode(directory_id + "=="))
        for directory_id in logs.directory_ids.values()
    ]


def _formatted_scram(metadata_dir: str) -> list[UserScramCredentialRecord]:
    """The credentials ``storage format --add-scram`` left for the one-voter controller's first
    start (none when the directory was not formatted so). This node has always started at its
    own feature levels whatever the snapshot says, so an unreadable snapshot is not fatal here:
    it is logged and no credential is added."""
    try:
        return read_bootstrap_scram(metadata_dir)
    except BootstrapError as exc:
        log.warning("no SCRAM credentials from the bootstrap snapshot: %s", exc)
        return []
