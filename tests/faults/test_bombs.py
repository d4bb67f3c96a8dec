"""Decompression bombs against one broker (the issue's attacker findings): 40 connections each
send a compressed batch that inflates past the native limit (128 MiB) — zstd bombs of a few
KB (appended inline) and gzip bombs of ~500 KB (appended in worker threads). Every bomb is
refused with CORRUPT_MESSAGE, the broker's peak RSS stays within a few inflations of where it
was (measured: +148 MiB for these 40; the issue saw 2.8 GiB), and it keeps serving. That an
inline append leaves a big inflation to a worker thread, instead of blocking the event loop
for ~100 ms per bomb, is tests/partition/test_inflate.py's."""

from __future__ import annotations

import os
import socket
import struct
import threading
from pathlib import Path

from ferrokafka.protocol import RequestHeader, decode_response, encode_request
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.produce import ProduceRequest, ProduceResponse
from ferrokafka.storage import BatchBuilder

from .conftest import NodeFactory
from .workloads import create_topic

PRODUCE_VERSION = 9
BOMBS_PER_CODEC = 20
# Past the native inflate limit (MAX_DECOMPRESSED_BYTES, 128 MiB).
BOMB_VALUE_BYTES = 130 * 1024 * 1024
# One inflation at a time may take the limit (and a Vec's doubling); 40 at once took 2.8 GiB.
RSS_GROWTH_MAX_BYTES = 512 * 1024 * 1024
SOCKET_TIMEOUT_S = 120.0


def _bomb(codec: str, padding: int = 0) -> bytes:
    """One record inflating past the limit; ``padding`` random bytes make the batch bigger
    than an inline append (the issue's gzip bombs were 509 KiB: worker-thread appends)."""
    builder = BatchBuilder(compression=codec)
    builder.append(bytes(BOMB_VALUE_BYTES) + os.urandom(padding), key=None, headers=[])
    return bytes(builder.build())


def _frame(topic: str, batch: bytes, correlation_id: int) -> bytes:
    request = ProduceRequest(
        acks=1,
        timeout_ms=30_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=topic,
                partition_data=[ProduceRequest.PartitionProduceData(index=0, records=batch)],
            )
        ],
    )
    header = RequestHeader(
        request_api_key=0,
        request_api_version=PRODUCE_VERSION,
        correlation_id=correlation_id,
        client_id="bomber",
    )
    return encode_request(header, request)


def _produce(host: str, port: int, frame: bytes) -> int:
    """Send one Produce frame, return the partition's error code."""
    with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(frame)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">i", buf)[0]:
            chunk = sock.recv(1 << 16)
            assert chunk, "the broker closed the connection"
            buf += chunk
    _, response = decode_response(buf[4:], 0, PRODUCE_VERSION)
    assert isinstance(response, ProduceResponse)
    return response.responses[0].partition_responses[0].error_code


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_bombs_are_refused_one_inflation_at_a_time(make_node: NodeFactory) -> None:
    node = make_node()
    create_topic(node.bootstrap, "bombed", 1)
    host, port = node.bootstrap.rsplit(":", 1)
    bombs = {"zstd": _bomb("zstd"), "gzip": _bomb("gzip", padding=380 * 1024)}
    # An inline-sized zstd bomb, and gzip bombs above INLINE_APPEND_BYTES_MAX (256 KiB).
    assert len(bombs["zstd"]) < 64 * 1024 and 400 * 1024 < len(bombs["gzip"]) < 1024 * 1024
    frames = [_frame("bombed", bombs[codec], i) for codec in bombs for i in range(BOMBS_PER_CODEC)]
    # A small valid batch first: the peak so far is a serving broker's.
    small = BatchBuilder(compression="zstd")
    small.append(b"fine", key=b"k", headers=[])
    assert _produce(host, int(port), _frame("bombed", bytes(small.build()), 1)) == ec.NONE
    before = _peak_rss_bytes(node.pid)

    codes: list[int] = []
    threads = [
        threading.Thread(target=lambda f=frame: codes.append(_produce(host, int(port), f)))
        for frame in frames
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SOCKET_TIMEOUT_S)
    assert codes == [ec.CORRUPT_MESSAGE] * len(frames)
    growth = _peak_rss_bytes(node.pid) - before
    assert growth < RSS_GROWTH_MAX_BYTES, f"peak RSS grew by {growth >> 20} MiB"
    # Still serving, and nothing of the bombs was written.
    assert _produce(host, int(port), _frame("bombed", bytes(small.build()), 2)) == ec.NONE
    node.stop()
