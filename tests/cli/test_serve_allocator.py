"""``ferrokafka serve`` fixes glibc malloc's thresholds so that a socket read's buffer comes
from reused heap, not from a fresh mmap whose every page faults (measured: 1.7 minor faults
and ~5% of the broker's CPU per 15 KiB Produce, depending on what the process allocated
before)."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

# The read pattern of a connection: a 256 KiB buffer per read, cut to what arrived, kept a
# while (requests are views of it), then freed.
_READS = textwrap.dedent(
    """
    import os, resource, sys
    sys.path[:0] = {paths!r}
    from ferrokafka_cli.serve import settle_allocator
    from ferrokafka.server.connection import RECEIVE_CHUNK_BYTES
    assert settle_allocator()
    r, w = os.pipe()
    kept = []
    def read_once():
        os.write(w, b"x" * 60_000)
        kept.append(os.read(r, RECEIVE_CHUNK_BYTES))
        if len(kept) > 3:
            kept.pop(0)
    for _ in range(100):
        read_once()  # warm up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(2000):
        read_once()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_socket_reads_reuse_the_heap_once_the_allocator_is_settled() -> None:
    paths = [p for p in sys.path if p]
    out = subprocess.run(
        [sys.executable, "-c", _READS.format(paths=paths)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    faults = int(out.stdout.strip())
    # A fresh mmap per read would be 2000 x ~15 faults; reused heap is next to none.
    assert faults < 200, faults
