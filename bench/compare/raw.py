"""Broker-bound produce: pre-encoded Produce requests on one connection, a few in flight.

On a small machine the other produce workloads share the cores with a client that needs more
CPU than the broker (the Java producer takes over a core at 60-90 MB/s), so they measure the
client about as much as the broker. Here the client does nothing per request but one send
and one length-prefixed read (the requests are encoded before the clock starts, the answers
checked after it stops), which leaves the broker as the bottleneck: requests per second and
broker CPU per request say what one connection's Produce path costs each broker.

The frames are Kafka's wire format (Produce v9, acks=1, one batch of ``records_per_batch``
uncompressed records per request), built with ferrokafka's codec; every answer must be
error-free and the offsets must advance by exactly one batch per request, or the workload fails.
A warm-up of ``warmup_requests`` (Kafka's JIT) runs before the measured ``requests``.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from bench.compare.clients import WorkloadError
from bench.compare.probe import measured_cpu_s

from ferrokafka.protocol import RequestHeader, decode_response, encode_request
from ferrokafka.protocol.messages.produce import ProduceRequest, ProduceResponse
from ferrokafka.storage import BatchBuilder

PRODUCE_VERSION = 9
IN_FLIGHT = 5
RECEIVE_BYTES = 1 << 20
_SIZE = struct.Struct(">i")


def _frames(topic: str, count: int, record_size: int, records_per_batch: int) -> list[bytes]:
    builder = BatchBuilder(compression="none")
    for _ in range(records_per_batch):
        builder.append(b"x" * record_size, key=None, headers=[])
    batch = bytes(builder.build())
    frames = []
    for correlation_id in range(count):
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
            client_id="bench-raw-produce",
        )
        frames.append(encode_request(header, request))
    return frames


class _Answers:
    """Length-prefixed frames read off a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()

    def next(self) -> bytes:
        while True:
            if len(self._buf) >= 4:
                (size,) = _SIZE.unpack_from(self._buf)
                if len(self._buf) >= 4 + size:
                    frame = bytes(self._buf[4 : 4 + size])
                    del self._buf[: 4 + size]
                    return frame
            chunk = self._sock.recv(RECEIVE_BYTES)
            if not chunk:
                raise WorkloadError("the broker closed the connection")
            self._buf += chunk


def _pipeline(sock: socket.socket, frames: list[bytes], deadline: float) -> list[bytes]:
    answers, out = _Answers(sock), []
    sent = 0
    while len(out) < len(frames):
        while sent < len(frames) and sent - len(out) < IN_FLIGHT:
            sock.sendall(frames[sent])
            sent += 1
        out.append(answers.next())
        if time.monotonic() > deadline:
            raise WorkloadError(f"raw produce: {len(out)} of {len(frames)} answers in time")
    return out


def _check(answers: list[bytes], records_per_batch: int) -> None:
    offsets = []
    for frame in answers:
        _, response = decode_response(frame, 0, PRODUCE_VERSION)
        assert isinstance(response, ProduceResponse)
        part = response.responses[0].partition_responses[0]
        if part.error_code:
            raise WorkloadError(f"raw produce: error code {part.error_code} ({part.error_message})")
        offsets.append(part.base_offset)
    steps = {b - a for a, b in zip(offsets, offsets[1:], strict=False)}
    if steps - {records_per_batch}:
        raise WorkloadError(f"raw produce: base offsets advanced by {sorted(steps)[:5]}")


def raw_produce(
    bootstrap: str,
    topic: str,
    requests: int,
    warmup_requests: int,
    record_size: int,
    records_per_batch: int,
    broker_cpu_s: Callable[[], float],
    timeout_s: float,
) -> dict[str, Any]:
    """Warm up, then time ``requests`` pipelined Produce requests to partition 0 of
    ``topic`` (which must exist); ``broker_cpu_s`` reads the broker's CPU seconds so far."""
    deadline = time.monotonic() + timeout_s
    frames = _frames(topic, warmup_requests + requests, record_size, records_per_batch)
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _check(_pipeline(sock, frames[:warmup_requests], deadline), records_per_batch)
        cpu_before, started = broker_cpu_s(), time.monotonic()
        answers = _pipeline(sock, frames[warmup_requests:], deadline)
        seconds, cpu = time.monotonic() - started, measured_cpu_s(cpu_before, broker_cpu_s())
    _check(answers, records_per_batch)
    value_bytes = requests * records_per_batch * record_size
    # No "bytes": the runner's CPU per GB would count the warm-up; this is the timed part's.
    return {
        "requests": requests,
        "value_bytes": value_bytes,
        "seconds": seconds,
        "requests_per_s": requests / seconds,
        "mb_per_s": value_bytes / seconds / (1 << 20),
        "cpu_us_per_request": None if cpu is None else cpu / requests * 1e6,
    }
