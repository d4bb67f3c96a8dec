"""One client connection: read frames, dispatch them concurrently, answer in request order.

The reader (the connection's own task) splits the byte stream into frames and decodes each
one. A handler that can answer at once (``answer_now``, see dispatcher: Produce into the page
cache) answers in the reader, with no task; any other request gets its own task in the
connection's nursery. Answers go out in the order the requests arrived (Kafka clients
match responses to requests by order as well as by correlation id): whoever completes the
oldest unanswered request while nothing is being sent — the reader after a read's frames, or
the handler task that finished it — writes it and every answer done after it, in one vectored
send, and a sender goes on with answers that became ready meanwhile. So pipelined requests
answered at once cost one sendmsg for a whole read, and a long-poll Fetch woken by a Produce
is answered by its own task with no other task's wake-up in between. Record regions of files
in a response (Fetch's FileRecords) are written with sendfile between the in-memory parts,
never read into memory (but for small ones). The sends are native (ResponseWriter): the event
loop sends until the socket is full, and a large rest is finished by a worker thread.

Bad input closes only this connection, as Kafka does: a frame size out of range, a frame that
does not decode, an unknown API key, or an unsupported version of any API but ApiVersions
(which is answered with UNSUPPORTED_VERSION so the client can pick a version it shares).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import struct
import sys
import time
from collections import deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import trio

from ferrokafka.protocol import (
    API_VERSIONS_KEY,
    APIS,
    ProtocolDecodeError,
    RequestHeader,
    UnsupportedApiVersionError,
    api_info,
    decode_request,
    encode_message,
    encode_response_parts,
)
from ferrokafka.protocol.error_codes import UNSUPPORTED_VERSION
from ferrokafka.protocol.messages.api_versions import ApiVersionsResponse
from ferrokafka.protocol.native import ResponseWriter
from ferrokafka.protocol.principal import ANONYMOUS, KafkaPrincipal
from ferrokafka.protocol.wire import joined
from ferrokafka.server.dispatcher import CloseConnection, Dispatcher, Later, RequestContext
from ferrokafka.server.framing import SIZE_PREFIX, FrameReader, FrameSizeError
from ferrokafka.server.quotas.request_time import handler_time_meter
from ferrokafka.server.quotas.throttle import (
    FETCH_KEY,
    PRODUCE_KEY,
    BrokerQuotas,
    throttled_fetch_response,
)
from ferrokafka.server.request_log import note_response
from ferrokafka.storage.dir_failure import DISK_FAILURE_ERRNOS, io_errno

if TYPE_CHECKING:
    from ferrokafka.server.metrics import RequestMetrics, RequestTiming
    from ferrokafka.server.sasl import SaslAuthenticator

log = logging.getLogger(__name__)

# Requests of one connection decoded and not yet answered. Kafka itself handles one request
# per connection at a time (it mutes the channel until the response is sent), but our handlers
# wait on events (acks=all, long-poll fetch), so a connection gets real concurrency. Clients
# pipeline few requests (Java: 5; librdkafka's default is far higher but it rarely has more than
# one Produce per partition leader in flight); 100 leaves room for that while bounding the
# memory one connection can pin at 100 frames. Reaching it stops reading: TCP pushes back.
REQUESTS_IN_FLIGHT_MAX = 100
# Bytes asked of the socket per read: large enough that a 1 MiB produce needs few reads, small
# enough that one read never holds much more than the frame it completes.
RECEIVE_CHUNK_BYTES = 256 * 1024
# Done answers written with one vectored send, at most: bounds the parts one send gathers
# (and the IOV_MAX split does the rest).
COALESCED_RESPONSES_MAX = 16
# Bytes one non-blocking send of the event loop moves at most: a non-blocking socket takes at
# most its free send buffer anyway; the cap keeps one call (whose sendfile may read the file
# from disk) short, so other tasks run between calls.
SEND_BUDGET_BYTES = 1 << 20
# A response with at least this much left when the socket fills is finished by a worker thread
# (one hand-off per response, not per wait); a smaller rest waits in the event loop.
THREADED_SEND_BYTES_MIN = 256 * 1024
# Worker threads finishing large responses at once, at most (a trio limiter of their own, so
# that slow consumers never hold the threads the fetch path reads the disk with); a response
# that finds them all busy waits for room in the event loop instead.
SEND_THREADS_MAX = 16
# FileRecords up to this size are read (from the page cache) into the vectored send instead of
# sendfile'd: a tail fetch's few records then leave in one sendmsg with their frame, not in a
# sendmsg plus a sendfile (each a loopback delivery, with a scheduler pass between them).
INLINE_FILE_RECORDS_BYTES_MAX = 32 * 1024
# ApiVersions' own version range, the only entry Kafka lists in an UNSUPPORTED_VERSION answer
# (ApiVersionsRequest.getErrorResponse): enough for the client to retry with a version we share.
_API_VERSIONS_RANGE = ApiVersionsResponse.ApiVersion(
    api_key=API_VERSIONS_KEY,
    min_version=APIS[API_VERSIONS_KEY].min_version,
    max_version=APIS[API_VERSIONS_KEY].max_stable_version,
)
_CORRELATION_ID = struct.Struct(">i")
# Reads and writes are plain non-blocking syscalls on the socket's descriptor (POSIX), with
# trio waited on only when the socket has nothing to read or no room: trio's socket methods
# take two scheduler passes (a cancellation check and a yield) and its stream a conflict
# check per call: with a cancel scope per call, an echo server on loopback spent 120 us of CPU
# per 16 KB round trip, 75 us with plain calls (broker, pipelined Produce: 114-130 -> 103-107
# us per request). The read loop yields once per read it did not wait for, so a busy
# connection still lets the others run. Elsewhere (Windows), the stream.
RAW_SOCKET_IO = hasattr(os, "writev")


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds of one connection, from the broker config."""

    frame_bytes_max: int  # socket.request.max.bytes
    idle_timeout_s: float = math.inf  # connections.max.idle.ms; inf: never
    requests_in_flight_max: int = REQUESTS_IN_FLIGHT_MAX


class _SendAborted(Exception):
    """The response cannot be completed: the connection must close (the reason is the text)."""


class _Slot:
    """One request's place in the response order; ``parts`` stays None for no response, and
    ``failed`` means its handler raised (the connection closes after the answers before it)."""

    __slots__ = (
        "close_level",
        "close_reason",
        "done",
        "failed",
        "handler_ns",
        "metered",
        "parts",
        "quota",
        "throttle_ms",
    )

    def __init__(self, parts: Sequence[Any] | None = None, *, done: bool = False) -> None:
        self.done = done
        self.parts = parts
        self.failed = False
        # Why a failed slot closes the connection, and how loudly that is logged.
        self.close_reason = "a request handler failed"
        self.close_level = logging.WARNING
        # With client quotas set: the request whose answer they measure (a Fetch), and the
        # throttle time its request got (a Produce's bytes).
        self.quota: Any = None
        self.throttle_ms = 0
        # With a request_percentage quota set: whether this request's handler time counts,
        # and the time counted so far (ns).
        self.metered = False
        self.handler_ns = 0


class _TimedSlot(_Slot):
    """A slot with its request's times, when metrics are on (server/metrics/requests.py)."""

    __slots__ = ("timing",)

    def __init__(self, timing: RequestTiming) -> None:
        super().__init__()
        self.timing = timing


_SEND_THREADS: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar("send_threads")


def _threads_free() -> bool:
    return _send_threads().available_tokens > 0


def _send_threads() -> trio.CapacityLimiter:
    """This trio run's limiter of response-sending worker threads."""
    try:
        return _SEND_THREADS.get()
    except LookupError:
        limiter = trio.CapacityLimiter(SEND_THREADS_MAX)
        _SEND_THREADS.set(limiter)
        return limiter


def unsupported_api_versions_frame(correlation_id: int) -> list[bytes]:
    """The size-prefixed v0 ApiVersions answer to a version this broker does not speak."""
    body = encode_message(
        ApiVersionsResponse(error_code=UNSUPPORTED_VERSION, api_keys=[_API_VERSIONS_RANGE]), 0
    )
    header = _CORRELATION_ID.pack(correlation_id)  # response header v0
    return [SIZE_PREFIX.pack(len(header) + len(body)), header, body]


class Connection:
    """Serves one accepted stream until the peer leaves, bad input arrives, it idles out, or
    :meth:`stop_reading` asks it to finish what is in flight and close."""

    def __init__(
        self,
        stream: trio.SocketStream | trio.SSLStream[trio.SocketStream],
        *,
        connection_id: int,
        listener_name: str,
        dispatcher: Dispatcher,
        limits: ConnectionLimits,
        metrics: RequestMetrics | None = None,
        authenticator: SaslAuthenticator | None = None,
        quotas: BrokerQuotas | None = None,
    ) -> None:
        self.connection_id = connection_id
        # A SASL listener's authentication (server/sasl/): it takes every frame until the
        # client is authenticated (and re-authentications); None on other listeners.
        self._sasl = authenticator
        # Client quotas (server/quotas/; None: a listener without them, e.g. the controller's).
        self._quotas = quotas
        # Not read from until then (trio time): the client is throttled (Kafka mutes it).
        self._muted_until = 0.0
        # Request counters and times (None: metrics off, and the only cost is this check).
        self._metrics = metrics
        self.listener_name = listener_name
        self._stream = stream
        self._dispatcher = dispatcher
        self._limits = limits
        # TLS (server/tls/): the bytes go through the SSLStream, so the stream paths below
        # (a copy of file-backed records instead of sendfile, no send threads).
        self._raw_io = RAW_SOCKET_IO and isinstance(stream, trio.SocketStream)
        sock = (
            stream.socket
            if isinstance(stream, trio.SocketStream)
            else stream.transport_stream.socket
        )
        try:
            self.client_address: tuple[Any, ...] = tuple(sock.getpeername())
        except OSError:  # the peer already reset the connection
            self.client_address = ("?", 0)
        self._fd = sock.fileno()
        # Who is on the other end: set by the listener's authentication (TLS client certificate,
        # SASL); every request's context carries it.
        self.principal: KafkaPrincipal = ANONYMOUS
        self.close_reason: str | None = None
        self._stopping = False
        self._read_scope: trio.CancelScope | None = None
        self._scope: trio.CancelScope | None = None
        self._in_flight = trio.Semaphore(limits.requests_in_flight_max)
        self._last_activity = trio.current_time()
        # Slots read and not yet taken for writing, oldest first (at most the in-flight
        # limit), and whether a send is under way: answers are taken from the front only,
        # and only while no send is under way, so order is kept.
        self._unwritten: deque[_Slot] = deque()
        self._writing = False
        # Set when the newest in-order request (see dispatcher) handled by a task is through;
        # the next in-order request waits for it, and none is answered at once before it.
        self._in_order_tail: trio.Event | None = None
        # Handler tasks started and not yet running: no request is answered at once meanwhile,
        # so none is answered ahead of an earlier one.
        self._unstarted = 0

    def __repr__(self) -> str:
        return f"<connection {self.connection_id} {self.listener_name} from {self.client_address}>"

    def stop_reading(self) -> None:
        """Read no more requests; answer those in flight, then close. Does not block."""
        self._stopping = True
        if self._read_scope is not None:
            # A cancelled receive_some loses no bytes (trio guarantees it), and we drop the
            # partial frame anyway: its client never had an answer to rely on.
            self._read_scope.cancel()

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                await self._read_requests(nursery)
                # Answers given in the reader and not written yet (a send was under way, or
                # the reader stopped); handler tasks still running write their own.
                await self._flush()
        finally:
            self._dispatcher.connection_closed(self.connection_id)
            await trio.aclose_forcefully(self._stream)
            log.debug("%r closed: %s", self, self.close_reason or "client disconnected")

    def _close(self, reason: str, *, level: int = logging.WARNING) -> None:
        """Close now, dropping whatever is in flight (the stream cannot be trusted)."""
        if self.close_reason is None:
            self.close_reason = reason
            log.log(level, "closing %r: %s", self, reason)
        if self._scope is not None:
            self._scope.cancel()

    # -- reading ----------------------------------------------------------------------------

    async def _read_requests(self, nursery: trio.Nursery) -> None:
        frames = FrameReader(self._limits.frame_bytes_max)
        if self._sasl is not None:
            frames.frame_bytes_max = self._sasl.frame_bytes_max(self._limits.frame_bytes_max)
        while not self._stopping:
            await self._wait_unmuted()
            data = await self._receive()
            if not data:  # EOF, a reset, stopped or idled out: finish what is in flight
                return
            try:
                frames.feed(data)
            except FrameSizeError as exc:
                self._close(str(exc))
                return
            while not self._stopping and (frame := frames.next_frame()) is not None:
                if self._muted_until:
                    await self._flush()
                    await self._wait_unmuted()
                try:
                    self._in_flight.acquire_nowait()
                except trio.WouldBlock:
                    # At the limit: write what is answered, then read no more until a place
                    # is free (TCP pushes back on the client).
                    await self._flush()
                    await self._in_flight.acquire()
                if self._stopping:
                    return
                sasl = self._sasl
                if sasl is not None and sasl.intercepts(frame):
                    slot = await self._authenticate(frame, sasl)
                    frames.frame_bytes_max = sasl.frame_bytes_max(self._limits.frame_bytes_max)
                else:
                    slot = self._dispatch(frame, nursery)
                if slot is None:
                    return
                self._unwritten.append(slot)  # before its task can run: order is by this
                if self._unstarted:
                    # Let the task just started run up to its first wait before the next
                    # request is dispatched: handlers start in arrival order (a task started
                    # in the same scheduler batch as the next one may run after it).
                    await trio.lowlevel.checkpoint()
            await self._flush()  # the answers this read's requests got at once, in one send

    async def _wait_unmuted(self) -> None:
        """Read nothing while the client is throttled (a stop still ends the wait)."""
        if not self._muted_until:
            return
        if self._muted_until > trio.current_time() and not self._stopping:
            with trio.CancelScope(deadline=self._muted_until) as scope:
                self._read_scope = scope
                try:
                    await trio.sleep_forever()
                finally:
                    self._read_scope = None
            self._last_activity = trio.current_time()
        self._muted_until = 0.0

    def _mute(self, throttle_ms: int) -> None:
        until = trio.current_time() + throttle_ms / 1000
        self._muted_until = max(self._muted_until, until)

    async def _receive(self) -> bytes:
        """The next bytes from the peer; b"" when there are none to wait for."""
        waited = False
        while not self._stopping:
            if self._raw_io:
                try:
                    data = os.read(self._fd, RECEIVE_CHUNK_BYTES)
                except BlockingIOError:
                    pass  # nothing yet: wait below
                except OSError:  # reset by the peer
                    return b""
                else:
                    self._last_activity = trio.current_time()
                    if not waited:
                        # Read without waiting: let the other tasks run before handling it.
                        await trio.lowlevel.checkpoint()
                    return data
            deadline = self._last_activity + self._limits.idle_timeout_s
            with trio.CancelScope(deadline=deadline) as scope:
                self._read_scope = scope
                try:
                    if self._raw_io:
                        await trio.lowlevel.wait_readable(self._fd)
                        waited = True
                        continue
                    # bytes from a socket, bytes or bytearray from TLS: FrameReader takes both.
                    data = cast("bytes", await self._stream.receive_some(RECEIVE_CHUNK_BYTES))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return b""
                finally:
                    self._read_scope = None
                self._last_activity = trio.current_time()
                return data
            if self._stopping:
                break
            if self._in_flight.value == self._limits.requests_in_flight_max:
                self._close("idle", level=logging.DEBUG)
                break
            # A request still being handled counts as activity: wait another idle period.
            self._last_activity = trio.current_time()
        return b""

    async def _authenticate(self, frame: bytearray, sasl: SaslAuthenticator) -> _Slot | None:
        """One SASL step, in the reader: the next frame is not read before it is through, as
        Kafka reads nothing else during authentication. None when the connection closes."""
        step = await sasl.receive(frame, self._context_for)
        if step.close_reason is None:
            if sasl.principal is not None:
                self.principal = sasl.principal
            return _Slot(step.parts, done=True)
        if step.delayed:
            # connection.failed.authentication.delay.ms: Kafka keeps the failed connection
            # muted that long, then sends the error answer and closes.
            await trio.sleep(sasl.delay_s)
        if step.parts is not None:
            self._unwritten.append(_Slot(step.parts, done=True))
            await self._flush()
        self._close(step.close_reason, level=logging.INFO)
        return None

    def _context_for(self, header: RequestHeader) -> RequestContext:
        return RequestContext(
            header=header,
            client_address=self.client_address,
            listener_name=self.listener_name,
            connection_id=self.connection_id,
            principal=self.principal,
        )

    def _dispatch(self, frame: bytearray, nursery: trio.Nursery) -> _Slot | None:
        """Decode ``frame`` and start its handler; None when the connection must close."""
        try:
            # Read-only: the decoded records are views of the frame, which the log then reads
            # without the GIL (nothing writes a frame once it is read).
            header, request = decode_request(memoryview(frame).toreadonly())
        except UnsupportedApiVersionError as exc:
            if api_info(exc.api_key) is None:
                self._close(f"unknown API key {exc.api_key}")
            elif exc.api_key == API_VERSIONS_KEY:
                return _Slot(unsupported_api_versions_frame(exc.correlation_id), done=True)
            else:
                self._close(str(exc))
            return None
        except ProtocolDecodeError as exc:
            self._close(f"malformed request: {exc}")
            return None
        handler = self._dispatcher.handler_for(header.request_api_key)
        if handler is None:
            # Not advertised in ApiVersions, so a well-behaved client never sends it.
            self._close(f"no handler for {APIS[header.request_api_key].name}")
            return None
        context = RequestContext(
            header=header,
            client_address=self.client_address,
            listener_name=self.listener_name,
            connection_id=self.connection_id,
            principal=self.principal,
        )
        metrics = self._metrics
        slot = (
            _Slot()
            if metrics is None
            else _TimedSlot(metrics.received(header.request_api_key, request))
        )
        quotas = self._quotas
        if quotas is not None and quotas.active():
            if header.request_api_key == PRODUCE_KEY:
                slot.throttle_ms = quotas.on_produce(self.principal, header.client_id, len(frame))
                if slot.throttle_ms:
                    self._mute(slot.throttle_ms)
            elif header.request_api_key == FETCH_KEY:
                quotas.cap_fetch(self.principal, header.client_id, request)
                slot.quota = request
            slot.metered = quotas.request_active() and not quotas.request_exempt(request)
        in_order = self._dispatcher.in_order(header.request_api_key)
        answer_now = getattr(handler, "answer_now", None)
        if (
            answer_now is not None
            and not self._unstarted
            and not (in_order and self._in_order_tail is not None)
        ):
            started_ns = time.perf_counter_ns()
            try:
                response = answer_now(context, request)
            except Exception:  # as in _handle
                self._failed(slot, context)
                return slot
            slot.handler_ns += time.perf_counter_ns() - started_ns
            if not isinstance(response, Later):
                self._answer(slot, context, response)
                return slot
            rest = response.rest
        else:
            rest = None
        after = through = None
        if in_order:
            after, through = self._in_order_tail, trio.Event()
            self._in_order_tail = through
        work = rest if rest is not None else handler(context, request)
        nursery.start_soon(self._handle, work, context, slot, after, through)
        self._unstarted += 1
        return slot

    async def _handle(
        self,
        work: Awaitable[Any],
        context: RequestContext,
        slot: _Slot,
        after: trio.Event | None = None,
        through: trio.Event | None = None,
    ) -> None:
        """Await the request's ``work`` (once the in-order request before it is through, for
        one of those), then write what is ready at the front."""
        self._unstarted -= 1
        try:
            if after is not None:
                try:
                    await after.wait()
                except BaseException:
                    if inspect.iscoroutine(work):
                        work.close()  # never started: no "never awaited" warning
                    raise
            if isinstance(slot, _TimedSlot):
                slot.timing.started()
            if slot.metered:
                meter, task = handler_time_meter(), trio.lowlevel.current_task()
                meter.track(task)
                try:
                    response = await work
                finally:
                    slot.handler_ns += meter.stop(task)
            else:
                response = await work
            self._answer(slot, context, response)
        except Exception:  # ProtocolEncodeError included: a handler built a bad response
            self._failed(slot, context)
        finally:
            if through is not None:
                through.set()
                if self._in_order_tail is through:
                    self._in_order_tail = None
        await self._flush()

    def _answer(self, slot: _Slot, context: RequestContext, response: Any) -> None:
        if slot.metered:
            self._request_quota(slot, context)
        if response is not None:
            note_response(context, response)  # rejected requests at INFO, rate-limited
            if slot.throttle_ms and slot.throttle_ms > getattr(response, "throttle_time_ms", 0):
                if hasattr(response, "throttle_time_ms"):
                    response.throttle_time_ms = slot.throttle_ms
            slot.parts = encode_response_parts(context.header, response)
            if slot.quota is not None:
                self._fetch_quota(slot, context, response)
            elif self._quotas is not None and getattr(response, "throttle_time_ms", 0) > 0:
                # A handler's own throttle (controller mutations): mute as for the others.
                self._mute(response.throttle_time_ms)
        slot.done = True
        if isinstance(slot, _TimedSlot):
            cast("RequestMetrics", self._metrics).answered(slot.timing, response)

    def _request_quota(self, slot: _Slot, context: RequestContext) -> None:
        """Count the request's handler time against its request_percentage; over it, the
        answer carries the throttle time and the connection is muted for it (Kafka's
        sendResponseMaybeThrottle: the larger of this and a byte-rate throttle is sent)."""
        throttle = cast("BrokerQuotas", self._quotas).on_request_time(
            context.principal, context.client_id, slot.handler_ns
        )
        if throttle > 0:
            slot.throttle_ms = max(slot.throttle_ms, throttle)
            self._mute(throttle)

    def _fetch_quota(self, slot: _Slot, context: RequestContext, response: Any) -> None:
        """Count a Fetch's answer against its consumer byte rate; over it, the client gets no
        data and is muted for the throttle time (Kafka's throttled fetch response)."""
        size = sum(len(part) for part in slot.parts or ())
        throttle = cast("BrokerQuotas", self._quotas).on_fetch(
            context.principal, context.client_id, slot.quota, size
        )
        request, slot.quota = slot.quota, None
        if throttle > 0:
            throttle_ms = max(throttle, response.throttle_time_ms)
            throttled = throttled_fetch_response(response, throttle_ms, request)
            slot.parts = encode_response_parts(context.header, throttled)
            self._mute(throttle)

    def _failed(self, slot: _Slot, context: RequestContext) -> None:
        closing = sys.exc_info()[1]
        if isinstance(closing, CloseConnection):
            slot.close_reason, slot.close_level = str(closing), logging.INFO
            slot.failed = slot.done = True
            return
        if isinstance(closing, OSError) and io_errno(closing) in DISK_FAILURE_ERRNOS:
            # A failed disk (the node reports its dir or halts, with its own line): one line
            # here, not a traceback per request.
            log.error(
                "%r: handler for %s v%d (correlation id %d) failed: %s",
                self,
                APIS[context.api_key].name,
                context.api_version,
                context.header.correlation_id,
                closing,
            )
        else:
            log.exception(
                "%r: handler for %s v%d (correlation id %d) failed",
                self,
                APIS[context.api_key].name,
                context.api_version,
                context.header.correlation_id,
            )
        slot.failed = slot.done = True

    # -- writing ----------------------------------------------------------------------------

    async def _flush(self) -> None:
        """Write the answers done at the front of the order, while no send is under way (that
        sender goes on with them when it is through). Answers done together go out in one
        vectored send: on loopback each sendmsg also runs the peer's receive path, so
        pipelined produce answers cost one syscall instead of one each."""
        unwritten = self._unwritten
        while not self._writing and unwritten and unwritten[0].done:
            batch = [unwritten.popleft()]
            while unwritten and unwritten[0].done and len(batch) < COALESCED_RESPONSES_MAX:
                batch.append(unwritten.popleft())
            if not await self._write_taken(batch):
                return

    async def _write_taken(self, batch: list[_Slot]) -> bool:
        """Write ``batch``, slots just taken off the front of ``_unwritten``, marking the
        send under way so that nobody writes past it meanwhile."""
        self._writing = True
        try:
            return await self._write_batch(batch)
        finally:
            self._writing = False

    async def _write_batch(self, batch: list[_Slot]) -> bool:
        """Send the answers of ``batch`` (done slots, in order); False when the connection
        closes. A failed handler's request closes the connection after the answers before it."""
        parts: list[Any] = []
        answered = 0
        failed: _Slot | None = None
        for slot in batch:
            if slot.failed:
                failed = slot
                break
            if slot.parts is not None:
                parts.extend(slot.parts)
            answered += 1
        if parts:
            try:
                await self._send(parts)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._close("client went away", level=logging.DEBUG)
                return False
            except _SendAborted as exc:
                self._close(str(exc))
                return False
            self._last_activity = trio.current_time()
        if self._metrics is not None:
            self._metrics.sent([s.timing for s in batch[:answered] if isinstance(s, _TimedSlot)])
        for _ in range(answered):
            self._in_flight.release()
        if failed is not None:
            self._close(failed.close_reason, level=failed.close_level)
            return False
        return True

    async def _send(self, parts: Sequence[Any]) -> None:
        """Write one response (or several back to back): in-memory parts with vectored sends,
        FileRecords with sendfile from their files, in order (a ResponseWriter, native). The
        event loop sends until the socket is full; the rest of a large response is then left
        to a worker thread that waits for room in poll(2) without the GIL, as Kafka's network
        thread does: refilling the socket as soon as the client drains it, not when trio
        next gets to this task, meant fewer empty reads for the client (kcat's own CPU)."""
        if not self._raw_io:  # TLS, or Windows: no vectored send, no sendfile
            # File-backed records are read into the buffer (TLS must encrypt them); a peer
            # that has not taken the whole response within the idle timeout is gone.
            with trio.move_on_after(self._limits.idle_timeout_s):
                await self._stream.send_all(joined(parts))
                return
            raise _SendAborted("client stopped reading")
        await trio.lowlevel.checkpoint_if_cancelled()  # a closing connection sends nothing
        try:
            writer = ResponseWriter(parts, INLINE_FILE_RECORDS_BYTES_MAX)
            while (progress := writer.write_some(self._fd, SEND_BUDGET_BYTES)) != "done":
                if progress == "budget":
                    await trio.lowlevel.checkpoint()  # let other tasks run between chunks
                elif writer.remaining >= THREADED_SEND_BYTES_MIN and _threads_free():
                    await self._send_in_thread(writer)
                    return
                else:
                    # No room: a peer that takes no bytes for the idle timeout is gone as far
                    # as we can tell, and giving up then loses nothing not yet sent.
                    with trio.move_on_after(self._limits.idle_timeout_s):
                        await trio.lowlevel.wait_writable(self._fd)
                        continue
                    raise _SendAborted("client stopped reading")
        except EOFError as exc:  # a segment ended short of its region
            raise _SendAborted(str(exc)) from exc
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc

    async def _send_in_thread(self, writer: ResponseWriter) -> None:
        """Finish ``writer`` in a worker thread. Cancelled (the connection closes), the thread
        is abandoned and ``abort`` shuts the socket down under it, so it ends at once."""
        writer.hand_off(self._fd)
        try:
            await trio.to_thread.run_sync(
                writer.write_blocking,
                self._limits.idle_timeout_s,
                abandon_on_cancel=True,
                limiter=_send_threads(),
            )
        except BaseException as exc:
            writer.abort()
            if isinstance(exc, TimeoutError):
                raise _SendAborted(str(exc)) from exc
            raise
