"""The connection's ResponseWriter (native) from Python: bytes, FileRecords read into the
vectored send when small and sendfile'd when not, in order through a socket that fills up; a
segment that ended short of its region aborts the send (EOFError: the frame could not be
completed); a blocked write in a worker thread gives up after the idle timeout, and ``abort``
ends one at once."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferrokafka._ferrokafka import BatchBuilder, Log, ResponseWriter
from ferrokafka.protocol.wire import FileRecords

VALUE = b"v" * 1000
RECORDS = 3000  # ~3 MB in one segment: more than a socket pair buffers
IDLE_S = 0.2


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    log = Log(str(tmp_path / "t-0"))
    for _ in range(RECORDS // 100):
        builder = BatchBuilder()
        for _ in range(100):
            builder.append(VALUE)
        log.append(builder.build())
    last = BatchBuilder()
    last.append(VALUE)
    log.append(last.build())  # offset RECORDS: a batch of one record
    yield log
    log.close()


def _records(log: Log, offset: int = 0, max_bytes: int = 1 << 30) -> FileRecords:
    return FileRecords(log.read(offset, max_bytes).regions)


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    return a, b


def _drain(sock: socket.socket, out: bytearray) -> threading.Thread:
    def run() -> None:
        while chunk := sock.recv(1 << 16):
            out.extend(chunk)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_parts_go_out_in_order_through_a_full_socket(log: Log) -> None:
    big, small = _records(log, 0, RECORDS * len(VALUE)), _records(log, RECORDS)
    assert big.nbytes > 2 << 20 and small.nbytes < 2048
    writer = ResponseWriter([b"head", big, bytearray(b"mid"), small, memoryview(b"tail")], 4096)
    assert writer.remaining == 4 + big.nbytes + 3 + small.nbytes + 4
    a, b = _pair()
    with a, b:
        assert writer.write_some(a.fileno(), 1 << 30) == "full"
        got = bytearray()
        reader = _drain(b, got)
        writer.hand_off(a.fileno())
        writer.write_blocking(10.0)
        assert writer.remaining == 0
        a.shutdown(socket.SHUT_WR)
        reader.join(10)
    assert bytes(got) == b"head" + bytes(big) + b"mid" + bytes(small) + b"tail"


def test_a_budget_stops_a_non_blocking_write(log: Log) -> None:
    records = _records(log)
    writer = ResponseWriter([records])
    a, b = _pair()
    with a, b:
        got = bytearray()
        reader = _drain(b, got)
        assert writer.write_some(a.fileno(), 1000) == "budget"
        assert writer.remaining == records.nbytes - 1000
        writer.hand_off(a.fileno())
        writer.write_blocking()
        a.shutdown(socket.SHUT_WR)
        reader.join(10)
    assert bytes(got) == bytes(records)


@pytest.mark.parametrize("inline_bytes_max", [0, 1 << 30], ids=["sendfile", "read"])
def test_a_segment_shorter_than_its_region_aborts_the_send(log: Log, inline_bytes_max: int) -> None:
    records = _records(log)
    (region,) = records.regions
    os.truncate(region.path, region.position + region.length - 7)
    a, b = _pair()
    with a, b, pytest.raises(EOFError, match="ended 7 bytes short of its region"):
        got = bytearray()
        reader = _drain(b, got)
        try:
            writer = ResponseWriter([b"x", records], inline_bytes_max)  # "read" fails here
            writer.hand_off(a.fileno())
            writer.write_blocking(10.0)  # "sendfile" here, once the reader took the rest
        finally:
            a.shutdown(socket.SHUT_WR)
            reader.join(10)


def test_a_blocked_write_gives_up_after_the_idle_timeout(log: Log) -> None:
    writer = ResponseWriter([_records(log)])
    a, b = _pair()
    with a, b:
        writer.hand_off(a.fileno())
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="client stopped reading"):
            writer.write_blocking(IDLE_S)
        assert IDLE_S * 0.9 <= time.monotonic() - started < 10


def test_abort_ends_a_blocked_write_at_once(log: Log) -> None:
    writer = ResponseWriter([_records(log)])
    a, b = _pair()
    failed: list[BaseException] = []

    def write() -> None:
        try:
            writer.write_blocking(None)
        except OSError as exc:
            failed.append(exc)

    with a, b:
        writer.hand_off(a.fileno())
        a.close()  # the connection closes its own descriptor: the writer has a duplicate
        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        time.sleep(0.1)
        assert thread.is_alive() and not failed  # waiting for room
        writer.abort()
        thread.join(10)
        assert not thread.is_alive() and failed


def test_other_parts_are_refused() -> None:
    with pytest.raises(ValueError, match="bytes-like, a FileRegion or FileRecords, not int"):
        ResponseWriter([b"ok", 5])
