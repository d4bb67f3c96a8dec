"""socket.send.buffer.bytes and socket.receive.buffer.bytes size the client sockets' SO_SNDBUF
and SO_RCVBUF, as in Kafka (-1: the OS default). The send buffer bounds each sendfile of a
Fetch answer: on loopback an unbounded (autotuned, megabytes) one measured slower and costlier
for consumers far behind than Kafka's 100 KiB default."""

from __future__ import annotations

import socket

import trio
from test_server import answer, connect, run

from ferrokafka.config import SINGLE_NODE_PROPERTIES, BrokerConfig
from ferrokafka.server import ConnectionLimits, Dispatcher, ListenerSpec, Server, ServerLimits

SEND_BYTES = 65_536
RECEIVE_BYTES = 98_304


def _server(limits: ServerLimits) -> Server:
    dispatcher = Dispatcher()
    dispatcher.register(18, answer)
    return Server([ListenerSpec("PLAINTEXT", "127.0.0.1", 0, dispatcher)], limits)


def _accepted_buffers(limits: ServerLimits) -> tuple[int, int]:
    sizes: list[tuple[int, int]] = []

    async def test() -> None:
        server = _server(limits)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            stream = await connect(server)
            while not server._connections:  # accepted on the next scheduler pass
                await trio.sleep(0.01)
            (connection,) = server._connections
            sock = connection._stream.socket
            sizes.append(
                (
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                )
            )
            await stream.aclose()
            server.request_shutdown()

    run(test)
    return sizes[0]


def test_accepted_sockets_get_the_configured_buffers() -> None:
    limits = ServerLimits(
        connection=ConnectionLimits(frame_bytes_max=1 << 20),
        send_buffer_bytes=SEND_BYTES,
        receive_buffer_bytes=RECEIVE_BYTES,
    )
    send, receive = _accepted_buffers(limits)
    # Linux doubles what is set (room for its bookkeeping) and reports the doubled size.
    assert send in (SEND_BYTES, 2 * SEND_BYTES)
    assert receive in (RECEIVE_BYTES, 2 * RECEIVE_BYTES)


def test_minus_one_leaves_the_os_default() -> None:
    config = BrokerConfig(
        {
            **SINGLE_NODE_PROPERTIES,
            "socket.send.buffer.bytes": "-1",
            "socket.receive.buffer.bytes": "-1",
        }
    )
    limits = ServerLimits.from_config(config)
    assert limits.send_buffer_bytes is None and limits.receive_buffer_bytes is None
    default = socket.socket()
    os_send = default.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    default.close()
    send, _ = _accepted_buffers(limits)
    assert send != 2 * 102_400 and send >= os_send


def test_kafka_defaults_are_applied() -> None:
    limits = ServerLimits.from_config(BrokerConfig(SINGLE_NODE_PROPERTIES))
    assert limits.send_buffer_bytes == 102_400
    assert limits.receive_buffer_bytes == 102_400
