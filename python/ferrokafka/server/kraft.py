"""A node of a KRaft cluster: its Raft driver on ``__cluster_metadata``, the controller it runs
when it is one of the voters (active while it leads the quorum), and the broker's side — the
metadata it learns from the log and the channel to whichever controller is active.

What a cluster node is (as Kafka's ``KafkaRaftServer`` with ``SharedServer``):

- **The quorum**: a :class:`RaftDriver` — a voter when ``node.id`` is in
  ``controller.quorum.voters``, else an observer that only fetches the log. Its requests are
  answered on the controller listeners (:mod:`ferrokafka.server.handlers.raft`).
- **The controller** (``process.roles`` has ``controller``): a :class:`Controller` over a
  :class:`RaftMetadataLog`. While another voter leads, its image follows what commits; when
  this node becomes the leader and its own leader-change record is committed, it activates —
  catches up, writes the bootstrap records on a new cluster, learns the registrations — and
  answers on the controller listeners until it loses the lead (NOT_CONTROLLER meanwhile and
  after). It fences brokers whose sessions expire only while active.
- **The broker** (``broker`` in ``process.roles``): images from a :class:`LogMetadataFeed` of the
  committed log, and a :class:`RemoteControllerChannel` to the active controller (this node's
  own included: as in Kafka, a combined node's broker reaches its controller through the
  controller listener).

Which configurations are clusters: see :func:`uses_quorum`. Anything else is the single node
of today (one voter, :class:`~ferrokafka.cluster.SingleVoterLog`).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Mapping

import trio

from ferrokafka.cluster.bootstrap import (
    bootstrap_snapshot_path,
    read_bootstrap_levels,
    read_bootstrap_scram,
)
from ferrokafka.cluster.channel import InProcessControllerChannel
from ferrokafka.cluster.connector import node_connectors
from ferrokafka.cluster.controller import Controller
from ferrokafka.cluster.feature_levels import KRAFT_VERSION_FEATURE
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.metadata_feed import LogMetadataFeed
from ferrokafka.cluster.raft.driver import NO_DIRECTORY_ID, RaftDriver
from ferrokafka.cluster.raft.metadata_log import NotActiveControllerError, RaftMetadataLog
from ferrokafka.cluster.raft.native_log import StoredBatch
from ferrokafka.cluster.raft.quorum import QuorumConfig
from ferrokafka.cluster.raft.voters import VoterEndpoint
from ferrokafka.cluster.remote_channel import RemoteControllerChannel
from ferrokafka.cluster.snapshot_file import SnapshotFileError, read_snapshot
from ferrokafka.cluster.snapshot_generator import SnapshotGenerator, SnapshotPolicy
from ferrokafka.config import BrokerConfig
from ferrokafka.protocol import API_VERSIONS_KEY
from ferrokafka.protocol.messages.describe_acls import DescribeAclsRequest
from ferrokafka.protocol.messages.describe_configs import DescribeConfigsRequest
from ferrokafka.server.authorize import StandardAuthorizer, build_authorizer
from ferrokafka.server.controller_registration import ControllerRegistrationManager
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.acls import DescribeAclsHandler
from ferrokafka.server.handlers.api_versions import ApiVersionsHandler
from ferrokafka.server.handlers.configs import DescribeConfigsHandler
from ferrokafka.server.handlers.controller_admin import register_controller_admin_handlers
from ferrokafka.server.handlers.controller_describe_cluster import (
    register_controller_describe_cluster,
)
from ferrokafka.server.handlers.describe_quorum import register_controller_describe_quorum
from ferrokafka.server.handlers.raft import register_raft_handlers
from ferrokafka.server.handlers.raft_voters import register_voter_change_handlers
from ferrokafka.storage import LogClosedError
from ferrokafka.storage.checkpoints import META_PROPERTIES, parse_kafka_uuid, read_meta_properties

log = logging.getLogger(__name__)


def uses_quorum(config: BrokerConfig) -> bool:
    """Whether this node is part of a KRaft quorum over the network: a static
    ``controller.quorum.voters`` naming another node, or a node with only one of the roles (a
    broker-only node observes another's quorum; a controller-only node's voters serve
    brokers in other processes, as Kafka's). A dynamic quorum
    (``controller.quorum.bootstrap.servers``, KIP-853) is one for a node with one role, or a
    combined node formatted for it (``--standalone``, ``--initial-controllers``,
    ``--no-initial-controllers``: kraft.version 1 in the bootstrap checkpoint); the built-in
    single node, formatted by itself at kraft.version 0, stays the single voter."""
    voters = config.quorum_voters
    combined = set(config.process_roles) == {"broker", "controller"}
    if not voters:
        return bool(config.quorum_bootstrap_servers) and (not combined or formatted_dynamic(config))
    return any(v.node_id != config.node_id for v in voters) or not combined


def formatted_dynamic(config: BrokerConfig) -> bool:
    """Whether the metadata directory's bootstrap checkpoint says kraft.version 1 or more."""
    path = bootstrap_snapshot_path(metadata_dir(config))
    if not path.exists():
        return False
    try:
        return read_snapshot(path).kraft_version >= 1
    except (OSError, SnapshotFileError):
        return False


def local_voter_endpoints(config: BrokerConfig) -> tuple[VoterEndpoint, ...]:
    """This controller's listeners as a voter is listed (Kafka's localListeners: the
    controller listeners as advertised, else as bound; no host means ``localhost``)."""
    found: list[VoterEndpoint] = []
    for name in config.controller_listener_names:
        for endpoints in (config.advertised_listeners, config.listeners):
            match = [e for e in endpoints if e.name == name]
            if match:
                found.append(VoterEndpoint(name, match[0].host or "localhost", match[0].port))
                break
    return tuple(found)


def is_controller_only(config: BrokerConfig) -> bool:
    """``process.roles=controller``: no broker side at all (no client listener, no logs of
    its own partitions, no registration), as Kafka's ControllerServer alone."""
    return "broker" not in config.process_roles


def quorum_config(config: BrokerConfig) -> QuorumConfig:
    """Kafka's ``controller.quorum.*`` keys as the Raft core takes them."""
    return QuorumConfig(
        election_timeout_ms=int(config["controller.quorum.election.timeout.ms"]),
        fetch_timeout_ms=int(config["controller.quorum.fetch.timeout.ms"]),
        election_backoff_max_ms=int(config["controller.quorum.election.backoff.max.ms"]),
        request_timeout_ms=int(config["controller.quorum.request.timeout.ms"]),
        retry_backoff_ms=int(config["controller.quorum.retry.backoff.ms"]),
    )


def snapshot_policy(config: BrokerConfig) -> SnapshotPolicy:
    """Kafka's ``metadata.log.max.*`` and ``metadata.max.retention.*`` keys."""
    return SnapshotPolicy(
        max_bytes_between=int(config["metadata.log.max.record.bytes.between.snapshots"]),
        max_interval_ms=int(config["metadata.log.max.snapshot.interval.ms"]),
        retention_bytes=int(config["metadata.max.retention.bytes"]),
        retention_ms=int(config["metadata.max.retention.ms"]),
    )


def metadata_dir(config: BrokerConfig) -> str:
    return str(config["metadata.log.dir"] or config.log_dirs[0])


def metadata_directory_id(config: BrokerConfig) -> uuid.UUID:
    """The metadata directory's ``directory.id`` (what this replica fetches with, and the
    leader reports of an observer), or Kafka's NO_DIRECTORY_ID if it has none."""
    directory = os.path.join(metadata_dir(config), META_PROPERTIES)
    meta = read_meta_properties(directory)
    if meta is None or meta.directory_id is None:
        return NO_DIRECTORY_ID
    return parse_kafka_uuid(meta.directory_id)


def install_controller_gates(dispatcher: Dispatcher, authorizer: StandardAuthorizer | None) -> None:
    """Kafka's ControllerApis checks in front of the controller listener's handlers (nothing
    without an authorizer; the gates' module, which imports every message, only then)."""
    if authorizer is not None:
        from ferrokafka.server.authorize_gates import install_gates

        install_gates(dispatcher, authorizer, controller=True)


class ControllerView:
    """What DescribeAcls and DescribeConfigs on a controller listener read: the controller's
    authorizer and image, and this node's config (Kafka's controller-side AclApis and
    ConfigHelper)."""

    def __init__(self, node: KRaftNode) -> None:
        self._node = node

    @property
    def authorizer(self) -> StandardAuthorizer | None:
        return self._node.authorizer

    @property
    def image(self) -> MetadataImage:
        assert self._node.controller is not None
        return self._node.controller.image

    @property
    def config(self) -> BrokerConfig:
        return self._node.config


class KRaftNode:
    """The quorum-facing parts of one cluster node; trio thread only."""

    def __init__(
        self,
        config: BrokerConfig,
        cluster_id: str,
        controller_dispatcher: Dispatcher,
        trio_token: trio.lowlevel.TrioToken,
    ) -> None:
        self.config = config
        self.cluster_id = cluster_id
        self.driver = RaftDriver(
            node_id=config.node_id,
            voters={v.node_id: (v.host, v.port) for v in config.quorum_voters},
            bootstrap_servers=[] if config.quorum_voters else config.quorum_bootstrap_servers,
            endpoints=local_voter_endpoints(config) if "controller" in config.process_roles else (),
            cluster_id=cluster_id,
            metadata_dir=metadata_dir(config),
            config=quorum_config(config),
            listener_name=config.controller_listener_names[0],
            directory_id=metadata_directory_id(config),
            segment_bytes=int(config["metadata.log.segment.bytes"]),
            connector=node_connectors(config).controller,
        )
        self.metadata_log = RaftMetadataLog(self.driver, trio_token)
        # Snapshots of the image this node applied (controllers and brokers alike, as Kafka).
        self.snapshots = SnapshotGenerator(self.driver, snapshot_policy(config))
        self.feed = LogMetadataFeed(self.metadata_log)
        self.channel = RemoteControllerChannel(
            config.node_id,
            self.locate,
            self.feed,
            lifecycle_request_timeout_s=int(config["broker.session.timeout.ms"]) / 1000 / 2,
            connector=node_connectors(config).controller,
        )
        self.controller: Controller | None = None
        # The controller's authorizer (None without authorizer.class.name, or without a
        # controller).
        self.authorizer: StandardAuthorizer | None = None
        self.controller_channel: InProcessControllerChannel | None = None
        self._active = False
        self._committed = trio.Event()
        # Registers this controller with the active one (Kafka's ControllerRegistrationManager).
        self.controller_registration = ControllerRegistrationManager(
            config, self.channel, self.feed
        )
        if "controller" in config.process_roles:
            self.controller = Controller(
                config,
                self.metadata_log,
                cluster_id=cluster_id,
                bootstrap_levels=read_bootstrap_levels(metadata_dir(config)),
                bootstrap_scram=read_bootstrap_scram(metadata_dir(config)),
            )
            self.controller_channel = InProcessControllerChannel(self.controller)
            register_raft_handlers(controller_dispatcher, self.driver)
            register_voter_change_handlers(controller_dispatcher, self.driver)
            register_controller_describe_quorum(controller_dispatcher, self.driver)
            controller = self.controller
            register_controller_describe_cluster(
                controller_dispatcher, self.driver, cluster_id, lambda: controller.image.controllers
            )
            register_controller_admin_handlers(
                controller_dispatcher, self.controller_channel, self.is_active, update_features=True
            )
            api_versions = controller_dispatcher.handler_for(API_VERSIONS_KEY)
            if isinstance(api_versions, ApiVersionsHandler):
                # Kafka's ControllerApis reports the controller's own finalized levels.
                api_versions.set_finalized(
                    lambda: (
                        self.with_kraft_version(controller.image.features),
                        controller.image.offset,
                    )
                )
            # Kafka's ControllerApis authorize with the controller's own authorizer, over the
            # ACLs of the controller's image (a standby's follows the committed log too).
            self.authorizer = build_authorizer(config, lambda: controller.image)
            view = ControllerView(self)
            controller_dispatcher.register(DescribeAclsRequest.API_KEY, DescribeAclsHandler(view))
            controller_dispatcher.register(
                DescribeConfigsRequest.API_KEY, DescribeConfigsHandler(view)
            )
            install_controller_gates(controller_dispatcher, self.authorizer)

    # -- what the broker and the handlers ask ------------------------------------------------

    def with_kraft_version(self, features: Mapping[str, int]) -> Mapping[str, int]:
        """Finalized levels with the quorum's kraft.version when above 0, as Kafka's
        KRaftMetadataCache.features reports them (ApiVersions of brokers and controllers)."""
        level = self.driver.kraft_version()
        return {**features, KRAFT_VERSION_FEATURE: level} if level > 0 else features

    def report_kraft_version(
        self, dispatcher: Dispatcher, image: Callable[[], MetadataImage]
    ) -> None:
        """A broker listener's ApiVersions: its image's levels with the quorum's kraft.version."""
        api_versions = dispatcher.handler_for(API_VERSIONS_KEY)
        if isinstance(api_versions, ApiVersionsHandler):
            api_versions.set_finalized(
                lambda: (self.with_kraft_version(image().features), image().offset)
            )

    def is_active(self) -> bool:
        """Whether this node's controller is the active one now."""
        return self._active and self.driver.is_leader

    def locate(self) -> tuple[str, int] | None:
        """The active controller's controller-listener address, as the quorum knows it."""
        found = self.driver.leader_endpoint()
        if found is None:
            return None
        _, endpoint = found
        return (endpoint.host, endpoint.port)

    # -- running -----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        os.makedirs(metadata_dir(self.config), exist_ok=True)
        async with trio.open_nursery() as nursery:
            await nursery.start(self.driver.run)
            self.driver.add_committed_listener(self._on_committed)
            self.driver.add_committed_listener(self.snapshots.on_committed)
            await self.feed.subscribe(self.snapshots.publish)
            nursery.start_soon(self.snapshots.run)
            nursery.start_soon(self._apply_commits)
            if self.controller is not None:
                nursery.start_soon(self._follow_leadership)
                nursery.start_soon(self.controller_registration.run)
            task_status.started()

    async def shutdown(self) -> None:
        """Hand leadership over (EndQuorumEpoch) and stop the driver."""
        self._active = False
        await self.channel.aclose()
        await self.driver.shutdown()

    def _on_committed(self, batch: StoredBatch) -> None:
        self._committed.set()

    async def _apply_commits(self) -> None:
        """The log committed more: the broker's images (and a standby controller's) follow.
        Ends when the driver closed the log under a catch-up: the driver is gone (a clean
        shutdown closes the log once it stopped, and a catch-up runs in a worker thread that
        the shutdown's cancellation cannot interrupt)."""
        while True:
            await self._committed.wait()
            self._committed = trio.Event()
            try:
                await self.feed.committed()
            except LogClosedError:
                log.info("metadata log closed: no more images")
                return
            if self.controller_channel is not None and not self._active:
                await self.controller_channel.catch_up()

    async def _follow_leadership(self) -> None:
        """Activate the controller when this node leads and its epoch's first record is
        committed; deactivate it (and its session timers) when the lead is lost."""
        assert self.controller_channel is not None
        while True:
            if not self.driver.is_leader:
                self._active = False
                await self.driver.wait_leadership_change()
                continue
            epoch = self.driver.epoch
            assert self.driver.log is not None
            # The leader-change record of this epoch is at or before the log end now: once
            # the high watermark passes it, everything earlier is committed too.
            epoch_start = self.driver.log.end_offset() - 1
            with trio.move_on_after(self.config_election_timeout_s()) as waited:
                await self.driver.wait_committed(epoch_start)
            if waited.cancelled_caught or self.driver.epoch != epoch or not self.driver.is_leader:
                continue
            try:
                await self.controller_channel.activate()
            except NotActiveControllerError as exc:
                # The lead was lost (or handed over at shutdown) before the bootstrap or
                # activation records committed: a standby again, not a crash.
                log.info(
                    "node %d: activation in epoch %d abandoned: %s", self.config.node_id, epoch, exc
                )
                continue
            self._active = True
            log.info("node %d is the active controller (epoch %d)", self.config.node_id, epoch)
            async with trio.open_nursery() as timers:
                timers.start_soon(self.controller_channel.run_timers)
                while self.driver.is_leader and self.driver.epoch == epoch:
                    await self.driver.wait_leadership_change()
                self._active = False
                timers.cancel_scope.cancel()
            log.info("node %d is no longer the active controller", self.config.node_id)

    def config_election_timeout_s(self) -> float:
        return int(self.config["controller.quorum.election.timeout.ms"]) / 1000
