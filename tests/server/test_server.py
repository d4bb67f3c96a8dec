"""The server core with handlers of our own: ordering under concurrency, the connection cap,
the idle timeout, graceful shutdown, and failures inside handlers. Runs in trio, with every
wait bounded by fail_after."""

from __future__ import annotations

import math
import struct
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from server_wire import api_versions_frame

from ferrokafka.protocol import decode_response
from ferrokafka.protocol.messages.api_versions import ApiVersionsResponse
from ferrokafka.server import (
    ConnectionLimits,
    Dispatcher,
    ListenerSpec,
    RequestContext,
    Server,
    ServerLimits,
)

TEST_TIMEOUT_S = 10.0
SIZE = struct.Struct(">i")
ApiHandler = Callable[[RequestContext, Any], Awaitable[Any]]


def make_server(
    handler: ApiHandler,
    *,
    connections_max: int = 100,
    idle_timeout_s: float = math.inf,
    shutdown_grace_s: float = 5.0,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Server:
    dispatcher = Dispatcher()
    dispatcher.register(18, handler)
    limits = ServerLimits(
        connection=ConnectionLimits(frame_bytes_max=1 << 20, idle_timeout_s=idle_timeout_s),
        connections_max=connections_max,
        shutdown_grace_s=shutdown_grace_s,
    )
    return Server(
        [ListenerSpec("PLAINTEXT", "127.0.0.1", 0, dispatcher)], limits, on_shutdown=on_shutdown
    )


async def connect(server: Server) -> trio.SocketStream:
    address = server.bound_addresses[0]
    return await trio.open_tcp_stream(address.host, address.port)


# Bytes read past the end of a frame, per stream: the server may write several answers with
# one send, so one receive can hold the next frame's start.
_UNREAD: weakref.WeakKeyDictionary[trio.SocketStream, bytearray] = weakref.WeakKeyDictionary()


async def read_frame(stream: trio.SocketStream) -> bytes | None:
    """One response frame, or None if the server closed the connection."""
    buf = _UNREAD.setdefault(stream, bytearray())
    need = SIZE.size
    while True:
        while len(buf) < need:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return None
            buf += chunk
        if need == SIZE.size:
            need += SIZE.unpack_from(buf)[0]
        else:
            frame = bytes(buf[SIZE.size : need])
            del buf[:need]
            return frame


async def answer(ctx: RequestContext, request: Any) -> ApiVersionsResponse:
    return ApiVersionsResponse(error_code=0, api_keys=[])


def run(test: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with trio.fail_after(TEST_TIMEOUT_S):
            await test()

    trio.run(bounded)


def correlation_id(frame: bytes) -> int:
    return decode_response(frame, 18, 3)[0].correlation_id


def test_slow_early_requests_are_still_answered_first() -> None:
    finished: list[int] = []

    async def slow_then_fast(ctx: RequestContext, request: Any) -> ApiVersionsResponse:
        cid = ctx.header.correlation_id
        await trio.sleep(0.05 * (5 - cid))  # the first request takes longest
        finished.append(cid)
        return await answer(ctx, request)

    async def test() -> None:
        server = make_server(slow_then_fast)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            stream = await connect(server)
            await stream.send_all(b"".join(api_versions_frame(i) for i in range(5)))
            got = [correlation_id(await read_frame(stream)) for _ in range(5)]  # type: ignore[arg-type]
            assert got == [0, 1, 2, 3, 4]
            assert finished == [4, 3, 2, 1, 0]  # handled concurrently, answered in order
            server.request_shutdown()

    run(test)


def test_no_response_keeps_the_order_of_the_others() -> None:
    async def skip_odd(ctx: RequestContext, request: Any) -> ApiVersionsResponse | None:
        return None if ctx.header.correlation_id % 2 else await answer(ctx, request)

    async def test() -> None:
        server = make_server(skip_odd)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            stream = await connect(server)
            await stream.send_all(b"".join(api_versions_frame(i) for i in range(6)))
            got = [correlation_id(await read_frame(stream)) for _ in range(3)]  # type: ignore[arg-type]
            assert got == [0, 2, 4]
            server.request_shutdown()

    run(test)


def test_connection_cap_closes_the_excess_at_once() -> None:
    async def test() -> None:
        server = make_server(answer, connections_max=2)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            first, second = await connect(server), await connect(server)
            for stream in (first, second):  # both served, so both are counted
                await stream.send_all(api_versions_frame(1))
                assert await read_frame(stream) is not None
            third = await connect(server)
            assert await read_frame(third) is None  # closed without a request
            await first.aclose()
            with trio.fail_after(2):
                while server.connection_count > 1:
                    await trio.sleep(0.01)
            fourth = await connect(server)
            await fourth.send_all(api_versions_frame(2))
            assert await read_frame(fourth) is not None
            server.request_shutdown()

    run(test)


def test_idle_connection_is_closed_and_a_busy_one_is_not() -> None:
    async def slow(ctx: RequestContext, request: Any) -> ApiVersionsResponse:
        if ctx.header.correlation_id == 99:
            await trio.sleep(0.6)  # longer than the idle timeout: in flight is not idle
        return await answer(ctx, request)

    async def test() -> None:
        server = make_server(slow, idle_timeout_s=0.2)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            idle, busy = await connect(server), await connect(server)
            start = trio.current_time()
            await busy.send_all(api_versions_frame(99))
            assert await read_frame(idle) is None
            assert 0.15 <= trio.current_time() - start < 2
            assert await read_frame(busy) is not None  # answered after 0.6 s
            server.request_shutdown()

    run(test)


def test_graceful_shutdown_answers_the_request_in_flight() -> None:
    started = trio.Event()
    hook_calls: list[int] = []

    async def slow(ctx: RequestContext, request: Any) -> ApiVersionsResponse:
        started.set()
        await trio.sleep(0.3)
        return await answer(ctx, request)

    async def hook() -> None:
        hook_calls.append(server.connection_count)

    server = make_server(slow, on_shutdown=hook)

    async def test() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            stream = await connect(server)
            await stream.send_all(api_versions_frame(42))
            await started.wait()
            server.request_shutdown()
            frame = await read_frame(stream)
            assert frame is not None and correlation_id(frame) == 42
            assert await read_frame(stream) is None  # then closed
            # a new connection is refused: the listener is closed
            address = server.bound_addresses[0]
            try:
                late = await trio.open_tcp_stream(address.host, address.port)
            except OSError:
                pass
            else:
                # The kernel may have queued the connection before the listener closed; then
                # it ends in EOF or in a reset, never in a response.
                try:
                    assert await read_frame(late) is None
                except trio.BrokenResourceError:
                    pass
        assert hook_calls == [0]  # the hook ran once, after the last connection closed

    run(test)


def test_shutdown_deadline_cancels_a_stuck_handler() -> None:
    async def stuck(ctx: RequestContext, request: Any) -> ApiVersionsResponse:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    hook_ran = trio.Event()

    async def hook() -> None:
        hook_ran.set()

    async def test() -> None:
        server = make_server(stuck, shutdown_grace_s=0.2, on_shutdown=hook)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            stream = await connect(server)
            await stream.send_all(api_versions_frame(1))
            await trio.sleep(0.05)
            start = trio.current_time()
            server.request_shutdown()
            assert await read_frame(stream) is None
            assert trio.current_time() - start < 2
        assert hook_ran.is_set()

    run(test)


def test_a_failing_handler_closes_its_connection_only() -> None:
    async def fails_on_7(ctx: RequestContext, request: Any) -> ApiVersionsResponse:
        if ctx.header.correlation_id == 7:
            raise RuntimeError("boom")
        return await answer(ctx, request)

    async def test() -> None:
        server = make_server(fails_on_7)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            bad, good = await connect(server), await connect(server)
            await bad.send_all(api_versions_frame(1) + api_versions_frame(7))
            assert await read_frame(bad) is not None  # the one before is still answered
            assert await read_frame(bad) is None
            await good.send_all(api_versions_frame(2))
            assert await read_frame(good) is not None
            server.request_shutdown()

    run(test)


def test_in_flight_limit_stops_reading() -> None:
    release = trio.Event()
    handled: list[int] = []

    async def gated(ctx: RequestContext, request: Any) -> ApiVersionsResponse:
        handled.append(ctx.header.correlation_id)
        await release.wait()
        return await answer(ctx, request)

    async def test() -> None:
        dispatcher = Dispatcher()
        dispatcher.register(18, gated)
        limits = ServerLimits(
            connection=ConnectionLimits(frame_bytes_max=1 << 20, requests_in_flight_max=3)
        )
        server = Server([ListenerSpec("PLAINTEXT", "127.0.0.1", 0, dispatcher)], limits)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            stream = await connect(server)
            await stream.send_all(b"".join(api_versions_frame(i) for i in range(10)))
            await trio.sleep(0.2)
            assert handled == [0, 1, 2]  # the rest wait in the socket buffer
            release.set()
            got = [correlation_id(await read_frame(stream)) for _ in range(10)]  # type: ignore[arg-type]
            assert got == list(range(10))
            server.request_shutdown()

    run(test)
