"""The broker process: a validated config turned into listeners, dispatchers and a server.

:class:`Broker` is what ``ferrokafka serve`` and :mod:`ferrokafka.testing` run. It owns the
shutdown hooks (run after the last connection closed: the place to flush and close logs) and
knows the addresses it really listens on, so an advertised port 0 becomes the bound port.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ferrokafka.cluster import BrokerEndpoint
from ferrokafka.cluster.channel import ControllerChannel
from ferrokafka.cluster.client_quotas import QuotaImage
from ferrokafka.cluster.metadata_log import SingleVoterLog
from ferrokafka.cluster.scram_credentials import ScramCredential, ScramLookup
from ferrokafka.config import BrokerConfig, Endpoint
from ferrokafka.config.listeners import SECURITY_PROTOCOLS, TLS_PROTOCOLS
from ferrokafka.coordinator.clock import SYSTEM_WALL_CLOCK, WallClock
from ferrokafka.server.dir_assignments import DirAssignmentSender
from ferrokafka.server.handlers import (
    build_dispatchers,
    install_authorization,
    register_node_handlers,
)
from ferrokafka.server.handlers.controller_describe_cluster import (
    register_single_voter_describe_cluster,
)
from ferrokafka.server.handlers.describe_quorum import (
    register_broker_describe_quorum,
    register_single_voter_describe_quorum,
)
from ferrokafka.server.handlers.raft_voters import register_broker_voter_forwarding
from ferrokafka.server.kraft import KRaftNode, is_controller_only, uses_quorum
from ferrokafka.server.lifecycle import BrokerLifecycleManager
from ferrokafka.server.metrics import RequestMetrics, metrics_address
from ferrokafka.server.node import Node, node_cluster_id
from ferrokafka.server.quotas.rate import RateConfig
from ferrokafka.server.quotas.throttle import BrokerQuotas
from ferrokafka.server.sasl.listener import sasl_authenticators
from ferrokafka.server.server import (
    SHUTDOWN_GRACE_S,
    BoundAddress,
    ListenerSpec,
    Server,
    ServerLimits,
    ShutdownHook,
)
from ferrokafka.server.tls.listener import TlsListener
from ferrokafka.storage.dir_failure import io_errno

if TYPE_CHECKING:
    from ferrokafka.server.metrics.endpoint import MetricsEndpoint

log = logging.getLogger(__name__)
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


def halt_process(status: int) -> None:
    """Kafka's Exit.halt: end the process now, no shutdown hooks (the log line first)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(status)


# Errors that say the disk under a file is gone, not that a peer or a resource is.
DISK_FAILURE_ERRNOS = frozenset({errno.EIO, errno.EROFS})


def _disk_failure(exc: BaseException) -> OSError | None:
    """The disk error in ``exc`` or the exception groups it is in, else None."""
    if isinstance(exc, OSError) and io_errno(exc) in DISK_FAILURE_ERRNOS:
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _disk_failure(inner)
        if found is not None:
            return found
    return None


class Broker:
    """One node (broker, controller or both) serving the listeners of ``config``."""

    def __init__(
        self,
        config: BrokerConfig,
        *,
        shutdown_grace_s: float = SHUTDOWN_GRACE_S,
        controller_channel: ControllerChannel | None = None,
        cluster_id: str | None = None,
        wall_clock: WallClock = SYSTEM_WALL_CLOCK,
    ) -> None:
        self.config = config
        self._wall_clock = wall_clock
        # None: this node runs its own one-voter controller; else it is one broker of a
        # cluster whose controller is reached through the channel (ferrokafka.testing.cluster).
        self._controller_channel = controller_channel
        self._cluster_id = cluster_id
        self.dispatchers = build_dispatchers()
        controller_names = set(config.controller_listener_names)
        self.node: Node | None = None
        # What SASL/SCRAM asks for a user's credential: the metadata image's (SCRAM records,
        # kafka-configs --entity-type users, storage format --add-scram); none before the
        # node is open. Tests may set their own.
        self.scram_lookup: ScramLookup = self._image_scram_credential
        dispatcher_of = {
            ep.name: self.dispatchers["controller" if ep.name in controller_names else "broker"]
            for ep in config.listeners
        }
        authenticators = sasl_authenticators(
            config, dispatcher_of, lambda user, mechanism: self.scram_lookup(user, mechanism)
        )
        specs = [
            ListenerSpec(
                name=ep.name,
                host=ep.host,
                port=ep.port,
                dispatcher=dispatcher_of[ep.name],
                authenticator=authenticators.get(ep.name),
                # SSL and SASL_SSL: the keystore is read now, so a bad one stops the start
                # (TlsConfigError); SASL_SSL's principal is then the SASL one.
                tls=TlsListener(ep.name, self._config_in_force)
                if config.security_protocol_map.get(ep.name) in TLS_PROTOCOLS
                else None,
                quotas=ep.name not in controller_names,
                # Kafka serves clients and other brokers only once it has caught up with the
                # metadata and registered: a broker back from a crash must not answer as the
                # leader its stale metadata names (its log may have lost what it had not
                # synced, and a follower fetching from it would truncate to it).
                gated=ep.name not in controller_names,
            )
            for ep in config.listeners
        ]
        self._shutdown_hooks: list[ShutdownHook] = []
        # How the broker stops when every log dir failed (Kafka's Exit.halt); tests replace it.
        self.halt: Callable[[int], None] = halt_process
        # Registration and heartbeats, for a broker of a cluster (None for a single node).
        self.lifecycle: BrokerLifecycleManager | None = None
        # The quorum side of a KRaft cluster node (None for a single node, and for a broker
        # given its channel by the in-process cluster harness).
        self.kraft: KRaftNode | None = None
        self._kraft_scope = trio.CancelScope()
        self._nursery: trio.Nursery | None = None
        self._stopping = False
        # The metrics endpoint (server/metrics/), when ferrokafka.metrics.port is set.
        metrics_at = metrics_address(config)
        request_metrics = RequestMetrics() if metrics_at is not None else None
        self.server = Server(
            specs,
            ServerLimits.from_config(config, shutdown_grace_s=shutdown_grace_s),
            on_shutdown=self._run_shutdown_hooks,
            request_metrics=request_metrics,
            quotas=BrokerQuotas(
                self._client_quotas,
                RateConfig(
                    samples=int(config["quota.window.num"]),
                    window_ms=int(config["quota.window.size.seconds"]) * 1000,
                ),
            ),
        )
        self.metrics: MetricsEndpoint | None = None
        if metrics_at is not None and request_metrics is not None:
            from ferrokafka.server.metrics.endpoint import MetricsEndpoint  # prometheus_client

            self.metrics = MetricsEndpoint(self, request_metrics, *metrics_at)

    def _image_scram_credential(self, user: str, mechanism: str) -> ScramCredential | None:
        return None if self.node is None else self.node.image.scram.get((user, mechanism))

    def _config_in_force(self) -> BrokerConfig:
        """The static config with the dynamic layers of the newest image (once there is one):
        what TLS listeners build their contexts from, so a dynamic keystore change applies."""
        return self.node.broker_config() if self.node is not None else self.config

    def _client_quotas(self) -> QuotaImage:
        """The client quotas of the node's image (none before the node is up)."""
        return self.node.image.client_quotas if self.node is not None else {}

    @property
    def bound_addresses(self) -> list[BoundAddress]:
        return self.server.bound_addresses

    def add_shutdown_hook(self, hook: ShutdownHook) -> None:
        """Run ``hook`` at shutdown, after every connection closed; hooks run last-added
        first (what opened last closes first)."""
        self._shutdown_hooks.append(hook)

    def request_shutdown(self) -> None:
        """Begin the graceful shutdown; :meth:`run` returns when it is done. Never blocks.

        A broker of a cluster first asks the controller for a controlled shutdown and keeps
        serving meanwhile (clients of the partitions it led are told NOT_LEADER_OR_FOLLOWER
        and go to the new leaders), as Kafka's BrokerServer does; then it stops serving."""
        if self.lifecycle is not None and self._nursery is not None and not self._stopping:
            self._stopping = True
            self._nursery.start_soon(self._controlled_shutdown_then_stop)
            return
        self.server.request_shutdown()

    async def _controlled_shutdown_then_stop(self) -> None:
        assert self.lifecycle is not None
        try:
            await self.lifecycle.controlled_shutdown()
        finally:
            self.server.request_shutdown()

    async def run(
        self, *, task_status: trio.TaskStatus[list[BoundAddress]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Create the data directories, bind, report the bound addresses, serve until shut
        down; with metrics on, the metrics endpoint serves from the start to the end."""
        metrics = self.metrics
        if metrics is None:
            await self._run(task_status=task_status)
            return
        async with trio.open_nursery() as nursery:
            await nursery.start(metrics.serve)

            async def run_then_stop(task_status: trio.TaskStatus[list[BoundAddress]]) -> None:
                try:
                    await self._run(task_status=task_status)
                finally:
                    nursery.cancel_scope.cancel()  # the metrics endpoint stops with us

            bound = await nursery.start(run_then_stop)
            metrics.started = True
            task_status.started(bound)

    async def _run(
        self, *, task_status: trio.TaskStatus[list[BoundAddress]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        for path in [*self.config.log_dirs, self.config["metadata.log.dir"]]:
            if path:
                os.makedirs(path, exist_ok=True)
        log.info(
            "node %d (%s) starting, data in %s",
            self.config.node_id,
            "+".join(self.config.process_roles),
            ", ".join(self.config.log_dirs),
        )
        if self._controller_channel is None and uses_quorum(self.config):
            # A node of a KRaft cluster: the quorum, its controller if it is one, and the
            # channel to the active controller.
            cluster_id = self._cluster_id or node_cluster_id(self.config)
            self.kraft = KRaftNode(
                self.config,
                cluster_id,
                self.dispatchers["controller"],
                trio.lowlevel.current_trio_token(),
            )
            self._controller_channel = self.kraft.channel
            self._cluster_id = cluster_id
            if is_controller_only(self.config):
                await self._run_controller_only(task_status=task_status)
                return
        self.node = await Node.open(
            self.config, self._controller_channel, self._cluster_id, self._wall_clock
        )
        # Registered first so it runs last: logs close after every connection is gone.
        self.add_shutdown_hook(self.node.shutdown)
        token = trio.lowlevel.current_trio_token()
        self.node.logs.add_dir_failure_listener(
            lambda path: token.run_sync_soon(self._log_dir_failed, path)
        )
        if self.kraft is not None:
            # After the broker's controlled shutdown (its hook is added later), before the logs.
            self.add_shutdown_hook(self._stop_kraft)
        register_node_handlers(self.dispatchers, self.node, self.advertised_listeners)
        if self.kraft is not None and "broker" in self.config.process_roles:
            # As Kafka's brokers: DescribeQuorum goes on to the active controller.
            register_broker_describe_quorum(self.dispatchers["broker"], self.kraft.channel)
            register_broker_voter_forwarding(self.dispatchers["broker"], self.kraft.channel)
            self.kraft.report_kraft_version(self.dispatchers["broker"], lambda: self.node.image)
        elif self.node.own_controller is not None and isinstance(
            self.node.own_controller.log, SingleVoterLog
        ):
            register_single_voter_describe_quorum(
                [self.dispatchers["broker"], self.dispatchers["controller"]],
                self.config.node_id,
                self.node.own_controller.log,
                self._controller_endpoint,
            )
            register_single_voter_describe_cluster(
                self.dispatchers["controller"],
                self.config.node_id,
                self.node.cluster_id,
                self._controller_endpoint,
            )
        install_authorization(self.dispatchers["broker"], self.node)
        if self.node.own_controller is not None:
            # The single node's controller listener: its ACLs are the node's.
            install_authorization(self.dispatchers["controller"], self.node, controller=True)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self.kraft is not None:
                await nursery.start(self._run_kraft)
            await nursery.start(self._run_coordinator, "group")
            await nursery.start(self._run_coordinator, "txn")
            await nursery.start(self._run_coordinator, "share")
            # After the share coordinator, so it stops first (its writes go through it).
            await nursery.start(self._run_coordinator, "share-partitions")
            await nursery.start(self._run_replica_fetchers)
            await nursery.start(self._run_log_maintenance)
            bound = await nursery.start(self.server.serve)
            # Registration needs the real ports (a listener may ask for port 0).
            if self._controller_channel is None:
                # A single node: its own controller registers and unfences it at once.
                await self.node.register_broker(self._broker_endpoints())
            else:
                # One broker of a cluster: register, heartbeat, serve once unfenced.
                await nursery.start(self._run_lifecycle)
                await nursery.start(self._run_dir_assignments)
                assert self.lifecycle is not None
                await self.lifecycle.wait_unfenced()
            self.server.enable_request_processing()
            # Caught up with the metadata now: logs it does not place here are strays.
            await self.node.replicas.move_strays(self.node.image)
            task_status.started(bound)

    async def _run_controller_only(
        self, *, task_status: trio.TaskStatus[list[BoundAddress]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """A controller-only node: the quorum and its controller on the controller listeners,
        nothing of a broker (Kafka's ControllerServer without a BrokerServer)."""
        assert self.kraft is not None
        self.add_shutdown_hook(self._stop_kraft)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self._run_kraft)
            bound = await nursery.start(self.server.serve)
            task_status.started(bound)

    async def _run_kraft(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        assert self.kraft is not None
        self._kraft_scope = trio.CancelScope()
        try:
            with self._kraft_scope:
                await self.kraft.run(task_status=task_status)
        except Exception as exc:
            # The metadata log's disk failed (an append, fsync or read): Kafka halts ("Shutdown
            # broker because the metadata log dir ... has failed"), no clean shutdown.
            found = _disk_failure(exc)
            if found is None:
                raise
            self._metadata_dir_failed(found)

    def _metadata_dir_failed(self, exc: BaseException) -> None:
        log.critical(
            "shutdown broker because the metadata log dir %s has failed (%s)",
            self.config["metadata.log.dir"] or self.config.log_dirs[0],
            exc,
        )
        self.halt(1)

    async def _stop_kraft(self) -> None:
        assert self.kraft is not None
        await self.kraft.shutdown()
        self._kraft_scope.cancel()

    def _log_dir_failed(self, path: Path) -> None:
        """A log dir went offline (in trio's thread, handed over by the LogManager's
        listener): the controller hears of it now; once every dir failed, or the dir holding
        the metadata log, the broker halts as Kafka's does ("Shutdown broker because all log
        dirs ... have failed", "... the metadata log dir ... has failed"): no clean
        shutdown, whose checkpoints and flushes would only fail on the dead disks."""
        if self.lifecycle is not None:
            self.lifecycle.heartbeat_now()
        assert self.node is not None
        if not self.node.logs.online_dirs():
            log.critical(
                "shutdown broker because all log dirs in %s have failed",
                ", ".join(self.config.log_dirs),
            )
            self.halt(1)
            return
        metadata_dir = self.config["metadata.log.dir"] or self.config.log_dirs[0]
        if Path(metadata_dir).resolve() == path.resolve():
            # Kafka's handleLogDirFailure, after the all-dirs check: the metadata log is there.
            self._metadata_dir_failed(OSError(f"log dir {path} failed"))

    async def _run_lifecycle(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Register and heartbeat (Kafka's BrokerLifecycleManager) until shutdown (the
        controlled shutdown is :meth:`request_shutdown`'s; the hook, added last so it runs
        first, only covers a shutdown that did not go through it)."""
        assert self.node is not None and self._controller_channel is not None
        self.lifecycle = BrokerLifecycleManager(
            self.config,
            self._controller_channel,
            self.node.cluster_id,
            lambda: self.node.image.offset if self.node is not None else -1,
            previous_broker_epoch=self.node.logs.load_report.previous_broker_epoch,
        )
        self.lifecycle.offline_log_dirs = self.node.offline_log_dir_ids
        isr_manager = self.node.replicas.isr_manager
        if isr_manager is not None:
            lifecycle = self.lifecycle
            isr_manager.broker_epoch = lambda: lifecycle.broker_epoch
        scope = trio.CancelScope()

        async def stop() -> None:
            assert self.lifecycle is not None
            await self.lifecycle.controlled_shutdown()
            scope.cancel()

        self.add_shutdown_hook(stop)
        with scope:
            await self.lifecycle.run(
                self._broker_endpoints(), self.node.log_dir_ids(), task_status=task_status
            )

    async def _run_dir_assignments(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Send the controller where each replica's log lives (server/dir_assignments.py)
        until shutdown."""
        assert self.node is not None and self._controller_channel is not None
        lifecycle = self.lifecycle
        sender = DirAssignmentSender(
            self.config.node_id,
            self._controller_channel,
            self.node.logs,
            self.node.replicas,
            lambda: lifecycle.broker_epoch if lifecycle is not None else -1,
        )
        self.node.image_listeners.append(sender.image_applied)
        sender.image_applied(self.node.image)
        scope = trio.CancelScope()

        async def stop() -> None:
            scope.cancel()

        self.add_shutdown_hook(stop)
        with scope:
            await sender.run(task_status=task_status)

    async def _run_coordinator(
        self,
        kind: str,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the node's ``kind`` coordinator ("group": timers, offsets load and expiry;
        "txn": loads, markers, timeouts; "share": share-state loads; "share-partitions": the
        share-partitions' lock timers) until shutdown, which
        stops it before the logs close (hooks run last-added first)."""
        node = self.node
        coordinator = None
        if node is not None:
            coordinator = {
                "group": node.group_coordinator,
                "txn": node.txn_coordinator,
                "share": node.share_coordinator,
                "share-partitions": node.share_partitions,  # their lock timers
            }[kind]
        if coordinator is None:
            task_status.started()
            return
        scope = trio.CancelScope()

        async def stop() -> None:
            scope.cancel()

        self.add_shutdown_hook(stop)
        with scope:
            await coordinator.run(task_status=task_status)

    async def _run_replica_fetchers(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the replica fetchers (followers copying their leaders' logs) and the ISR
        manager (leaders' ISR changes) until shutdown, which stops them before the logs close."""
        replicas = self.node.replicas if self.node is not None else None
        if replicas is None or replicas.fetchers is None or replicas.isr_manager is None:
            task_status.started()
            return
        scope = trio.CancelScope()

        async def stop() -> None:
            scope.cancel()

        self.add_shutdown_hook(stop)
        with scope:
            async with trio.open_nursery() as nursery:
                await nursery.start(replicas.isr_manager.run)
                await nursery.start(replicas.fetchers.run)
                task_status.started()

    async def _run_log_maintenance(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the LogManager's periodic work (retention, the log cleaner, flushes,
        checkpoints) and the replica manager's high watermark checkpoints until shutdown,
        which stops them before the logs close."""
        assert self.node is not None
        scope = trio.CancelScope()

        async def stop() -> None:
            scope.cancel()

        self.add_shutdown_hook(stop)
        interval_ms = int(self.config["replica.high.watermark.checkpoint.interval.ms"])
        with scope:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.node.logs.run)
                nursery.start_soon(self.node.replicas.checkpoint_high_watermarks_every, interval_ms)
                task_status.started()

    def _broker_endpoints(self) -> list[BrokerEndpoint]:
        controller_names = set(self.config.controller_listener_names)
        return [
            BrokerEndpoint(
                ep.name,
                ep.host,
                ep.port,
                SECURITY_PROTOCOLS.index(self.config.security_protocol_map[ep.name]),
            )
            for ep in self.advertised_listeners()
            if ep.name not in controller_names
        ]

    def advertised_listeners(self) -> list[Endpoint]:
        """The advertised endpoints with what binding decided filled in: port 0 becomes the
        bound port, an empty host the bound address (what clients are told to connect to)."""
        return [_resolve(ep, self.bound_addresses) for ep in self.config.advertised_listeners]

    def _controller_endpoint(self) -> tuple[str, str, int] | None:
        """The first controller listener as bound (a single node's voter endpoint)."""
        names = self.config.controller_listener_names
        for endpoint in self.config.listeners:
            if names and endpoint.name == names[0]:
                resolved = _resolve(endpoint, self.bound_addresses)
                return (resolved.name, resolved.host, resolved.port)
        return None

    async def _run_shutdown_hooks(self) -> None:
        for hook in reversed(self._shutdown_hooks):
            try:
                await hook()
            except Exception:  # one failing hook must not stop the others closing their files
                log.exception("shutdown hook %r failed", hook)


def _resolve(endpoint: Endpoint, bound: Sequence[BoundAddress]) -> Endpoint:
    if endpoint.port != 0 and endpoint.host:
        return endpoint
    mine = [address for address in bound if address.listener_name == endpoint.name]
    if not mine:
        return endpoint
    host = endpoint.host or mine[0].host
    if host in _WILDCARD_HOSTS:
        # Kafka advertises the machine's canonical host name for a wildcard listener.
        host = socket.getfqdn()
    return Endpoint(endpoint.name, host, endpoint.port or mine[0].port)
