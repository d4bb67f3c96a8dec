"""Log.append takes any byte buffer (the broker hands it a read-only view of the request
frame, uncopied): each kind must append exactly the batch's records, and a corrupt batch in
a view must be refused as one in bytes is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ferrokafka.storage import BatchBuilder, CorruptRecordError, Log

TS = 1_700_000_000_000
FRAME_HEADER = b"\x00" * 23  # what precedes the records in a request frame


def _batch(tag: bytes) -> bytes:
    b = BatchBuilder()
    for i in range(3):
        b.append(tag + b"%d" % i, key=b"k%d" % i, timestamp=TS + i)
    return b.build()


def _values(log: Log) -> list[bytes | None]:
    return [r.value for batch in log.read_batches(0) for r in batch.records()]


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(bytes, id="bytes"),
        pytest.param(bytearray, id="bytearray"),
        pytest.param(lambda b: memoryview(FRAME_HEADER + b).toreadonly()[23:], id="frame-view"),
        pytest.param(lambda b: memoryview(bytearray(FRAME_HEADER + b))[23:], id="writable-view"),
    ],
)
def test_append_any_buffer(tmp_path: Path, wrap: Callable[[bytes], object]) -> None:
    log = Log(str(tmp_path / "t-0"))
    first = log.append(wrap(_batch(b"a")))
    second = log.append(wrap(_batch(b"b")))
    assert (first.first_offset, second.first_offset, log.log_end_offset) == (0, 3, 6)
    assert _values(log) == [b"a0", b"a1", b"a2", b"b0", b"b1", b"b2"]


def test_corrupt_view_is_refused(tmp_path: Path) -> None:
    log = Log(str(tmp_path / "t-0"))
    corrupt = bytearray(_batch(b"a"))
    corrupt[-1] ^= 0xFF  # a record byte: the CRC no longer matches
    with pytest.raises(CorruptRecordError):
        log.append(memoryview(bytes(corrupt)).toreadonly())
    assert log.log_end_offset == 0
