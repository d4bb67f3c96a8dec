"""Record batches v2 in pure Python: Record, RecordBatch, decode_batches, BatchBuilder and
build_control_batch, mirroring their namesakes in :mod:`ferrokafka._ferrokafka`.

A record inside a batch (Kafka ``DefaultRecord``)::

    length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
    | keyLength varint | key | valueLength varint | value
    | headerCount varint | [headerKeyLength varint | headerKey utf-8
                            | headerValueLength varint | headerValue]...

``length`` counts the bytes after itself; a length of -1 stands for a null key or value.
Framing (:func:`decode_batches`) checks, per batch and in this order: a header's worth of
bytes, magic 2, a batchLength covering the header, the whole batch present, the CRC. Records
are only parsed by :meth:`RecordBatch.records`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ferrokafka._ferrokafka import UnsupportedCompressionError
from ferrokafka.storage.reference.codec import (
    ATTRIBUTES_OFFSET,
    CODEC_MASK,
    CODECS,
    CONTROL_FLAG,
    HEADER,
    HEADER_SIZE,
    INT16,
    INT32,
    INT64,
    LOG_OVERHEAD,
    MAGIC_OFFSET,
    MAGIC_V2,
    TIMESTAMP_TYPE_FLAG,
    TRANSACTIONAL_FLAG,
    MalformedError,
    check_range,
    codec_name,
    compress,
    corrupt_error,
    crc32c,
    decode_varint,
    decode_varlong,
    encode_varint,
    encode_varlong,
    inflate,
    magic_error,
    now_ms,
    resolve_level,
)

__all__ = ["BatchBuilder", "Record", "RecordBatch", "build_control_batch", "decode_batches"]

_TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")
# Control record key: version int16, type int16. Transaction marker value: version int16,
# coordinatorEpoch int32 (later versions append fields; the first six bytes keep their meaning).
_CONTROL_KEY = struct.Struct(">hh")
_MARKER_VALUE = struct.Struct(">hi")
_CONTROL_TYPES = {0: "ABORT", 1: "COMMIT"}
# Everything between the CRC and the records: attributes .. recordCount.
_AFTER_CRC = struct.Struct(">hiqqqhii")


class _Header(NamedTuple):
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int


def _wrap64(value: int) -> int:
    """Java ``long`` arithmetic: offsets and timestamps of a corrupt batch wrap, not grow."""
    return ((value + (1 << 63)) & 0xFFFFFFFFFFFFFFFF) - (1 << 63)


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a batch, with its absolute offset and timestamp."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def _read_bytes(rec: bytes, pos: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(rec, pos)
    if size < 0:  # Kafka: any negative length is null
        return None, pos
    if pos + size > len(rec):
        raise MalformedError(f"field of {size} bytes overruns its record")
    return rec[pos : pos + size], pos + size


def _decode_record(rec: bytes, h: _Header, log_append_time: int | None) -> Record:
    if not rec:
        raise MalformedError("empty record")
    ts_delta, pos = decode_varlong(rec, 1)  # byte 0: record attributes, unused
    offset_delta, pos = decode_varint(rec, pos)
    key, pos = _read_bytes(rec, pos)
    value, pos = _read_bytes(rec, pos)
    header_count, pos = decode_varint(rec, pos)
    if header_count < 0:
        raise MalformedError(f"negative header count {header_count}")
    headers: list[tuple[str, bytes | None]] = []
    for _ in range(header_count):  # each header takes at least two bytes: bounded by len(rec)
        key_size, pos = decode_varint(rec, pos)
        if key_size < 0 or pos + key_size > len(rec):
            raise MalformedError(f"header key length {key_size} out of bounds")
        # Kafka decodes header keys leniently (Java's String(bytes, UTF_8) replaces bad bytes).
        header_key = rec[pos : pos + key_size].decode("utf-8", errors="replace")
        header_value, pos = _read_bytes(rec, pos + key_size)
        headers.append((header_key, header_value))
    if pos != len(rec):
        raise MalformedError(f"record declares {len(rec)} bytes but its fields take {pos}")
    timestamp = (
        log_append_time if log_append_time is not None else _wrap64(h.base_timestamp + ts_delta)
    )
    return Record(_wrap64(h.base_offset + offset_delta), timestamp, key, value, headers)


def _decode_records(body: bytes, h: _Header) -> list[Record]:
    if h.record_count < 0:
        raise MalformedError(f"negative record count {h.record_count}")
    log_append_time = h.max_timestamp if h.attributes & TIMESTAMP_TYPE_FLAG else None
    records, pos = [], 0
    for i in range(h.record_count):
        if pos >= len(body):
            raise MalformedError(f"batch declares {h.record_count} records but holds {i}")
        size, pos = decode_varint(body, pos)
        if size < 0 or pos + size > len(body):
            raise MalformedError(f"record {i} of {size} bytes overruns the batch")
        records.append(_decode_record(body[pos : pos + size], h, log_append_time))
        pos += size
    if pos != len(body):
        raise MalformedError(f"{len(body) - pos} bytes after the last of {h.record_count} records")
    return records


class RecordBatch:
    """A decoded record batch v2 header, with lazy access to its records."""

    __slots__ = ("_buf", "_h", "_position")

    def __init__(self, buf: bytes, header: _Header, position: int) -> None:
        # Made by decode_batches only, after framing checked magic and length.
        self._buf = buf
        self._h = header
        self._position = position

    def __repr__(self) -> str:
        return (
            f"RecordBatch(base_offset={self.base_offset}, record_count={self.record_count}, "
            f"size_in_bytes={self.size_in_bytes}, position={self.position})"
        )

    @property
    def base_offset(self) -> int:
        return self._h.base_offset

    @property
    def last_offset(self) -> int:
        return self._h.base_offset + self._h.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.last_offset + 1

    @property
    def partition_leader_epoch(self) -> int:
        return self._h.partition_leader_epoch

    @property
    def magic(self) -> int:
        return self._h.magic

    @property
    def crc(self) -> int:
        return self._h.crc

    @property
    def attributes(self) -> int:
        return self._h.attributes

    @property
    def compression(self) -> str:
        codec_id = self._h.attributes & CODEC_MASK
        if codec_id >= len(CODECS):
            raise UnsupportedCompressionError(f"unsupported compression codec id {codec_id}")
        return CODECS[codec_id]

    @property
    def timestamp_type(self) -> str:
        return _TIMESTAMP_TYPES[bool(self._h.attributes & TIMESTAMP_TYPE_FLAG)]

    @property
    def is_transactional(self) -> bool:
        return bool(self._h.attributes & TRANSACTIONAL_FLAG)

    @property
    def is_control(self) -> bool:
        return bool(self._h.attributes & CONTROL_FLAG)

    @property
    def last_offset_delta(self) -> int:
        return self._h.last_offset_delta

    @property
    def base_timestamp(self) -> int:
        return self._h.base_timestamp

    @property
    def max_timestamp(self) -> int:
        return self._h.max_timestamp

    @property
    def producer_id(self) -> int:
        return self._h.producer_id

    @property
    def producer_epoch(self) -> int:
        return self._h.producer_epoch

    @property
    def base_sequence(self) -> int:
        return self._h.base_sequence

    @property
    def record_count(self) -> int:
        return self._h.record_count

    @property
    def size_in_bytes(self) -> int:
        """Whole batch, header included (batchLength + 12)."""
        return len(self._buf)

    @property
    def position(self) -> int:
        """Byte position of this batch in the buffer it was decoded from."""
        return self._position

    def is_valid(self) -> bool:
        """Whether the stored CRC matches the bytes."""
        return crc32c(self._buf[ATTRIBUTES_OFFSET:]) == self._h.crc

    def records(self) -> list[Record]:
        """Decode (decompressing if needed) every record; raises CorruptRecordError."""
        codec_id = self._h.attributes & CODEC_MASK
        if codec_id >= len(CODECS):
            raise corrupt_error(self._position, f"unknown compression codec id {codec_id}")
        try:
            body = inflate(CODECS[codec_id], self._buf[HEADER_SIZE:])
            return _decode_records(body, self._h)
        except MalformedError as e:
            raise corrupt_error(self._position, str(e)) from e

    def control_record(self) -> tuple[str, int] | None:
        """For a transaction marker batch: ("COMMIT" | "ABORT", coordinator_epoch); None for
        other batches, including control batches of other types."""
        if not self.is_control:
            return None
        records = self.records()
        if not records:
            raise corrupt_error(self._position, "control batch without a record")
        key, value = records[0].key, records[0].value
        if key is None or len(key) < _CONTROL_KEY.size:
            raise corrupt_error(self._position, "control record key shorter than 4 bytes")
        _version, control_type = _CONTROL_KEY.unpack_from(key)
        if control_type not in _CONTROL_TYPES:
            return None
        if value is None or len(value) < _MARKER_VALUE.size:
            raise corrupt_error(self._position, "transaction marker value shorter than 6 bytes")
        _version, coordinator_epoch = _MARKER_VALUE.unpack_from(value)
        return _CONTROL_TYPES[control_type], coordinator_epoch

    def to_bytes(self) -> bytes:
        """The batch exactly as stored."""
        return self._buf


def decode_batches(
    data: bytes, *, verify_crc: bool = True, allow_partial: bool = False
) -> list[RecordBatch]:
    """Split ``data`` into batches. With ``allow_partial`` a trailing incomplete batch (as at
    the end of a fetch response) is ignored instead of raising CorruptRecordError."""
    buf = bytes(data)
    batches: list[RecordBatch] = []
    pos = 0
    while pos < len(buf):
        rest = len(buf) - pos
        if rest < HEADER_SIZE:
            # Even a partial header must not hide a bad magic when the byte is there.
            if rest > MAGIC_OFFSET and buf[pos + MAGIC_OFFSET] != MAGIC_V2:
                raise magic_error(pos, struct.unpack_from(">b", buf, pos + MAGIC_OFFSET)[0])
            if allow_partial:
                break
            raise corrupt_error(pos, f"{rest} bytes is shorter than a batch header")
        h = _Header._make(HEADER.unpack_from(buf, pos))
        if h.magic != MAGIC_V2:
            raise magic_error(pos, h.magic)
        if h.batch_length < HEADER_SIZE - LOG_OVERHEAD:
            raise corrupt_error(pos, f"batch length {h.batch_length} is smaller than the header")
        end = pos + h.batch_length + LOG_OVERHEAD
        if end > len(buf):
            if allow_partial:
                break
            raise corrupt_error(pos, f"incomplete record batch: {end - pos} bytes, {rest} left")
        batch = RecordBatch(buf[pos:end], h, pos)
        if verify_crc and not batch.is_valid():
            actual = crc32c(buf[pos + ATTRIBUTES_OFFSET : end])
            raise corrupt_error(pos, f"CRC mismatch: stored {h.crc:#010x}, computed {actual:#010x}")
        batches.append(batch)
        pos = end
    return batches


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------


def _as_bytes(name: str, value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes or None, not {type(value).__name__}")
    return bytes(value)


def _field(data: bytes | None) -> bytes:
    return encode_varint(-1) if data is None else encode_varint(len(data)) + data


def _encode_record(
    offset_delta: int,
    timestamp_delta: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
) -> bytes:
    parts = [b"\x00", encode_varlong(timestamp_delta), encode_varint(offset_delta)]
    parts += [_field(key), _field(value), encode_varint(len(headers))]
    for header_key, header_value in headers:
        if not isinstance(header_key, str):
            raise TypeError(f"header key must be str, not {type(header_key).__name__}")
        parts += [
            _field(header_key.encode("utf-8")),
            _field(_as_bytes("header value", header_value)),
        ]
    body = b"".join(parts)
    return encode_varint(len(body)) + body


def _encode_batch(
    *,
    base_offset: int,
    partition_leader_epoch: int,
    attributes: int,
    base_timestamp: int,
    max_timestamp: int,
    producer_id: int,
    producer_epoch: int,
    base_sequence: int,
    record_count: int,
    records: bytes,
) -> bytes:
    after_crc = (
        _AFTER_CRC.pack(
            attributes,
            record_count - 1,
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            record_count,
        )
        + records
    )
    batch_length = HEADER_SIZE - LOG_OVERHEAD + len(records)
    check_range("batch length", batch_length, INT32)
    head = struct.pack(
        ">qiibI", base_offset, batch_length, partition_leader_epoch, MAGIC_V2, crc32c(after_crc)
    )
    return head + after_crc


class BatchBuilder:
    """Builds one record batch v2. ``append`` records, then ``build`` the bytes.

    baseTimestamp is the first record's timestamp and maxTimestamp the largest; timestamps
    are stored as given whatever ``timestamp_type`` says (a broker stamps LogAppendTime).
    """

    def __init__(
        self,
        *,
        compression: str = "none",
        compression_level: int | None = None,
        base_offset: int = 0,
        timestamp_type: str = "CreateTime",
        producer_id: int = -1,
        producer_epoch: int = -1,
        base_sequence: int = -1,
        is_transactional: bool = False,
        partition_leader_epoch: int = -1,
    ) -> None:
        self._codec = codec_name(compression)
        self._level = resolve_level(self._codec, compression_level)
        if timestamp_type not in _TIMESTAMP_TYPES:
            raise ValueError(f"timestamp type {timestamp_type!r} (CreateTime or LogAppendTime)")
        self._attributes = (
            CODECS.index(self._codec)
            | (TIMESTAMP_TYPE_FLAG if timestamp_type == "LogAppendTime" else 0)
            | (TRANSACTIONAL_FLAG if is_transactional else 0)
        )
        self._base_offset = check_range("base_offset", base_offset, INT64)
        self._producer_id = check_range("producer_id", producer_id, INT64)
        self._producer_epoch = check_range("producer_epoch", producer_epoch, INT16)
        self._base_sequence = check_range("base_sequence", base_sequence, INT32)
        self._leader_epoch = check_range("partition_leader_epoch", partition_leader_epoch, INT32)
        self._records: list[bytes] = []
        self._base_timestamp = 0
        self._max_timestamp = 0

    def append(
        self,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
        timestamp: int | None = None,
    ) -> int:
        """Add a record (timestamp defaults to now); returns its offset delta."""
        ts = now_ms() if timestamp is None else check_range("timestamp", timestamp, INT64)
        offset_delta = len(self._records)
        check_range("offset delta", offset_delta, INT32)
        base = ts if offset_delta == 0 else self._base_timestamp
        encoded = _encode_record(
            offset_delta,
            ts - base,
            _as_bytes("key", key),
            _as_bytes("value", value),
            list(headers),
        )
        # Commit only once the record encoded: a rejected append leaves the builder as it was.
        self._records.append(encoded)
        self._base_timestamp = base
        self._max_timestamp = ts if offset_delta == 0 else max(self._max_timestamp, ts)
        return offset_delta

    def __len__(self) -> int:
        return len(self._records)

    def build(self) -> bytes:
        """The encoded batch. Raises ValueError if no record was appended."""
        if not self._records:
            raise ValueError("cannot build a record batch without records")
        records = b"".join(self._records)
        if self._codec != "none":
            records = compress(self._codec, records, self._level)
        return _encode_batch(
            base_offset=self._base_offset,
            partition_leader_epoch=self._leader_epoch,
            attributes=self._attributes,
            base_timestamp=self._base_timestamp,
            max_timestamp=self._max_timestamp,
            producer_id=self._producer_id,
            producer_epoch=self._producer_epoch,
            base_sequence=self._base_sequence,
            record_count=len(self._records),
            records=records,
        )


def build_control_batch(
    *,
    commit: bool,
    producer_id: int,
    producer_epoch: int,
    coordinator_epoch: int = 0,
    timestamp: int | None = None,
    base_offset: int = 0,
    partition_leader_epoch: int = -1,
) -> bytes:
    """A transaction marker batch (one COMMIT or ABORT control record, version 0)."""
    ts = now_ms() if timestamp is None else check_range("timestamp", timestamp, INT64)
    key = _CONTROL_KEY.pack(0, 1 if commit else 0)
    value = _MARKER_VALUE.pack(0, check_range("coordinator_epoch", coordinator_epoch, INT32))
    return _encode_batch(
        base_offset=check_range("base_offset", base_offset, INT64),
        partition_leader_epoch=check_range("partition_leader_epoch", partition_leader_epoch, INT32),
        attributes=TRANSACTIONAL_FLAG | CONTROL_FLAG,
        base_timestamp=ts,
        max_timestamp=ts,
        producer_id=check_range("producer_id", producer_id, INT64),
        producer_epoch=check_range("producer_epoch", producer_epoch, INT16),
        base_sequence=-1,
        record_count=1,
        records=_encode_record(0, 0, key, value, ()),
    )
