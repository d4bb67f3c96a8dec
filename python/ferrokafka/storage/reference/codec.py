"""CRC-32C, zigzag varints and the compression codecs of the pure-Python reference.

Each function mirrors its namesake in :mod:`ferrokafka._ferrokafka` (same arguments, same
exception classes). Layout constants of the 61-byte batch header live here too, shared with
:mod:`.batch`; see ``rust/src/record/header.rs`` for the table.

Varints are read as Java reads them: at most 5 bytes (int) or 10 (long), overflowing high bits
dropped. Decompression accepts concatenated gzip members, lz4 frames and zstd frames (their
formats allow it; Kafka producers write one), and snappy both xerial-framed and raw.
"""

from __future__ import annotations

import gzip
import struct
import time
import zlib
from typing import cast

import cramjam
import lz4.frame  # type: ignore[import-untyped]
import zstandard

from ferrokafka._ferrokafka import (
    CorruptRecordError,
    UnsupportedCompressionError,
    UnsupportedMagicError,
)

__all__ = [
    "MalformedError",
    "codec_name",
    "compress",
    "crc32c",
    "decode_varint",
    "decode_varlong",
    "decompress",
    "encode_varint",
    "encode_varlong",
]

# ---------------------------------------------------------------------------------------------
# Layout constants (Kafka DefaultRecordBatch)
# ---------------------------------------------------------------------------------------------

HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # baseOffset + batchLength, not counted by batchLength
MAGIC_OFFSET = 16
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21  # the CRC covers attributes..end
MAGIC_V2 = 2

CODEC_MASK = 0x07
TIMESTAMP_TYPE_FLAG = 0x08
TRANSACTIONAL_FLAG = 0x10
CONTROL_FLAG = 0x20

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")  # index == codec id
_CODEC_ALIASES = {"uncompressed": "none"}

# Kafka's default levels: gzip uses Deflater.DEFAULT_COMPRESSION (zlib's 6); lz4 at its default
# (9) uses lz4-java's *fast* compressor, other levels the HC one; zstd uses 3.
_GZIP_LEVELS, _GZIP_DEFAULT = range(1, 10), 6
_LZ4_LEVELS = range(1, 18)
_ZSTD_LEVELS, _ZSTD_DEFAULT = range(-131072, 23), 3

# snappy-java's stream format, which Kafka writes: magic, version 1, compatible version 1,
# then [int32 BE compressed length][raw snappy block]... of at most 32 KiB uncompressed each.
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = _XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK_BYTES = 32 * 1024

INT8 = (-(1 << 7), (1 << 7) - 1)
INT16 = (-(1 << 15), (1 << 15) - 1)
INT32 = (-(1 << 31), (1 << 31) - 1)
INT64 = (-(1 << 63), (1 << 63) - 1)


class MalformedError(ValueError):
    """Low-level decode failure (varint, record framing, decompression). Batch-level callers
    turn it into CorruptRecordError carrying the batch's position."""


def corrupt_error(position: int, reason: str) -> CorruptRecordError:
    err = CorruptRecordError(f"corrupt record at position {position}: {reason}")
    err.position = position
    return err


def magic_error(position: int, magic: int) -> UnsupportedMagicError:
    err = UnsupportedMagicError(
        f"unsupported record batch magic {magic} at position {position} (only magic 2 is supported)"
    )
    err.position = position
    err.magic = magic
    return err


def check_range(name: str, value: int, bounds: tuple[int, int]) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not bounds[0] <= value <= bounds[1]:
        raise OverflowError(f"{name}={value} is outside [{bounds[0]}, {bounds[1]}]")
    return value


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# ---------------------------------------------------------------------------------------------
# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, one table lookup per byte
# ---------------------------------------------------------------------------------------------


def _make_crc_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C of ``data``, continuing from ``crc`` (``crc32c(b, crc32c(a)) == crc32c(a + b)``)."""
    table = _CRC_TABLE
    c = (crc & 0xFFFFFFFF) ^ 0xFFFFFFFF
    for byte in bytes(data):
        c = table[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# Zigzag varints (protobuf style, as Kafka's ByteUtils)
# ---------------------------------------------------------------------------------------------


def _encode_unsigned(u: int) -> bytes:
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def encode_varint(value: int) -> bytes:
    """Zigzag varint of a signed 32-bit value (1 to 5 bytes)."""
    check_range("varint", value, INT32)
    return _encode_unsigned(((value << 1) ^ (value >> 31)) & 0xFFFFFFFF)


def encode_varlong(value: int) -> bytes:
    """Zigzag varint of a signed 64-bit value (1 to 10 bytes)."""
    check_range("varlong", value, INT64)
    return _encode_unsigned(((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF)


def _decode_unsigned(buf: bytes, pos: int, max_bytes: int, bits: int) -> tuple[int, int]:
    u = shift = 0
    for i in range(max_bytes):
        if pos + i >= len(buf):
            raise MalformedError(f"varint truncated at byte {pos + i}")
        b = buf[pos + i]
        u |= (b & 0x7F) << shift
        if not b & 0x80:
            u &= (1 << bits) - 1  # Java drops the bits that overflow the int/long
            return (u >> 1) ^ -(u & 1), pos + i + 1
        shift += 7
    raise MalformedError(f"varint longer than {max_bytes} bytes at byte {pos}")


def decode_varint(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """Read a zigzag varint (int32) at ``pos``; returns (value, position after it)."""
    return _decode_unsigned(buf, pos, 5, 32)


def decode_varlong(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """Read a zigzag varlong (int64) at ``pos``; returns (value, position after it)."""
    return _decode_unsigned(buf, pos, 10, 64)


# ---------------------------------------------------------------------------------------------
# Compression, framed as Kafka frames it inside a batch
# ---------------------------------------------------------------------------------------------


def codec_name(codec: str) -> str:
    name = _CODEC_ALIASES.get(codec, codec)
    if name not in CODECS:
        raise UnsupportedCompressionError(f"unsupported compression codec '{codec}'")
    return name


def resolve_level(codec: str, level: int | None) -> int | None:
    """The level ``compress`` will use for ``codec`` (a canonical name); ValueError if out of
    Kafka's range. None means the codec's own default (lz4: the fast compressor)."""
    if codec in ("none", "snappy"):
        return None
    allowed, default = {
        "gzip": (_GZIP_LEVELS, _GZIP_DEFAULT),
        "lz4": (_LZ4_LEVELS, None),
        "zstd": (_ZSTD_LEVELS, _ZSTD_DEFAULT),
    }[codec]
    if level is None:
        return default
    if isinstance(level, bool) or not isinstance(level, int) or level not in allowed:
        raise ValueError(
            f"{codec} compression level {level!r} is outside [{allowed.start}, {allowed.stop - 1}]"
        )
    return level


def _snappy_compress(data: bytes) -> bytes:
    out = [_XERIAL_HEADER]
    for start in range(0, len(data), _XERIAL_BLOCK_BYTES):
        block = bytes(cramjam.snappy.compress_raw(data[start : start + _XERIAL_BLOCK_BYTES]))
        out.append(struct.pack(">i", len(block)))
        out.append(block)
    return b"".join(out)


def _snappy_decompress(data: bytes) -> bytes:
    if not (data.startswith(_XERIAL_MAGIC) and len(data) >= len(_XERIAL_HEADER)):
        return bytes(cramjam.snappy.decompress_raw(data))
    out, pos = [], len(_XERIAL_HEADER)
    while pos < len(data):
        if pos + 4 > len(data):
            raise MalformedError("xerial snappy block length truncated")
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if size < 0 or pos + size > len(data):
            raise MalformedError(f"xerial snappy block of {size} bytes overruns the input")
        out.append(bytes(cramjam.snappy.decompress_raw(data[pos : pos + size])))
        pos += size
    return b"".join(out)


def _lz4_decompress(data: bytes) -> bytes:
    out, rest = [], data
    while True:  # one frame per loop; a Kafka producer writes exactly one
        d = lz4.frame.LZ4FrameDecompressor()
        out.append(d.decompress(rest))
        if not d.eof:
            raise MalformedError("lz4 frame truncated")
        rest = d.unused_data
        if not rest:
            return b"".join(out)


def _zstd_decompress(data: bytes) -> bytes:
    # decompressobj, not decompress(): frames written by a stream (Kafka, librdkafka) do not
    # record their content size, which the one-shot API insists on.
    out, rest = [], data
    dctx = zstandard.ZstdDecompressor()
    while True:
        d = dctx.decompressobj()
        out.append(d.decompress(rest))
        if not d.eof:
            raise MalformedError("zstd frame truncated")
        rest = d.unused_data
        if not rest:
            return b"".join(out)


# What the codec libraries raise on bad input; all of it means the input is corrupt.
_DECOMPRESS_ERRORS = (
    MalformedError,
    OSError,  # gzip.BadGzipFile
    EOFError,  # gzip truncated
    zlib.error,
    RuntimeError,  # lz4.frame
    zstandard.ZstdError,
    cramjam.DecompressionError,
)


def inflate(name: str, data: bytes) -> bytes:
    """Decompress with the canonical codec ``name``, or raise MalformedError."""
    try:
        if name == "none":
            return bytes(data)
        if name == "gzip":
            return gzip.decompress(data)
        if name == "snappy":
            return _snappy_decompress(data)
        if name == "lz4":
            return _lz4_decompress(data)
        return _zstd_decompress(data)
    except _DECOMPRESS_ERRORS as e:
        raise MalformedError(f"{name}: {e}") from e


def compress(codec: str, data: bytes, level: int | None = None) -> bytes:
    """Compress ``data`` as Kafka frames it in a batch: a gzip member, xerial-framed snappy
    (32 KiB blocks), an LZ4 frame (independent 64 KiB blocks, no checksums, no content size),
    a zstd frame. ``level`` is ignored by ``none`` and ``snappy``, which have none."""
    name = codec_name(codec)
    chosen = resolve_level(name, level)
    data = bytes(data)
    if name == "none":
        return data
    if name == "gzip":
        assert chosen is not None  # gzip always has a level
        return gzip.compress(data, chosen, mtime=0)
    if name == "snappy":
        return _snappy_compress(data)
    if name == "lz4":
        return cast(
            bytes,
            lz4.frame.compress(
                data,
                compression_level=0 if chosen is None else chosen,
                block_size=lz4.frame.BLOCKSIZE_MAX64KB,
                block_linked=False,
                content_checksum=False,
                store_size=False,
            ),
        )
    assert chosen is not None  # so has zstd
    return zstandard.ZstdCompressor(level=chosen).compress(data)


def decompress(codec: str, data: bytes) -> bytes:
    """Inverse of :func:`compress`; snappy also accepts raw (unframed) input. Raises
    CorruptRecordError (position 0) when ``data`` is not valid for ``codec``."""
    name = codec_name(codec)
    try:
        return inflate(name, bytes(data))
    except MalformedError as e:
        raise corrupt_error(0, str(e)) from e
