"""Small FileRecords are read into the response's vectored send (connection.py): the bytes
must be the region's, and a segment that ended short of its region must abort the send (the
frame could not be completed), as the sendfile path does."""

from __future__ import annotations

import pytest

from ferrokafka.server.connection import _read_region, _SendAborted


class _Region:
    path = "/data/t-0/00000000000000000000.log"

    def __init__(self, data: bytes, length: int) -> None:
        self._data = data
        self.length = length

    def read(self) -> bytes:
        return self._data


def test_whole_region_is_returned() -> None:
    assert _read_region(_Region(b"abc", 3)) == b"abc"


def test_short_region_aborts_the_send() -> None:
    with pytest.raises(_SendAborted, match="2 bytes short"):
        _read_region(_Region(b"abc", 5))
