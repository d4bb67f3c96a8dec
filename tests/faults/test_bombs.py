"""Decompression bombs against one broker (the issue's attacker findings): 40 connections each
send a compressed batch that inflates past the native limit (128 MiB) — zstd bombs of a few
KB (appended inline) and gzip bombs of ~500 KB (appended in worker threads). Every bomb is
refused with CORRUPT_MESSAGE, the broker's peak RSS barely moves (a batch kept as sent is
validated as it inflates, one record at a time: measured +4 MiB for these 40; +148 MiB when
each was inflated whole; the issue saw 2.8 GiB), and it keeps serving. And 40 VALID gzip
batches that each inflate to 100 MiB of small records are all appended with the same small
growth (Kafka 4.4: +14 MiB). That an inline append leaves a big inflation to a worker thread,
instead of blocking the event loop for ~100 ms per bomb, is tests/partition/test_inflate.py's."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
import zstandard

from ferrokafka.protocol import RequestHeader, decode_response, encode_request
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.produce import ProduceRequest, ProduceResponse
from ferrokafka.storage import BatchBuilder, crc32c

from .conftest import NodeFactory
from .workloads import create_topic

PRODUCE_VERSION = 9
BOMBS_PER_CODEC = 20
# Past the native inflate limit (MAX_DECOMPRESSED_BYTES, 128 MiB).
BOMB_VALUE_BYTES = 130 * 1024 * 1024
# Validation streams (one record held per inflation): the growth is request buffers and the
# codecs' windows, a few MiB; inflating whole took +148 MiB for the bombs, +270 MiB for the
# valid batches below, and 40 at once 2.8 GiB. A memory bound, not a timing: generous.
RSS_GROWTH_MAX_BYTES = 64 * 1024 * 1024
# Valid batches: each inflates to ~100 MiB of 1 KB records (~540 KB gzipped), all at once.
VALID_BATCHES = 40
VALID_RECORD_BYTES = 1000
VALID_RECORDS_PER_BATCH = 100 * 1024 * 1024 // VALID_RECORD_BYTES
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
    return _produce_offset(host, port, frame)[0]


def _produce_offset(host: str, port: int, frame: bytes) -> tuple[int, int]:
    """Send one Produce frame, return the partition's error code and base offset."""
    with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(frame)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">i", buf)[0]:
            chunk = sock.recv(1 << 16)
            assert chunk, "the broker closed the connection"
            buf += chunk
    _, response = decode_response(buf[4:], 0, PRODUCE_VERSION)
    assert isinstance(response, ProduceResponse)
    partition = response.responses[0].partition_responses[0]
    return partition.error_code, partition.base_offset


def _status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


def _peak_rss_bytes(pid: int) -> int:
    return _status_bytes(pid, "VmHWM")


def _rss_bytes(pid: int) -> int:
    return _status_bytes(pid, "VmRSS")


@pytest.mark.parametrize("cleanup_policy", ["delete", "compact"])
def test_bombs_are_refused_one_inflation_at_a_time(
    make_node: NodeFactory, cleanup_policy: str
) -> None:
    """On a compacted topic the check for records without a key walks the batch too (it
    inflated it whole, on the event loop for small batches, in as many threads as there were
    big ones)."""
    node = make_node()
    create_topic(node.bootstrap, "bombed", 1, config={"cleanup.policy": cleanup_policy})
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
    print(f"peak RSS {before >> 20} MiB, grew by {growth >> 20} MiB")
    assert growth < RSS_GROWTH_MAX_BYTES, f"peak RSS grew by {growth >> 20} MiB"
    # Still serving, and nothing of the bombs was written.
    assert _produce(host, int(port), _frame("bombed", bytes(small.build()), 2)) == ec.NONE
    node.stop()


def _valid_big_batch() -> bytes:
    """VALID_RECORDS_PER_BATCH records of VALID_RECORD_BYTES, gzipped: ~100 MiB inflated."""
    builder = BatchBuilder(compression="gzip")
    value = bytes(VALID_RECORD_BYTES - 20)
    now_ms = int(time.time() * 1000)
    for _ in range(VALID_RECORDS_PER_BATCH):
        builder.append(value, key=b"key", headers=[], timestamp=now_ms)
    return bytes(builder.build())


def test_valid_batches_inflating_to_100_mib_each_are_validated_in_little_memory(
    make_node: NodeFactory,
) -> None:
    node = make_node()
    create_topic(node.bootstrap, "inflated", 1)
    host, port = node.bootstrap.rsplit(":", 1)
    batch = _valid_big_batch()
    # Within max.message.bytes (1 MiB) compressed; far past it inflated.
    assert len(batch) < 1024 * 1024
    small = BatchBuilder(compression="gzip")
    small.append(b"fine", key=b"k", headers=[])
    assert _produce(host, int(port), _frame("inflated", bytes(small.build()), 1)) == ec.NONE
    before = _peak_rss_bytes(node.pid)

    results: list[tuple[int, int]] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(
                _produce_offset(host, int(port), _frame("inflated", batch, i))
            )
        )
        for i in range(VALID_BATCHES)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SOCKET_TIMEOUT_S)
    growth = _peak_rss_bytes(node.pid) - before
    # Every batch appended whole, one after another after the small one.
    assert sorted(code for code, _ in results) == [ec.NONE] * VALID_BATCHES
    assert sorted(offset for _, offset in results) == [
        1 + i * VALID_RECORDS_PER_BATCH for i in range(VALID_BATCHES)
    ]
    print(f"peak RSS {before >> 20} MiB, grew by {growth >> 20} MiB")
    assert growth < RSS_GROWTH_MAX_BYTES, f"peak RSS grew by {growth >> 20} MiB"
    node.stop()


# zstd's largest window (windowLog 27, 128 MiB: what a decoder accepts by default, Kafka's too).
ZSTD_WINDOW_LOG_MAX = 27
_ATTRIBUTES_OFFSET = 21
_CRC_OFFSET = 17
_BATCH_LENGTH_OFFSET = 8
_HEADER_BYTES = 61
_ZSTD_CODEC = 4


def _big_window_zstd_bomb() -> bytes:
    """A 3 KB zstd bomb whose frame asks for the largest window (our builder's frames ask for
    2 MiB): a decoder holds up to 128 MiB of window while it inflates."""
    plain = BatchBuilder(compression="none")
    plain.append(bytes(BOMB_VALUE_BYTES), key=None, headers=[])
    raw = bytes(plain.build())
    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=ZSTD_WINDOW_LOG_MAX, enable_ldm=True
    )
    packed = zstandard.ZstdCompressor(compression_params=params).compress(raw[_HEADER_BYTES:])
    batch = bytearray(raw[:_HEADER_BYTES] + packed)
    struct.pack_into(">i", batch, _BATCH_LENGTH_OFFSET, len(batch) - 12)
    attributes = struct.unpack_from(">h", batch, _ATTRIBUTES_OFFSET)[0] | _ZSTD_CODEC
    struct.pack_into(">h", batch, _ATTRIBUTES_OFFSET, attributes)
    struct.pack_into(">I", batch, _CRC_OFFSET, crc32c(bytes(batch[_ATTRIBUTES_OFFSET:])))
    return bytes(batch)


def test_big_window_zstd_bombs_leave_no_memory_behind(make_node: NodeFactory) -> None:
    """Each worker thread kept its zstd context, and with it the pages of a 128 MiB window it
    inflated through, for good (+130 MiB resident after 40 bombs, more as threads change).
    Inflating one takes the window while it lasts (two at a time), then it is freed."""
    node = make_node()
    create_topic(node.bootstrap, "windowed", 1)
    host, port = node.bootstrap.rsplit(":", 1)
    bomb = _big_window_zstd_bomb()
    assert len(bomb) < 64 * 1024
    small = BatchBuilder(compression="zstd")
    small.append(b"fine", key=b"k", headers=[])
    assert _produce(host, int(port), _frame("windowed", bytes(small.build()), 1)) == ec.NONE
    before = _rss_bytes(node.pid)
    codes: list[int] = []
    threads = [
        threading.Thread(
            target=lambda i=i: codes.append(_produce(host, int(port), _frame("windowed", bomb, i)))
        )
        for i in range(BOMBS_PER_CODEC * 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SOCKET_TIMEOUT_S)
    assert codes == [ec.CORRUPT_MESSAGE] * len(threads)
    assert _produce(host, int(port), _frame("windowed", bytes(small.build()), 2)) == ec.NONE
    left = _rss_bytes(node.pid) - before
    print(f"RSS {before >> 20} MiB, {left >> 20} MiB more after the bombs")
    assert left < RSS_GROWTH_MAX_BYTES, f"RSS stayed {left >> 20} MiB higher"
    node.stop()
