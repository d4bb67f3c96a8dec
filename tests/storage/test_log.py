"""The partition log through its Python face: typed errors for bad input with nothing written,
offsets and lookups, sendfile to a non-blocking socket, crash recovery, and use from threads
and trio tasks."""

import os
import select
import socket
import threading
from pathlib import Path

import pytest
import trio

from ferrokafka.storage import (
    BatchBuilder,
    CorruptRecordError,
    InvalidRecordError,
    Log,
    LogClosedError,
    LogConfig,
    LogConfigError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    UnsupportedCompressionError,
    UnsupportedMagicError,
    build_control_batch,
)

TS = 1_700_000_000_000


def batch(n: int = 3, *, value_size: int = 10, ts: int = TS, compression: str = "none") -> bytes:
    b = BatchBuilder(compression=compression)
    for i in range(n):
        b.append(b"v" * value_size, key=b"k%d" % i, timestamp=ts + i)
    return b.build()


def files_of(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.fixture
def log(tmp_path: Path):
    with Log(str(tmp_path / "t-0"), LogConfig(segment_bytes=4096)) as log:
        yield log


def test_offsets_are_assigned_from_the_log_end(log: Log) -> None:
    first = log.append(batch(3))
    second = log.append(batch(2))
    assert (first.first_offset, first.last_offset) == (0, 2)
    assert (second.first_offset, second.last_offset) == (3, 4)
    assert log.log_end_offset == 5
    got = [(r.offset, r.key) for b in log.read_batches(0) for r in b.records()]
    assert got == [(0, b"k0"), (1, b"k1"), (2, b"k2"), (3, b"k0"), (4, b"k1")]


def test_rolls_and_lookups(log: Log) -> None:
    for i in range(40):
        log.append(batch(5, value_size=50, ts=TS + 10 * i))
    segments = log.segments()
    assert len(segments) > 3 and segments[-1].is_active and not segments[0].is_active
    assert [s.base_offset for s in segments] == sorted(s.base_offset for s in segments)
    assert all(Path(s.path).name == f"{s.base_offset:020d}.log" for s in segments)
    for offset in (0, 17, 99, 199):
        first = log.read_batches(offset, 1)[0]
        assert first.base_offset <= offset <= first.last_offset
    assert log.offset_for_timestamp(TS + 123) == (63, TS + 123)  # batch 12, record 3
    assert log.offset_for_timestamp(TS + 125) == (65, TS + 130)  # first record at or after
    assert log.offset_for_timestamp(TS + 10_000) is None
    assert log.offset_for_max_timestamp() == (199, TS + 394)


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (lambda b: b.__setitem__(70, b[70] ^ 0xFF), CorruptRecordError),  # CRC mismatch
        (lambda b: b.__setitem__(16, 1), UnsupportedMagicError),  # magic 1
        (lambda b: b.__delitem__(slice(-5, None)), CorruptRecordError),  # truncated
        (lambda b: b.__setitem__(slice(0, 8), (7).to_bytes(8, "big")), InvalidRecordError),
    ],
)
def test_bad_batches_raise_typed_errors_and_write_nothing(tmp_path: Path, damage, error) -> None:
    with Log(str(tmp_path / "t-0")) as log:
        log.append(batch(2))
        before = files_of(tmp_path / "t-0")
        bad = bytearray(batch(2))
        damage(bad)
        with pytest.raises(error):
            log.append(bytes(bad))
        assert log.log_end_offset == 2
        assert files_of(tmp_path / "t-0") == before


def test_a_bad_second_batch_rejects_the_whole_append(log: Log) -> None:
    good, bad = batch(2), bytearray(batch(2))
    bad[80] ^= 0x01
    with pytest.raises(CorruptRecordError) as info:
        log.append(good + bytes(bad))
    assert info.value.position == len(good)
    assert log.log_end_offset == 0 and log.size_in_bytes == 0


def test_record_too_large(tmp_path: Path) -> None:
    with Log(str(tmp_path / "t-0"), LogConfig(max_message_bytes=1000)) as log:
        with pytest.raises(RecordTooLargeError) as info:
            log.append(batch(1, value_size=2000))
        assert info.value.limit == 1000 and info.value.size > 2000
        assert log.log_end_offset == 0


def test_clients_may_not_write_control_batches(log: Log) -> None:
    marker = build_control_batch(commit=True, producer_id=7, producer_epoch=0)
    with pytest.raises(InvalidRecordError):
        log.append(marker)


def test_offset_out_of_range(log: Log) -> None:
    log.append(batch(3))
    with pytest.raises(OffsetOutOfRangeError) as info:
        log.read(4, 1024)
    assert (info.value.offset, info.value.log_start_offset, info.value.log_end_offset) == (4, 0, 3)
    assert log.read(3, 1024).size_in_bytes == 0  # the log end itself is in range: empty


def test_bad_config_and_codec_names() -> None:
    with pytest.raises(LogConfigError):
        LogConfig(segment_bytes=0)
    with pytest.raises(UnsupportedCompressionError):
        BatchBuilder(compression="brotli")


def test_closed_log_refuses_work(tmp_path: Path) -> None:
    log = Log(str(tmp_path / "t-0"))
    log.close()
    with pytest.raises(LogClosedError):
        log.append(batch(1))


def test_high_watermark_bounds_reads(log: Log) -> None:
    for _ in range(3):
        log.append(batch(2))
    assert [b.base_offset for b in log.read_batches(0, max_offset=4)] == [0, 2]
    assert log.read(4, 1 << 20, max_offset=4).size_in_bytes == 0


def test_sendfile_to_a_nonblocking_socket_resumes_partial_sends(tmp_path: Path) -> None:
    with Log(str(tmp_path / "t-0")) as log:
        for _ in range(60):
            log.append(batch(10, value_size=200))
        fetch = log.read(0, 1 << 20)
    [region] = fetch.regions  # one segment: one region; it outlives the closed log
    expected = fetch.read()
    assert region.length == len(expected) > 64 * 1024
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    a.setblocking(False)
    received = bytearray()
    try:
        # Nobody reads yet: the first send fills the small buffer and stops short, the next
        # would block.
        sent = region.sendfile(a.fileno())
        assert 0 < sent < region.length
        with pytest.raises(BlockingIOError):
            region.sendfile(a.fileno(), sent)

        def drain() -> None:
            while len(received) < len(expected):
                chunk = b.recv(65536)
                if not chunk:
                    return
                received.extend(chunk)

        reader = threading.Thread(target=drain)
        reader.start()
        while sent < region.length:
            try:
                sent += region.sendfile(a.fileno(), sent)
            except BlockingIOError:
                select.select([], [a], [], 5)
        reader.join(timeout=30)
    finally:
        a.close()
        b.close()
    assert bytes(received) == expected


def test_crash_cuts_and_garbage_recover_to_the_last_whole_batch(tmp_path: Path) -> None:
    src = tmp_path / "src-0"
    with Log(str(src), LogConfig(segment_bytes=1 << 20)) as log:
        ends = [log.append(batch(3, value_size=30)).last_offset for _ in range(5)]
    segment = src / ("0" * 20 + ".log")
    whole = segment.read_bytes()
    sizes = [b.size_in_bytes for b in Log(str(src)).read_batches(0)]
    boundaries = [sum(sizes[: i + 1]) for i in range(len(sizes))]
    for cut in range(boundaries[2], len(whole), 7):
        case = tmp_path / f"cut{cut}-0"
        case.mkdir()
        (case / segment.name).write_bytes(whole[:cut] + os.urandom(40))
        with Log(str(case)) as log:
            complete = sum(1 for end in boundaries if end <= cut)
            assert log.log_end_offset == ends[complete - 1] + 1
            assert log.size_in_bytes == boundaries[complete - 1]
            assert log.append(batch(1)).first_offset == ends[complete - 1] + 1
        # The indexes written on close equal those of a fresh rebuild from the log alone.
        index, timeindex = case / ("0" * 20 + ".index"), case / ("0" * 20 + ".timeindex")
        kept = index.read_bytes(), timeindex.read_bytes()
        index.unlink()
        timeindex.unlink()
        with Log(str(case)):
            pass
        assert (index.read_bytes(), timeindex.read_bytes()) == kept


def test_threads_append_concurrently_without_losing_offsets(log: Log) -> None:
    per_thread, threads = 50, 4

    def work() -> None:
        for _ in range(per_thread):
            log.append(batch(2))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert log.log_end_offset == per_thread * threads * 2
    offsets = [r.offset for b in log.read_batches(0, 1 << 30) for r in b.records()]
    assert offsets == list(range(log.log_end_offset))


def test_trio_tasks_share_a_log_through_worker_threads(tmp_path: Path) -> None:
    async def main() -> int:
        with Log(str(tmp_path / "t-0")) as log:
            async with trio.open_nursery() as nursery:
                for _ in range(8):
                    nursery.start_soon(trio.to_thread.run_sync, log.append, batch(5))
            return log.log_end_offset

    assert trio.run(main) == 40
