"""Listeners and the connections they accept, with a cap and a graceful shutdown.

Knows nothing about Kafka's APIs: each listener gets a :class:`Dispatcher` and a name, and the
server accepts, counts and closes connections (hypercorn's ``trio/run.py`` shape: one nursery
for listeners, one for connections, ``task_status.started`` once bound).

Shutdown, on :meth:`Server.request_shutdown`: stop accepting (the listening sockets close),
tell every connection to read no more requests, give them ``shutdown_grace_s`` to answer
what is in flight, cancel whatever is left, then run the ``on_shutdown`` hook (the broker
flushes and closes its logs there), shielded and bounded.
"""

from __future__ import annotations

import errno
import functools
import itertools
import logging
import math
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from ferrokafka.config import BrokerConfig
from ferrokafka.protocol.principal import KafkaPrincipal
from ferrokafka.server.connection import Connection, ConnectionLimits
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.fd_reserve import FdReserve
from ferrokafka.server.metrics import RequestMetrics
from ferrokafka.server.quotas.connections import ConnectionsPerIp, normalized, parse_overrides
from ferrokafka.server.quotas.rate import (
    DEFAULT_RATE_CONFIG,
    RateConfig,
    SampledRate,
    record_and_throttle,
)
from ferrokafka.server.quotas.throttle import BrokerQuotas
from ferrokafka.server.tls.listener import HandshakeFailed, TlsListener

if TYPE_CHECKING:
    from ferrokafka.server.sasl import SaslAuthenticator

log = logging.getLogger(__name__)

# How long in-flight requests get to be answered once shutdown starts. Kafka's own controlled
# shutdown is much longer because it moves leadership first; with nothing to move, answering
# what is in flight (a long-poll fetch waits at most its max_wait, 500 ms by default) is enough.
SHUTDOWN_GRACE_S = 5.0
# The shutdown hook flushes and closes logs: bounded so a stuck disk cannot hang exit forever.
SHUTDOWN_HOOK_TIMEOUT_S = 60.0
# accept() errors that mean "out of file descriptors or memory", not "listener broken": wait a
# moment for connections to close and try again (trio's serve_listeners does the same).
ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
ACCEPT_RETRY_SLEEP_S = 0.1

ShutdownHook = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ServerLimits:
    """Bounds of the whole server; see also :class:`ConnectionLimits`."""

    connection: ConnectionLimits
    connections_max: int = 2**31 - 1  # max.connections
    connections_per_ip: int = 2**31 - 1  # max.connections.per.ip
    # max.connections.per.ip.overrides: IP address -> limit
    connections_per_ip_overrides: Mapping[str, int] = field(default_factory=dict)
    # max.connection.creation.rate (new connections per second, all listeners), measured
    # over the client quotas' window (quota.window.num x quota.window.size.seconds)
    connection_creation_rate: int = 2**31 - 1
    rate_window: RateConfig = DEFAULT_RATE_CONFIG
    # listener.name.<listener>.max.connections and .max.connection.creation.rate (Kafka's
    # listener-level limits, applied besides the broker-wide ones), by listener name
    listener_connections_max: Mapping[str, int] = field(default_factory=dict)
    listener_creation_rate: Mapping[str, int] = field(default_factory=dict)
    # inter.broker.listener.name when the broker has other listeners: Kafka's protected one,
    # to which the broker-wide max.connections and max.connection.creation.rate do not apply
    protected_listener: str | None = None
    listen_backlog: int = 50  # socket.listen.backlog.size
    # SO_SNDBUF / SO_RCVBUF of client sockets (socket.send.buffer.bytes,
    # socket.receive.buffer.bytes); None: the OS default (Kafka's -1).
    send_buffer_bytes: int | None = None
    receive_buffer_bytes: int | None = None
    shutdown_grace_s: float = SHUTDOWN_GRACE_S

    @classmethod
    def from_config(
        cls, config: BrokerConfig, *, shutdown_grace_s: float = SHUTDOWN_GRACE_S
    ) -> ServerLimits:
        idle_ms = int(config["connections.max.idle.ms"])
        return cls(
            connection=ConnectionLimits(
                frame_bytes_max=int(config["socket.request.max.bytes"]),
                # Kafka's Selector expires nothing when the idle time is negative.
                idle_timeout_s=idle_ms / 1000 if idle_ms >= 0 else math.inf,
            ),
            connections_max=int(config["max.connections"]),
            connections_per_ip=int(config["max.connections.per.ip"]),
            connections_per_ip_overrides=parse_overrides(
                str(config["max.connections.per.ip.overrides"] or "")
            ),
            connection_creation_rate=int(config["max.connection.creation.rate"]),
            rate_window=RateConfig(
                samples=int(config["quota.window.num"]),
                window_ms=int(config["quota.window.size.seconds"]) * 1000,
            ),
            listener_connections_max=_listener_limits(config, "max.connections"),
            listener_creation_rate=_listener_limits(config, "max.connection.creation.rate"),
            protected_listener=_protected_listener(config),
            listen_backlog=int(config["socket.listen.backlog.size"]),
            send_buffer_bytes=_buffer_bytes(config["socket.send.buffer.bytes"]),
            receive_buffer_bytes=_buffer_bytes(config["socket.receive.buffer.bytes"]),
            shutdown_grace_s=shutdown_grace_s,
        )


def _protected_listener(config: BrokerConfig) -> str | None:
    """Kafka's protected listener: the inter-broker one, when the broker (its SocketServer:
    the controller listeners are another's) has other listeners too."""
    controllers = set(config.controller_listener_names)
    broker_listeners = [e for e in config.listeners if e.name not in controllers]
    return config.inter_broker_listener_name if len(broker_listeners) > 1 else None


def _listener_limits(config: BrokerConfig, key: str) -> dict[str, int]:
    """``listener.name.<listener>.<key>`` of each listener that sets it (the listener's name
    in lower case, as Kafka's ListenerName.configPrefix)."""
    found = {}
    for endpoint in config.listeners:
        value = config.value(f"listener.name.{endpoint.name.lower()}.{key}")
        if value is not None:
            found[endpoint.name] = int(value)
    return found


def _buffer_bytes(value: object) -> int | None:
    size = int(value)  # type: ignore[call-overload]
    return size if size >= 0 else None


@dataclass(frozen=True)
class ListenerSpec:
    """A listener to open: ``host`` "" means every interface, ``port`` 0 an ephemeral one."""

    name: str
    host: str
    port: int
    dispatcher: Dispatcher = field(compare=False)
    # An SSL listener's context and handshake (server/tls/); None: PLAINTEXT.
    tls: TlsListener | None = field(default=None, compare=False)
    # A SASL listener's: a new authenticator per connection (server/sasl/); None: no SASL.
    authenticator: Callable[[], SaslAuthenticator] | None = field(default=None, compare=False)
    # Client quotas apply to its connections (broker listeners; not the controller's).
    quotas: bool = True
    # Accepts only once :meth:`Server.enable_request_processing` was called (a broker
    # listener: Kafka's data plane is enabled once the broker caught up with the metadata).
    gated: bool = False


@dataclass(frozen=True)
class BoundAddress:
    """Where a listener actually listens (one per socket: "" may bind IPv4 and IPv6)."""

    listener_name: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.listener_name}://{host}:{self.port}"


class Server:
    """Serves ``listeners`` until :meth:`request_shutdown` (or cancellation)."""

    def __init__(
        self,
        listeners: Sequence[ListenerSpec],
        limits: ServerLimits,
        *,
        on_shutdown: ShutdownHook | None = None,
        request_metrics: RequestMetrics | None = None,
        quotas: BrokerQuotas | None = None,
    ) -> None:
        self._specs = list(listeners)
        # Client quotas, given to the connections of broker listeners (None: off).
        self._quotas = quotas
        self._per_ip = ConnectionsPerIp(
            limits.connections_per_ip, limits.connections_per_ip_overrides
        )
        # New connections per second (None: max.connection.creation.rate unset).
        self._creation_rate = (
            SampledRate(limits.rate_window) if limits.connection_creation_rate < 2**31 - 1 else None
        )
        # Open connections per listener, and each listener's own creation rate.
        self._listener_counts: dict[str, int] = {}
        self._listener_rates = {
            name: SampledRate(limits.rate_window) for name in limits.listener_creation_rate
        }
        # Given to every connection (None: metrics off).
        self._request_metrics = request_metrics
        self._limits = limits
        self._on_shutdown = on_shutdown
        self._shutdown = trio.Event()
        self._requests_enabled = trio.Event()
        self._connections: set[Connection] = set()
        self._connections_changed = trio.Event()
        self._connection_ids = itertools.count(1)
        # Freed to refuse a connection cleanly when the process is out of descriptors.
        self._fd_reserve = FdReserve()
        self.bound_addresses: list[BoundAddress] = []

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    @property
    def shutting_down(self) -> bool:
        return self._shutdown.is_set()

    def enable_request_processing(self) -> None:
        """Gated listeners start accepting (connections made meanwhile waited in the listen
        backlog, as at Kafka's acceptors before ``enableRequestProcessing``)."""
        self._requests_enabled.set()

    def request_shutdown(self) -> None:
        """Begin the graceful shutdown; :meth:`serve` returns when it is done. Never blocks."""
        self._shutdown.set()

    async def serve(
        self, *, task_status: trio.TaskStatus[list[BoundAddress]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind every listener, report the bound addresses, and serve until shut down."""
        try:
            bound = await self._bind()
            try:
                async with trio.open_nursery() as connections:
                    async with trio.open_nursery() as listeners:
                        for spec, listener in bound:
                            listeners.start_soon(self._accept_loop, spec, listener, connections)
                        task_status.started(self.bound_addresses)
                        log.info("listening on %s", ", ".join(map(str, self.bound_addresses)))
                        await self._shutdown.wait()
                        listeners.cancel_scope.cancel()
                    await self._drain_connections()
                    connections.cancel_scope.cancel()
            finally:
                self._fd_reserve.close()
                for _, listener in bound:
                    await trio.aclose_forcefully(listener)
        finally:
            await self._run_shutdown_hook()

    async def _bind(self) -> list[tuple[ListenerSpec, trio.SocketListener]]:
        bound: list[tuple[ListenerSpec, trio.SocketListener]] = []
        try:
            for spec in self._specs:
                sockets = await trio.open_tcp_listeners(
                    spec.port, host=spec.host or None, backlog=self._limits.listen_backlog
                )
                for listener in sockets:
                    if self._limits.receive_buffer_bytes is not None:
                        # Set on the listening socket, as Kafka's acceptor does, so accepted
                        # sockets start with it (the TCP window scale is agreed at the handshake).
                        listener.socket.setsockopt(
                            socket.SOL_SOCKET, socket.SO_RCVBUF, self._limits.receive_buffer_bytes
                        )
                    bound.append((spec, listener))
                    host, port = listener.socket.getsockname()[:2]
                    self.bound_addresses.append(BoundAddress(spec.name, host, port))
        except BaseException:
            for _, listener in bound:
                await trio.aclose_forcefully(listener)
            raise
        return bound

    async def _refuse_one(self, listener: trio.SocketListener | TlsListener) -> None:
        """Out of descriptors: free the reserve, accept the waiting connection and close it
        at once (the client sees the close), then hold the reserve again
        (server/fd_reserve.py). Without a reserve to free, the connection waits."""
        if not self._fd_reserve.release():
            self._fd_reserve.take()
            return
        try:
            with trio.move_on_after(ACCEPT_RETRY_SLEEP_S):
                stream = await listener.accept()
                await trio.aclose_forcefully(stream)
        except OSError:
            pass  # another thread took the freed descriptor first: the next round retries
        finally:
            self._fd_reserve.take()

    async def _accept_loop(
        self, spec: ListenerSpec, listener: trio.SocketListener, connections: trio.Nursery
    ) -> None:
        refused = 0  # connections refused in the current run of accept failures
        if spec.gated:
            await self._requests_enabled.wait()
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                    raise
                if refused == 0:
                    log.error(
                        "accept on %s failed (%s): out of file descriptors or memory; closing "
                        "new connections at once until some are free (raise the open-file "
                        "limit, ulimit -n, if this lasts)",
                        spec.name,
                        exc,
                    )
                refused += 1
                await self._refuse_one(listener)
                await trio.sleep(ACCEPT_RETRY_SLEEP_S)
                continue
            if not self._fd_reserve.held:
                self._fd_reserve.take()
            if not self._fd_reserve.held:
                # The reserve was lost (another thread took the descriptor it freed) and no
                # descriptor is free: it comes before this connection, which is refused to
                # get it back; else later connections would wait in the backlog unrefused.
                await trio.aclose_forcefully(stream)
                self._fd_reserve.take()
                refused += 1
                continue
            if refused:
                log.warning("accept on %s works again (%d refused meanwhile)", spec.name, refused)
                refused = 0
            protected = spec.name == self._limits.protected_listener
            full = self._full(spec.name, protected)
            if full is not None:
                # Kafka makes the acceptor wait instead; closing at once tells the client now,
                # and it backs off and retries (reconnect.backoff.ms).
                log.warning("%s reached: closing a new connection on %s", full, spec.name)
                await trio.aclose_forcefully(stream)
                continue
            if self._creation_rate is not None and not protected:
                limit = self._limits.connection_creation_rate
                await self._throttle_creation(self._creation_rate, limit)
            listener_rate = self._listener_rates.get(spec.name)
            if listener_rate is not None:
                await self._throttle_creation(
                    listener_rate, self._limits.listener_creation_rate[spec.name]
                )
            address = ""
            if not self._per_ip.unlimited:
                address = _peer_ip(stream)
                if not self._per_ip.try_open(address):
                    # Kafka accepts, then closes (TooManyConnectionsException); the client's
                    # other connections are untouched.
                    log.info(
                        "max.connections.per.ip (%d) reached for %s: closing a new connection "
                        "on %s",
                        self._per_ip.limit(address),
                        address,
                        spec.name,
                    )
                    await trio.aclose_forcefully(stream)
                    continue
            if self._limits.send_buffer_bytes is not None:
                stream.socket.setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDBUF, self._limits.send_buffer_bytes
                )
            handshake = None
            connection_stream: trio.SocketStream | trio.SSLStream[trio.SocketStream] = stream
            if spec.tls is not None:
                connection_stream, tls = spec.tls.wrap(stream)  # no I/O: the task shakes hands
                handshake = functools.partial(spec.tls.handshake, connection_stream, tls)
            connection = Connection(
                connection_stream,
                connection_id=next(self._connection_ids),
                listener_name=spec.name,
                dispatcher=spec.dispatcher,
                limits=self._limits.connection,
                metrics=self._request_metrics,
                authenticator=spec.authenticator() if spec.authenticator is not None else None,
                quotas=self._quotas if spec.quotas else None,
            )
            self._connections.add(connection)  # before any checkpoint: the cap counts it
            self._listener_counts[spec.name] = self._listener_counts.get(spec.name, 0) + 1
            connections.start_soon(self._run_connection, connection, handshake, address)

    def _full(self, listener: str, protected: bool) -> str | None:
        """The limit a new connection on ``listener`` would pass (None: room for it): the
        listener's own max.connections, then the broker-wide one, which Kafka's protected
        inter-broker listener is exempt from."""
        limit = self._limits.listener_connections_max.get(listener)
        if limit is not None and self._listener_counts.get(listener, 0) >= limit:
            return f"listener.name.{listener.lower()}.max.connections ({limit})"
        if not protected and len(self._connections) >= self._limits.connections_max:
            return f"max.connections ({self._limits.connections_max})"
        return None

    async def _throttle_creation(self, rate: SampledRate, limit: int) -> None:
        """Kafka's acceptor over max.connection.creation.rate (broker-wide or a listener's):
        the connection just accepted, and the accepting after it, wait until the rate is back
        to the limit (at most one quota window)."""
        now_ms = int(trio.current_time() * 1000)
        throttle_ms = record_and_throttle(rate, float(limit), 1.0, now_ms)
        throttle_ms = min(throttle_ms, self._limits.rate_window.window_ms)
        if throttle_ms > 0:
            await trio.sleep(throttle_ms / 1000)

    async def _run_connection(
        self,
        connection: Connection,
        handshake: Callable[[], Awaitable[KafkaPrincipal]] | None = None,
        address: str = "",
    ) -> None:
        try:
            if handshake is not None:
                try:
                    connection.principal = await handshake()
                except HandshakeFailed as exc:
                    # Logged once, this connection only (the handshake closed its stream).
                    log.info("closing %r: %s", connection, exc)
                    return
                log.debug("%r: TLS peer is %s", connection, connection.principal)
            await connection.run()
        except Exception:
            # A bug met by one connection must not take down the server and every other one.
            log.exception("%r failed", connection)
        finally:
            if address:
                self._per_ip.closed(address)
            self._connections.discard(connection)
            self._listener_counts[connection.listener_name] -= 1
            self._connections_changed.set()
            self._connections_changed = trio.Event()

    async def _drain_connections(self) -> None:
        for connection in list(self._connections):
            connection.stop_reading()
        with trio.move_on_after(self._limits.shutdown_grace_s) as scope:
            while self._connections:
                await self._connections_changed.wait()
        if scope.cancelled_caught:
            log.warning(
                "%d connection(s) still busy after %.1f s: closing them",
                len(self._connections),
                self._limits.shutdown_grace_s,
            )

    async def _run_shutdown_hook(self) -> None:
        if self._on_shutdown is None:
            return
        with trio.CancelScope(shield=True):
            with trio.move_on_after(SHUTDOWN_HOOK_TIMEOUT_S) as scope:
                await self._on_shutdown()
            if scope.cancelled_caught:
                log.error("shutdown hook did not finish in %.0f s", SHUTDOWN_HOOK_TIMEOUT_S)


def _peer_ip(stream: trio.SocketStream) -> str:
    try:
        return normalized(str(stream.socket.getpeername()[0]))
    except OSError:  # already reset by the peer
        return "?"
