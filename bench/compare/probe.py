"""Readiness and resource figures of a broker process, read from outside it.

Readiness is the first Metadata (v0) answer that names at least one broker, sent as raw bytes
on a fresh connection every few milliseconds: a client library's reconnect back-off (100 ms
and growing in librdkafka) would blur start-up times of a fraction of a second.

Memory and CPU come from ``/proc/PID``: ``VmHWM`` (peak resident set since the process began,
the JVM's heap and off-heap included), ``VmRSS`` now, and ``utime + stime`` in clock ticks.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

METADATA_API_KEY = 3
METADATA_VERSION = 0
CLIENT_ID = b"ferrokafka-bench"
PROBE_INTERVAL_S = 0.01
PROBE_SOCKET_TIMEOUT_S = 2.0
# A v0 Metadata answer for a fresh broker is a few hundred bytes; anything past this is not
# a Metadata response we asked for.
RESPONSE_BYTES_MAX = 16 * 1024 * 1024
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _metadata_request(correlation_id: int) -> bytes:
    header = struct.pack(
        ">hhih", METADATA_API_KEY, METADATA_VERSION, correlation_id, len(CLIENT_ID)
    )
    body = struct.pack(">i", 0)  # v0: an empty topic list asks for every topic
    payload = header + CLIENT_ID + body
    return struct.pack(">i", len(payload)) + payload


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(size - got)
        if not chunk:
            raise ConnectionError("closed mid-response")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def metadata_brokers(host: str, port: int, correlation_id: int = 1) -> int:
    """How many brokers a Metadata v0 answer lists; raises OSError when there is no answer."""
    with socket.create_connection((host, port), timeout=PROBE_SOCKET_TIMEOUT_S) as sock:
        sock.sendall(_metadata_request(correlation_id))
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        if not 8 <= size <= RESPONSE_BYTES_MAX:
            raise ConnectionError(f"bad response size {size}")
        body = _recv_exactly(sock, size)
    got_id, brokers = struct.unpack_from(">ii", body)
    if got_id != correlation_id:
        raise ConnectionError(f"correlation id {got_id}, expected {correlation_id}")
    return brokers


def wait_ready(host: str, port: int, deadline: float, alive: Callable[[], None]) -> float:
    """Poll until Metadata names a broker; returns the monotonic time of that answer.

    ``alive`` raises if the process died, so a crashed broker fails fast, not at the deadline.
    """
    attempt = 0
    while time.monotonic() < deadline:
        alive()
        attempt += 1
        try:
            if metadata_brokers(host, port, attempt) > 0:
                return time.monotonic()
        except (OSError, struct.error):
            pass
        time.sleep(PROBE_INTERVAL_S)
    raise TimeoutError(f"{host}:{port} gave no Metadata answer naming a broker in time")


def measured_cpu_s(before_s: float, after_s: float) -> float | None:
    """CPU seconds between two readings of :func:`sample`, or None when under one clock tick
    (a few requests of a smoke run): /proc counts in ticks, and zero is not a measurement."""
    spent = after_s - before_s
    return spent if spent > 0 else None


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float
    rss_bytes: int
    hwm_bytes: int


def sample(pid: int) -> ProcSample:
    """CPU seconds so far, resident set now and its peak, of one process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return ProcSample((utime + stime) / CLOCK_TICKS_PER_S, rss, hwm)
