"""Micro benchmarks of the storage engine, each measured against a baseline in the same run:
the native module against the pure-Python reference (CRC-32C, codecs, batch build and decode)
and the native log against plain system calls (Log.append against os.write, FetchInfo.read
against os.pread), plus Log.read latency through the offset index.

Inputs are deterministic (seeded) and realistic: JSON-like order events, somewhat
compressible. Sanity assertions check that the work was done; speed is only reported (the
summary and bench/results/micro.json come from conftest.py).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Iterator

import pytest

import ferrokafka._ferrokafka as native
from ferrokafka.storage import reference

IMPLS = {"native": native, "reference": reference}
CODECS = ("gzip", "snappy", "lz4", "zstd")
MiB = 1 << 20
TS = 1_700_000_000_000

# Log.append / os.write rounds are fixed (each adds 1 MiB to a file): 200 MiB per case.
APPEND_ROUNDS = 200
# Lookups per timed call, so per-call overhead of the timer does not dominate.
LOOKUPS_PER_CALL = 1000
# The lookup log: many small batches over a few segments, so the index is exercised.
LOOKUP_BATCHES = 20_000
LOOKUP_RECORDS_PER_BATCH = 10


def order_event(rng: random.Random, i: int, size: int) -> bytes:
    """A JSON-like event of exactly ``size`` bytes: repeated field names, varied values and a
    random trace id, compressing roughly 2-4x like real producer traffic."""
    doc = (
        b'{"order_id":%d,"customer":"cust-%05d","sku":"SKU-%04d","qty":%d,"price":%d.%02d,'
        b'"status":"%s","ts":%d,"trace":"%s","region":"%s"}'
        % (
            i,
            rng.randrange(50_000),
            rng.randrange(2_000),
            rng.randrange(1, 9),
            rng.randrange(1, 500),
            rng.randrange(100),
            rng.choice([b"new", b"paid", b"shipped", b"returned"]),
            TS + i * 7,
            rng.randbytes(8).hex().encode(),
            rng.choice([b"eu-west-1", b"us-east-1", b"ap-south-1"]),
        )
    )
    return (doc * (size // len(doc) + 1))[:size]


def events(count: int, size: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [order_event(rng, i, size) for i in range(count)]


def build_batch(impl, values: list[bytes], compression: str = "none") -> bytes:
    b = impl.BatchBuilder(compression=compression)
    for i, value in enumerate(values):
        b.append(value, key=b"key-%04d" % (i % 1000), timestamp=TS + i)
    return b.build()


@pytest.fixture(scope="module")
def payload() -> bytes:
    """1 MiB of record data, as a codec sees it inside a batch."""
    return b"".join(events(MiB // 200 + 1, 200, seed=1))[:MiB]


@pytest.fixture
def scratch_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="ferrokafka-bench-") as d:
        yield d
        # The append benchmarks leave hundreds of MiB dirty in the page cache; write them back
        # now so the kernel's writeback does not steal CPU from the benchmarks that follow.
        os.sync()


# ---------------------------------------------------------------------------------------------
# Native vs reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", list(IMPLS))
def test_crc32c(measure, impl):
    data = random.Random(2).randbytes(MiB)
    crc = measure(f"crc32c/{impl}", IMPLS[impl].crc32c, data, nbytes=len(data))
    assert crc == native.crc32c(data)


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("codec", CODECS)
def test_compress(measure, payload, codec, impl):
    packed = measure(
        f"compress-{codec}/{impl}", IMPLS[impl].compress, codec, payload, nbytes=len(payload)
    )
    assert reference.decompress(codec, packed) == payload


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("codec", CODECS)
def test_decompress(measure, payload, codec, impl):
    # Both sides decompress the same bytes (written by the reference, i.e. as Kafka frames it).
    packed = reference.compress(codec, payload)
    out = measure(
        f"decompress-{codec}/{impl}", IMPLS[impl].decompress, codec, packed, nbytes=len(payload)
    )
    assert out == payload


@pytest.mark.parametrize("impl", list(IMPLS))
def test_build(measure, impl):
    values = events(1000, 100, seed=3)
    raw = measure(f"build/{impl}", build_batch, IMPLS[impl], values)
    assert raw == build_batch(reference, values)


def decode_all(impl, raw: bytes) -> int:
    return sum(len(b.records()) for b in impl.decode_batches(raw))


@pytest.mark.parametrize("impl", list(IMPLS))
def test_decode(measure, impl):
    raw = build_batch(reference, events(1000, 100, seed=3))
    assert measure(f"decode/{impl}", decode_all, IMPLS[impl], raw, nbytes=len(raw)) == 1000


# ---------------------------------------------------------------------------------------------
# The native log against plain system calls
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mib_batch() -> bytes:
    """One uncompressed batch of about 1 MiB (1000 records of 1 KiB)."""
    raw = build_batch(native, events(1000, 1024, seed=4))
    assert MiB - 64 * 1024 < len(raw) <= MiB + 64 * 1024
    return raw


def test_append_against_plain_write(benchmark, record_case, scratch_dir, mib_batch):
    """Log.append of a 1 MiB batch against os.write of the same bytes to a plain file (the
    limit), alternating round by round (and which goes first) so that both see the same page
    cache and writeback conditions."""
    config = native.LogConfig(segment_bytes=1 << 30, max_message_bytes=4 * MiB)
    times: dict[str, list[float]] = {"append/os.write": [], "append/Log.append": []}
    fd = os.open(
        os.path.join(scratch_dir, "plain.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
    )
    try:
        with native.Log(os.path.join(scratch_dir, "bench-0"), config) as log:
            ops = [
                ("append/os.write", lambda: os.write(fd, mib_batch)),
                ("append/Log.append", lambda: log.append(mib_batch)),
            ]

            def one_round() -> None:
                for case, op in ops if len(times[ops[0][0]]) % 2 else ops[::-1]:
                    start = time.perf_counter()
                    op()
                    times[case].append(time.perf_counter() - start)

            benchmark.group = "append"
            benchmark.extra_info.update(case="append/alternating", nbytes=2 * len(mib_batch))
            benchmark.pedantic(one_round, rounds=APPEND_ROUNDS, warmup_rounds=0)
            assert log.log_end_offset == 1000 * len(times["append/Log.append"])
    finally:
        os.close(fd)
    assert os.path.getsize(os.path.join(scratch_dir, "plain.log")) == len(mib_batch) * len(
        times["append/os.write"]
    )
    if benchmark.stats is not None:  # None when benchmarks are disabled
        for case, seconds in times.items():
            record_case(case, seconds[5:], nbytes=len(mib_batch))  # first rounds warm up


@pytest.fixture(scope="module")
def lookup_log() -> Iterator[native.Log]:
    """A log of LOOKUP_BATCHES small batches over several segments."""
    batch = build_batch(native, events(LOOKUP_RECORDS_PER_BATCH, 100, seed=5))
    config = native.LogConfig(segment_bytes=8 * MiB, index_interval_bytes=4096)
    with (
        tempfile.TemporaryDirectory(prefix="ferrokafka-bench-") as d,
        native.Log(os.path.join(d, "lookup-0"), config) as log,
    ):
        for _ in range(LOOKUP_BATCHES):
            log.append(batch)
        yield log


def random_offsets(log: native.Log, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(log.log_end_offset) for _ in range(count)]


def test_index_lookup(measure, lookup_log):
    offsets = random_offsets(lookup_log, LOOKUPS_PER_CALL, seed=6)
    read = lookup_log.read

    def lookups() -> int:
        found = 0
        for offset in offsets:
            found += read(offset, 1).size_in_bytes > 0
        return found

    assert measure("lookup/Log.read", lookups, ops=LOOKUPS_PER_CALL) == LOOKUPS_PER_CALL


def test_read_to_region(measure, lookup_log):
    offsets = random_offsets(lookup_log, LOOKUPS_PER_CALL, seed=7)
    read = lookup_log.read

    def fetches() -> int:
        return sum(len(read(offset, MiB).regions) for offset in offsets)

    assert measure("region/Log.read", fetches, ops=LOOKUPS_PER_CALL) >= LOOKUPS_PER_CALL


def test_read_copy(measure, lookup_log):
    offsets = random_offsets(lookup_log, 100, seed=8)
    nbytes = sum(lookup_log.read(o, MiB).size_in_bytes for o in offsets)

    def copies() -> int:
        return sum(len(lookup_log.read(o, MiB).read()) for o in offsets)

    assert measure("copy/FetchInfo.read", copies, nbytes=nbytes) == nbytes


def test_read_copy_pread_limit(measure, lookup_log):
    # The same byte ranges as test_read_copy, read with os.pread from already-open files.
    fds: dict[str, int] = {}
    ranges = []
    try:
        for offset in random_offsets(lookup_log, 100, seed=8):
            for region in lookup_log.read(offset, MiB).regions:
                if region.path not in fds:
                    fds[region.path] = os.open(region.path, os.O_RDONLY)
                ranges.append((fds[region.path], region.length, region.position))
        nbytes = sum(length for _, length, _ in ranges)

        def preads() -> int:
            return sum(len(os.pread(fd, length, pos)) for fd, length, pos in ranges)

        assert measure("copy/os.pread", preads, nbytes=nbytes) == nbytes
    finally:
        for fd in fds.values():
            os.close(fd)
