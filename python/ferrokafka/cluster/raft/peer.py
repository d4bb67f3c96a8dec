"""One outbound connection to a quorum peer: the raft requests this node sends it, as Kafka
requests (size prefix, request header with client id ``raft-client-<id>``), and the responses.

Kafka's raft client keeps one connection per node through its NetworkClient; so does this.
It is opened through the controller listener's
:class:`~ferrokafka.cluster.connector.Connector` (TLS, SASL as that listener says). When the
server's SASL session nears its end (KIP-368), the connection stops sending, lets the answers
in flight arrive (bounded by ``drain_timeout_s``) and is opened again: nothing queued is lost.
The connection is opened on demand and again after a failure, with exponential backoff
(``reconnect.backoff.ms`` 50 up to ``reconnect.backoff.max.ms`` 1000, Kafka's defaults).
A request unanswered past ``request_timeout_s`` (``controller.quorum.request.timeout.ms``; a
Fetch's long-poll wait on top) closes the connection, as Kafka's NetworkClient disconnects on
a request timeout. A TCP connection whose packets were dropped for a while (a link down, a
partition) stays silent for seconds after the network is back, the kernel's retransmissions
having backed off exponentially; before this, a node whose link was down for 8 s went on
serving with the metadata it had when it was cut off for ~5.9 s after the link came back (4
of 5 runs; 0.1-0.9 s since), long enough for it to answer OffsetFetch as the group
coordinator it no longer was: the fault harness's Java copier went back to that stale offset
and copied records again.
Requests wait in a bounded queue; a request that cannot be queued, or is lost with its
connection, is reported to the owner (``on_failed``), which tells the state machine
(``RaftReplica.on_send_failed``) so it backs off that node as it would on a timeout.

Responses are matched by correlation id (the state machine's own ids) and handed to
``on_response`` in the trio thread.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import trio

from ferrokafka.cluster.connector import PLAINTEXT, Connector, DialError
from ferrokafka.cluster.raft.messages import FetchRequest, RaftRequest, RaftResponse
from ferrokafka.cluster.raft.wire import Endpoint, request_to_wire, response_from_wire
from ferrokafka.protocol.api import decode_response, encode_request
from ferrokafka.protocol.errors import ProtocolDecodeError
from ferrokafka.protocol.messages.header import RequestHeader

log = logging.getLogger(__name__)

FRAME_SIZE = struct.Struct(">i")
CORRELATION_ID_MASK = 0x7FFF_FFFF


@dataclass(frozen=True)
class PeerLimits:
    queue_max: int = 64  # requests waiting for the connection
    in_flight_max: int = 16  # requests sent and not answered (the replica keeps one per node)
    frame_bytes_max: int = 16 * 1024 * 1024  # a fetch response is at most 8 MiB of records
    connect_timeout_s: float = 2.0
    # TLS handshake and SASL exchange, after the TCP connection (PBKDF2, under contention).
    authenticate_timeout_s: float = 10.0
    # Longest wait for the answers in flight before a reconnect that the session's end forces.
    drain_timeout_s: float = 5.0
    reconnect_backoff_ms: int = 50  # reconnect.backoff.ms
    reconnect_backoff_max_ms: int = 1000  # reconnect.backoff.max.ms
    # An answer later than this (a Fetch's max wait added) closes the connection.
    request_timeout_s: float = 2.0  # controller.quorum.request.timeout.ms
    receive_bytes: int = 256 * 1024  # one socket read


OnResponse = Callable[[int, int, RaftResponse], None]  # (peer, correlation id, response)
OnFailed = Callable[[int, int], None]  # (peer, correlation id)


class PeerConnectionError(Exception):
    """The connection to a peer failed (the text says how)."""


class Peer:
    def __init__(
        self,
        peer_id: int,
        address: tuple[str, int],
        client_id: str,
        own_endpoint: Endpoint | None,
        on_response: OnResponse,
        on_failed: OnFailed,
        limits: PeerLimits,
        on_node_endpoints: Callable[[list[tuple[int, str, int]]], None] | None = None,
        connector: Connector = PLAINTEXT,
    ) -> None:
        self.peer_id = peer_id
        self.connector = connector
        # Endpoints a response names (the leader's, KIP-853): how an observer of a dynamic
        # quorum learns where the leader is.
        self.on_node_endpoints = on_node_endpoints
        self.address = address
        self.client_id = client_id
        self.own_endpoint = own_endpoint
        self.on_response = on_response
        self.on_failed = on_failed
        self.limits = limits
        self._send, self._receive = trio.open_memory_channel[tuple[int, RaftRequest]](
            limits.queue_max
        )
        # header correlation id -> (the replica's correlation id, api key, version, the
        # trio time by which its answer is due)
        self._in_flight: dict[int, tuple[int, int, int, float]] = {}
        self._drained = trio.Event()  # set when the last answer in flight arrived
        self._sent = trio.Event()  # set when a request is sent
        self.connects = 0
        self.timeouts = 0  # connections closed because an answer was overdue

    def send_nowait(self, correlation_id: int, request: RaftRequest) -> None:
        try:
            self._send.send_nowait((correlation_id, request))
        except trio.WouldBlock:
            log.warning(
                "raft: queue to node %d full; request %d dropped", self.peer_id, correlation_id
            )
            self.on_failed(self.peer_id, correlation_id)

    async def run(self) -> None:
        """Connect, send, receive; on failure fail what was in flight, back off, reconnect."""
        backoff_ms = self.limits.reconnect_backoff_ms
        while True:
            # Wait for something to send before connecting.
            first = await self._receive.receive()
            try:
                limits = self.limits
                with trio.fail_after(limits.connect_timeout_s + limits.authenticate_timeout_s):
                    connection = await self.connector.connect(
                        self.address, client_id=self.client_id
                    )
            except (OSError, trio.TooSlowError, DialError) as e:
                log.debug(
                    "raft: connect to node %d at %s failed: %s", self.peer_id, self.address, e
                )
                self._fail(first[0])
                self._fail_queued()
                await trio.sleep(backoff_ms / 1000)
                backoff_ms = min(backoff_ms * 2, self.limits.reconnect_backoff_max_ms)
                continue
            self.connects += 1
            backoff_ms = self.limits.reconnect_backoff_ms
            stream = connection.stream
            async with stream, trio.open_nursery() as nursery:
                nursery.start_soon(
                    self._read_loop, stream, nursery.cancel_scope, connection.leftover
                )
                nursery.start_soon(self._expire_overdue, nursery.cancel_scope)
                # Errors are caught where they happen (here and in the read loop), not around
                # the nursery, which would raise them wrapped in an ExceptionGroup.
                try:
                    await self._write(stream, *first)
                    session_end = connection.reauth_at or math.inf
                    while True:
                        # Only the wait is bounded by the session: a write is never cut.
                        item: tuple[int, RaftRequest] | None = None
                        with trio.move_on_at(session_end):
                            item = await self._receive.receive()
                        if item is None:
                            break
                        await self._write(stream, *item)
                    # The SASL session ends soon: reconnect once the answers are in.
                    log.debug("raft: session to node %d ends; reconnecting", self.peer_id)
                    with trio.move_on_after(self.limits.drain_timeout_s):
                        while self._in_flight:
                            self._drained = trio.Event()
                            await self._drained.wait()
                    nursery.cancel_scope.cancel()
                except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as e:
                    log.info("raft: writing to node %d: %s", self.peer_id, e)
                    nursery.cancel_scope.cancel()
            lost = [sent[0] for sent in self._in_flight.values()]
            self._in_flight.clear()
            for correlation_id in lost:
                self.on_failed(self.peer_id, correlation_id)

    def _fail(self, correlation_id: int) -> None:
        self.on_failed(self.peer_id, correlation_id)

    def _fail_queued(self) -> None:
        while True:
            try:
                correlation_id, _ = self._receive.receive_nowait()
            except trio.WouldBlock:
                return
            self.on_failed(self.peer_id, correlation_id)

    async def _write(
        self, stream: trio.abc.Stream, correlation_id: int, request: RaftRequest
    ) -> None:
        if len(self._in_flight) >= self.limits.in_flight_max:
            self.on_failed(self.peer_id, correlation_id)
            return
        api_key, version, message = request_to_wire(request, self.own_endpoint)
        # The header's field is an int32; the replica's ids only grow.
        wire_id = correlation_id & CORRELATION_ID_MASK
        header = RequestHeader(
            request_api_key=api_key,
            request_api_version=version,
            correlation_id=wire_id,
            client_id=self.client_id,
        )
        frame = encode_request(header, message)
        wait_s = max(0, request.max_wait_ms) / 1000 if isinstance(request, FetchRequest) else 0
        due = trio.current_time() + self.limits.request_timeout_s + wait_s
        self._in_flight[wire_id] = (correlation_id, api_key, version, due)
        self._sent.set()
        await stream.send_all(frame)

    async def _expire_overdue(self, scope: trio.CancelScope) -> None:
        """Close the connection once an answer is overdue (the requests in flight fail)."""
        while True:
            if not self._in_flight:
                self._sent = trio.Event()
                await self._sent.wait()
                continue
            due = min(sent[3] for sent in self._in_flight.values())
            if trio.current_time() >= due:
                self.timeouts += 1
                log.info(
                    "raft: no answer from node %d within %g s; reconnecting",
                    self.peer_id,
                    self.limits.request_timeout_s,
                )
                scope.cancel()
                return
            await trio.sleep_until(due)

    async def _read_loop(
        self, stream: trio.abc.Stream, scope: trio.CancelScope, buffer: bytearray
    ) -> None:
        try:
            while True:
                while len(buffer) < FRAME_SIZE.size:
                    await self._fill(stream, buffer)
                (size,) = FRAME_SIZE.unpack_from(buffer)
                if size < 0 or size > self.limits.frame_bytes_max:
                    raise PeerConnectionError(f"response frame of {size} bytes")
                while len(buffer) < FRAME_SIZE.size + size:
                    await self._fill(stream, buffer)
                frame = bytes(buffer[FRAME_SIZE.size : FRAME_SIZE.size + size])
                del buffer[: FRAME_SIZE.size + size]
                self._deliver(frame)
        except (
            OSError,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
            PeerConnectionError,
        ) as e:
            log.info("raft: reading from node %d: %s", self.peer_id, e)
            scope.cancel()

    async def _fill(self, stream: trio.abc.Stream, buffer: bytearray) -> None:
        data = await stream.receive_some(self.limits.receive_bytes)
        if not data:
            raise PeerConnectionError("closed by the peer")
        buffer += data

    def _deliver(self, frame: bytes) -> None:
        if len(frame) < 4:
            raise PeerConnectionError("response frame shorter than its header")
        (wire_id,) = struct.unpack_from(">i", frame)
        sent = self._in_flight.pop(wire_id, None)
        if not self._in_flight:
            self._drained.set()
        if sent is None:
            raise PeerConnectionError(f"response to unknown correlation id {wire_id}")
        correlation_id, api_key, version, _ = sent
        try:
            _, message = decode_response(frame, api_key, version)
        except ProtocolDecodeError as e:
            raise PeerConnectionError(f"undecodable response: {e}") from None
        if self.on_node_endpoints is not None:
            found = [(n.node_id, n.host, n.port) for n in getattr(message, "node_endpoints", ())]
            leader = getattr(message, "current_leader", None)  # UpdateRaftVoter's
            if leader is not None and leader.leader_id >= 0 and leader.host:
                found.append((leader.leader_id, leader.host, leader.port))
            if found:
                self.on_node_endpoints(found)
        self.on_response(self.peer_id, correlation_id, response_from_wire(message, version))
