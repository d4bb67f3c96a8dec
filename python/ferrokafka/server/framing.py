"""Kafka's size-prefixed framing, sans-io: bytes in, whole request frames out.

Every request is a big-endian int32 size followed by that many bytes. :class:`FrameReader`
is fed whatever the socket returned and hands back complete frames; an incomplete frame is
not an error, only "feed me more" (mini-redis' ``Incomplete``). A size that is negative or
above the limit (``socket.request.max.bytes``) raises :class:`FrameSizeError`: the stream can
no longer be trusted, so the connection is closed, as Kafka's ``NetworkReceive`` does.
"""

from __future__ import annotations

import struct
from collections import deque

SIZE_PREFIX = struct.Struct(">i")


class FrameSizeError(Exception):
    """A frame size prefix that is negative or larger than the connection accepts."""

    def __init__(self, size: int, frame_bytes_max: int) -> None:
        super().__init__(f"invalid request size {size} (limit {frame_bytes_max} bytes)")
        self.size = size
        self.frame_bytes_max = frame_bytes_max


class FrameReader:
    """Splits a byte stream into frames (without their size prefix).

    Frames are ``bytearray`` objects the reader never touches again, so the decoded request's
    ``records`` memoryviews stay valid for as long as the request lives. A frame grows as its
    bytes arrive rather than being allocated from its size prefix, so four bytes from a peer
    cannot make the broker allocate ``socket.request.max.bytes``. Frames waiting to be taken
    are bounded by what one :meth:`feed` held: the caller takes them all before feeding more.
    """

    def __init__(self, frame_bytes_max: int) -> None:
        if frame_bytes_max < 0:
            raise ValueError(f"frame_bytes_max must be >= 0, not {frame_bytes_max}")
        self.frame_bytes_max = frame_bytes_max
        self._prefix = bytearray()  # the partial size prefix of the next frame
        self._frame: bytearray | None = None  # the frame being filled
        self._frame_bytes = 0  # the size prefix of the frame being filled
        self._ready: deque[bytearray] = deque()

    @property
    def in_frame(self) -> bool:
        """True while part of a frame (or of its size prefix) has been read."""
        return bool(self._prefix) or self._frame is not None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Consume ``data``; raises FrameSizeError at the first bad size prefix."""
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            if self._frame is None:
                take = min(SIZE_PREFIX.size - len(self._prefix), len(view) - pos)
                self._prefix += view[pos : pos + take]
                pos += take
                if len(self._prefix) == SIZE_PREFIX.size:
                    self._start_frame(SIZE_PREFIX.unpack(self._prefix)[0])
            else:
                take = min(self._frame_bytes - len(self._frame), len(view) - pos)
                self._frame += view[pos : pos + take]
                pos += take
                self._finish_if_full()

    def next_frame(self) -> bytearray | None:
        """The oldest complete frame, or None when more bytes are needed."""
        return self._ready.popleft() if self._ready else None

    def _start_frame(self, size: int) -> None:
        self._prefix.clear()
        if size < 0 or size > self.frame_bytes_max:
            raise FrameSizeError(size, self.frame_bytes_max)
        self._frame = bytearray()
        self._frame_bytes = size
        self._finish_if_full()

    def _finish_if_full(self) -> None:
        if self._frame is not None and len(self._frame) == self._frame_bytes:
            self._ready.append(self._frame)
            self._frame = None
