"""The machine's limits, measured in the same run as the brokers: loopback TCP throughput and
sequential write throughput of the filesystem that holds both brokers' data.

Both loops move 1 MiB per system call, so Python's per-call cost (a microsecond or two) is
noise next to the kernel's copy of a MiB; the figures are the kernel's, not the
interpreter's. Each loop is bounded by a byte count and a time limit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.compare.plan import MIB

CHUNK_BYTES = MIB
SOCKET_BUFFER_BYTES = 4 * MIB
# The sender: connect, then send CHUNK_BYTES at a time until the count or the time is spent.
_SENDER = f"""
import socket, sys, time
port, total, chunk = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[4])
limit_s = float(sys.argv[3])
payload = memoryview(bytes(chunk))
sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, {SOCKET_BUFFER_BYTES})
deadline, sent = time.monotonic() + limit_s, 0
while sent < total and time.monotonic() < deadline:
    sock.sendall(payload)
    sent += chunk
sock.close()
"""


def loopback_tcp(total_bytes: int, timeout_s: float) -> dict[str, float]:
    """Bytes per second from a sender process to this one over 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER_BYTES)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(timeout_s)
        port = server.getsockname()[1]
        sender = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SENDER,
                str(port),
                str(total_bytes),
                str(timeout_s),
                str(CHUNK_BYTES),
            ],
            stdin=subprocess.DEVNULL,
        )
        try:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(timeout_s)
                buffer = memoryview(bytearray(CHUNK_BYTES))
                got = 0
                started = time.monotonic()
                deadline = started + timeout_s + 5.0
                while time.monotonic() < deadline:
                    n = conn.recv_into(buffer)
                    if n == 0:
                        break
                    got += n
                elapsed = time.monotonic() - started
        finally:
            sender.wait(timeout=timeout_s + 10.0)
    return {"bytes": got, "seconds": elapsed, "mb_per_s": got / MIB / elapsed}


def sequential_write(directory: Path, total_bytes: int, timeout_s: float) -> dict[str, float]:
    """Write ``total_bytes`` in 1 MiB blocks to a new file, fdatasync once at the end (as a
    broker without per-message fsync eventually does), and count the sync in the time."""
    path = Path(directory) / "bench-sequential-write.tmp"
    block = bytes(CHUNK_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written = 0
    try:
        started = time.monotonic()
        deadline = started + timeout_s
        while written < total_bytes and time.monotonic() < deadline:
            written += os.write(fd, block)
        os.fdatasync(fd)
        elapsed = time.monotonic() - started
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return {"bytes": written, "seconds": elapsed, "mb_per_s": written / MIB / elapsed}
