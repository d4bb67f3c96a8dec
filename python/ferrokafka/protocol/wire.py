"""Primitive readers and writers of Kafka's wire format, over a memoryview (sans-io).

The reader checks every access against the end of its frame and raises only
``ProtocolDecodeError``: no ``IndexError`` or ``struct.error`` escapes, and nothing past the
frame is read. Lengths read from the wire are checked against the bytes that remain before
anything is allocated for them.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Sequence
from typing import Protocol

from ferrokafka.protocol.errors import ProtocolDecodeError, ProtocolEncodeError

# Kafka's limit for every string, classic (int16 length) or compact: 0x7fff bytes of UTF-8.
STRING_BYTES_MAX = 0x7FFF
# A cap on any array's element count, on top of "no more elements than bytes remain": a
# 100 MiB frame of one-byte elements is still far below this, so it only ever stops garbage.
ARRAY_ELEMENTS_MAX = 1 << 24
# An unsigned varint of a 32-bit value takes at most five bytes.
UVARINT_BYTES_MAX = 5
# Chunks at least this big are kept by reference in a Writer rather than copied into it.
WRITER_BORROW_BYTES_MIN = 4096

ZERO_UUID = uuid.UUID(int=0)

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_U16 = struct.Struct(">H")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_F64 = struct.Struct(">d")


class Region(Protocol):
    """A byte range of a file (ferrokafka's FileRegion): its size, and a way to copy it."""

    @property
    def length(self) -> int: ...

    def read(self) -> bytes: ...


class FileRecords:
    """A ``records`` value whose bytes stay in files until they are sent.

    The writer keeps it as one part of its output, unread: a sender that can write files
    (the broker's connection, with sendfile) sends the regions from the page cache, and
    anything else gets the bytes with :func:`joined` (or ``bytes()``), which copies them.
    """

    __slots__ = ("nbytes", "regions")

    def __init__(self, regions: Iterable[Region]) -> None:
        self.regions: tuple[Region, ...] = tuple(regions)
        self.nbytes = sum(region.length for region in self.regions)

    def __len__(self) -> int:
        return self.nbytes

    def __bytes__(self) -> bytes:
        return b"".join(region.read() for region in self.regions)

    def __repr__(self) -> str:
        return f"<FileRecords {self.nbytes} bytes in {len(self.regions)} regions>"


Part = bytes | bytearray | memoryview | FileRecords


def joined(parts: Sequence[Part]) -> bytes:
    """``parts`` (a Writer's output) as one buffer, file-backed records copied in."""
    return b"".join(bytes(part) if isinstance(part, FileRecords) else part for part in parts)


class Reader:
    """A cursor over ``buf[pos:end]``; every read is bounds-checked."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: memoryview, pos: int = 0, end: int | None = None) -> None:
        if not isinstance(buf, memoryview):
            buf = memoryview(buf)
        self.buf = buf.cast("B") if buf.format != "B" or buf.ndim != 1 else buf
        self.pos = pos
        self.end = len(self.buf) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _take(self, size: int) -> int:
        pos = self.pos
        if size < 0 or pos + size > self.end:
            raise ProtocolDecodeError(
                f"need {size} bytes at offset {pos}, only {self.end - pos} remain"
            )
        self.pos = pos + size
        return pos

    def _fixed(self, codec: struct.Struct) -> int:
        return codec.unpack_from(self.buf, self._take(codec.size))[0]

    def int8(self) -> int:
        return self._fixed(_I8)

    def int16(self) -> int:
        return self._fixed(_I16)

    def uint16(self) -> int:
        return self._fixed(_U16)

    def int32(self) -> int:
        return self._fixed(_I32)

    def uint32(self) -> int:
        return self._fixed(_U32)

    def int64(self) -> int:
        return self._fixed(_I64)

    def float64(self) -> float:
        return self._fixed(_F64)

    def bool(self) -> bool:
        value = self._fixed(_I8)
        return value != 0

    def uuid(self) -> uuid.UUID:
        pos = self._take(16)
        return uuid.UUID(bytes=bytes(self.buf[pos : pos + 16]))

    def uvarint(self) -> int:
        pos = self.pos
        if pos < self.end and self.buf[pos] < 0x80:  # one byte: most lengths and counts
            self.pos = pos + 1
            return self.buf[pos]
        value = 0
        for index in range(UVARINT_BYTES_MAX):
            byte = self.buf[self._take(1)]
            value |= (byte & 0x7F) << (7 * index)
            if byte < 0x80:
                return value
        raise ProtocolDecodeError(f"unsigned varint longer than {UVARINT_BYTES_MAX} bytes")

    def view(self, size: int) -> memoryview:
        """The next ``size`` bytes as a slice of the frame (no copy)."""
        pos = self._take(size)
        return self.buf[pos : pos + size]

    def length(self, compact: bool, wide: bool) -> int:
        """A length prefix: -1 means null; compact ones are stored plus one."""
        if compact:
            return self.uvarint() - 1
        return self.int32() if wide else self.int16()

    def checked_length(self, length: int, limit: int, what: str) -> int:
        if length > limit or length > self.remaining:
            raise ProtocolDecodeError(
                f"{what} length {length} exceeds the limit ({limit}) or the "
                f"{self.remaining} bytes remaining"
            )
        return length


class Writer:
    """Collects output; big buffers (record batches) are kept by reference, not copied."""

    __slots__ = ("_current", "_parts")

    def __init__(self) -> None:
        self._current = bytearray()
        self._parts: list[Part] = []

    def int8(self, value: int) -> None:
        self._pack(_I8, value)

    def int16(self, value: int) -> None:
        self._pack(_I16, value)

    def uint16(self, value: int) -> None:
        self._pack(_U16, value)

    def int32(self, value: int) -> None:
        self._pack(_I32, value)

    def uint32(self, value: int) -> None:
        self._pack(_U32, value)

    def int64(self, value: int) -> None:
        self._pack(_I64, value)

    def float64(self, value: float) -> None:
        self._pack(_F64, value)

    def bool(self, value: bool) -> None:
        self._current.append(1 if value else 0)

    def uuid(self, value: uuid.UUID) -> None:
        self._current += value.bytes

    def _pack(self, codec: struct.Struct, value: int | float) -> None:
        try:
            self._current += codec.pack(value)
        except (struct.error, TypeError) as exc:
            raise ProtocolEncodeError(f"cannot write {value!r} as {codec.format}: {exc}") from None

    def append_bytes(self, data: bytes) -> None:
        """Small bytes (a packed number) into the current buffer."""
        self._current += data

    def uvarint(self, value: int) -> None:
        if 0 <= value < 0x80:
            self._current.append(value)
            return
        if not 0 <= value <= 0xFFFFFFFF:
            raise ProtocolEncodeError(f"unsigned varint out of range: {value}")
        out = self._current
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)

    def length(self, length: int, compact: bool, wide: bool) -> None:
        if compact:
            self.uvarint(length + 1)
        elif wide:
            self.int32(length)
        else:
            self.int16(length)

    def raw(self, data: Part) -> None:
        # File-backed records are always a part of their own: they cannot be copied into
        # the current buffer without reading the files, which is what they exist to avoid.
        if isinstance(data, FileRecords) or len(data) >= WRITER_BORROW_BYTES_MIN:
            if self._current:
                self._parts.append(self._current)
                self._current = bytearray()
            self._parts.append(data)
        else:
            self._current += data

    def size(self) -> int:
        return len(self._current) + sum(len(part) for part in self._parts)

    def parts(self) -> list[Part]:
        """The output as buffers in order, for ``socket.sendmsg`` without joining them
        (FileRecords parts are for the sender to write from their files)."""
        return [*self._parts, self._current] if self._current else list(self._parts)

    def getvalue(self) -> bytes:
        if not self._parts:
            return bytes(self._current)
        return joined(self.parts())
