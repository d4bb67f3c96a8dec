"""FrameReader, sans-io: frames split anywhere come out whole; bad sizes are refused."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferrokafka.server import FrameReader, FrameSizeError


def framed(*bodies: bytes) -> bytes:
    return b"".join(struct.pack(">i", len(b)) + b for b in bodies)


def drain(reader: FrameReader) -> list[bytes]:
    frames = []
    while (frame := reader.next_frame()) is not None:
        frames.append(bytes(frame))
    return frames


def test_frames_split_at_every_byte() -> None:
    bodies = [b"", b"a", b"hello world" * 10]
    stream = framed(*bodies)
    reader = FrameReader(1024)
    out: list[bytes] = []
    for i in range(len(stream)):
        reader.feed(stream[i : i + 1])
        out += drain(reader)
    assert out == bodies
    assert not reader.in_frame


@settings(max_examples=200, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=10),
)
def test_any_chunking_gives_the_same_frames(bodies: list[bytes], cuts: list[int]) -> None:
    stream = framed(*bodies)
    points = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    reader = FrameReader(300)
    out: list[bytes] = []
    for lo, hi in zip(points, points[1:], strict=False):
        reader.feed(stream[lo:hi])
        out += drain(reader)
    assert out == bodies


def test_incomplete_frame_is_not_an_error() -> None:
    reader = FrameReader(100)
    reader.feed(framed(b"abcdef")[:7])
    assert reader.next_frame() is None and reader.in_frame


@pytest.mark.parametrize("size", [-1, -(2**31), 101, 2**31 - 1])
def test_size_out_of_range_is_refused_before_the_body(size: int) -> None:
    reader = FrameReader(100)
    with pytest.raises(FrameSizeError) as info:
        reader.feed(struct.pack(">i", size))
    assert info.value.size == size


def test_frame_at_the_limit_is_accepted() -> None:
    reader = FrameReader(100)
    reader.feed(framed(b"x" * 100))
    assert drain(reader) == [b"x" * 100]
