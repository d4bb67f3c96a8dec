"""KRaft snapshot files (``<end offset>-<epoch>.checkpoint``), written and read as Kafka does.

A snapshot of the ``__cluster_metadata`` partition is a file of record batches v2, offsets
from 0, each batch stamped with the snapshot's epoch as its partition leader epoch (Kafka's
``RecordsSnapshotWriter``):

1. a control batch: ``SnapshotHeaderRecord`` (control type 3), then, when kraft.version is 1
   or more, ``KRaftVersionRecord`` (type 5) and, with a voter set, ``VotersRecord`` (type 6);
2. data batches of framed metadata records (:mod:`ferrokafka.cluster.serde`), null keys, each
   at most :data:`BATCH_BYTES_MAX` bytes;
3. a control batch holding ``SnapshotFooterRecord`` (type 4).

A control record's key is ``version int16 (0) | type int16``; its value is the message at
version 0. The file is written as ``<name>.checkpoint.part``, fsynced, renamed into place and
made read-only, the way Kafka freezes a snapshot. ``kafka-storage format`` writes the
bootstrap snapshot ``00000000000000000000-0000000000.checkpoint``; the Raft layer will write
metadata snapshots with the same writer.
"""

from __future__ import annotations

import enum
import os
import re
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ferrokafka.cluster.metadata_log import BATCH_BYTES_MAX
from ferrokafka.cluster.serde import ApiMessageAndVersion, decode_record, encode_record
from ferrokafka.protocol.api import decode_message, encode_message
from ferrokafka.protocol.errors import ProtocolDecodeError
from ferrokafka.protocol.messages.k_raft_version_record import KRaftVersionRecord
from ferrokafka.protocol.messages.snapshot_footer_record import SnapshotFooterRecord
from ferrokafka.protocol.messages.snapshot_header_record import SnapshotHeaderRecord
from ferrokafka.protocol.messages.voters_record import VotersRecord
from ferrokafka.protocol.schema import Message
from ferrokafka.storage import (
    BatchBuilder,
    CorruptRecordError,
    RecordBatch,
    crc32c,
    decode_batches,
)
from ferrokafka.storage.checkpoints import fsync_dir

SNAPSHOT_SUFFIX = ".checkpoint"
PARTIAL_SUFFIX = ".checkpoint.part"
# Kafka's control record key: version 0, then the type.
CONTROL_KEY = struct.Struct(">hh")
CONTROL_KEY_VERSION = 0
# Every control message Kafka writes into a snapshot is at version 0.
CONTROL_MESSAGE_VERSION = 0
# Record batch v2 layout: the attributes (int16) at 21, the CRC (uint32) at 17 covering
# everything from the attributes on; bit 5 of the attributes marks a control batch.
_CRC_OFFSET = 17
_ATTRIBUTES_OFFSET = 21
_CONTROL_FLAG = 0x20
# Per-record bytes a batch adds around a value (length, attributes, deltas, key length,
# header count varints), a bound used to cut data batches under BATCH_BYTES_MAX.
_RECORD_OVERHEAD_BYTES_MAX = 25
_BATCH_HEADER_BYTES = 61
# A batch starts with its base offset (int64) and length (int32, the bytes after it).
_BATCH_LENGTH_END = 12
# A snapshot file read into memory at once may not be larger than this (Kafka's bootstrap
# snapshots are a few hundred bytes; a metadata image of a large cluster is some MiB).
SNAPSHOT_BYTES_MAX = 1024 * 1024 * 1024
_NAME = re.compile(r"([0-9]{20})-([0-9]{10})\.checkpoint")
# Kafka's KRaftVersion range a voter of this software supports.
KRAFT_VERSION_MIN, KRAFT_VERSION_MAX = 0, 1


class ControlRecordType(enum.IntEnum):
    """Kafka's ControlRecordType ids (0/1 are transaction markers)."""

    LEADER_CHANGE = 2
    SNAPSHOT_HEADER = 3
    SNAPSHOT_FOOTER = 4
    KRAFT_VERSION = 5
    KRAFT_VOTERS = 6


class SnapshotFileError(ValueError):
    """A snapshot file that is not one Kafka would read (names the file and the problem)."""


@dataclass(frozen=True, order=True)
class SnapshotId:
    """The offset one past the last record the snapshot covers, and that record's epoch."""

    end_offset: int
    epoch: int

    @property
    def file_name(self) -> str:
        return f"{self.end_offset:020d}-{self.epoch:010d}{SNAPSHOT_SUFFIX}"

    @classmethod
    def from_file_name(cls, name: str) -> SnapshotId | None:
        match = _NAME.fullmatch(name)
        if match is None:
            return None
        return cls(int(match.group(1)), int(match.group(2)))


# Kafka's Snapshots.BOOTSTRAP_SNAPSHOT_ID: what the storage tool writes.
BOOTSTRAP_SNAPSHOT_ID = SnapshotId(0, 0)


@dataclass(frozen=True)
class Snapshot:
    """What a snapshot file holds."""

    snapshot_id: SnapshotId
    last_contained_log_timestamp_ms: int
    kraft_version: int
    voters: VotersRecord | None
    records: tuple[ApiMessageAndVersion, ...]

    def messages(self) -> list[Message]:
        return [record.message for record in self.records]


# -- writing ----------------------------------------------------------------------------------


def _control_value(message: Message) -> bytes:
    return encode_message(message, CONTROL_MESSAGE_VERSION)


def _as_control(batch: bytes) -> bytes:
    """The same batch with the control bit set and its CRC recomputed (the batch builder of
    the storage engine makes data batches only)."""
    out = bytearray(batch)
    (attributes,) = struct.unpack_from(">h", out, _ATTRIBUTES_OFFSET)
    struct.pack_into(">h", out, _ATTRIBUTES_OFFSET, attributes | _CONTROL_FLAG)
    struct.pack_into(">I", out, _CRC_OFFSET, crc32c(bytes(out[_ATTRIBUTES_OFFSET:])))
    return bytes(out)


def _control_batch(
    entries: Sequence[tuple[ControlRecordType, Message]], base_offset: int, epoch: int, now_ms: int
) -> bytes:
    builder = BatchBuilder(base_offset=base_offset, partition_leader_epoch=epoch)
    for record_type, message in entries:
        key = CONTROL_KEY.pack(CONTROL_KEY_VERSION, record_type)
        builder.append(_control_value(message), key=key, timestamp=now_ms)
    return _as_control(builder.build())


def _data_batches(
    values: Sequence[bytes], base_offset: int, epoch: int, now_ms: int, batch_bytes_max: int
) -> list[bytes]:
    """Data batches of ``values`` in order, each cut before it would pass ``batch_bytes_max``
    (Kafka's BatchAccumulator fills batches up to KafkaRaftClient.MAX_BATCH_SIZE_BYTES)."""
    groups: list[list[bytes]] = []
    group_bytes = _BATCH_HEADER_BYTES
    for value in values:
        size = len(value) + _RECORD_OVERHEAD_BYTES_MAX
        if _BATCH_HEADER_BYTES + size > batch_bytes_max:
            raise SnapshotFileError(f"a metadata record of {len(value)} bytes cannot fit a batch")
        if not groups or group_bytes + size > batch_bytes_max:
            groups.append([])
            group_bytes = _BATCH_HEADER_BYTES
        groups[-1].append(value)
        group_bytes += size
    batches = []
    offset = base_offset
    for group in groups:
        builder = BatchBuilder(base_offset=offset, partition_leader_epoch=epoch)
        for value in group:
            builder.append(value, key=None, timestamp=now_ms)
        batch = builder.build()
        assert len(batch) <= batch_bytes_max, (len(batch), batch_bytes_max)
        batches.append(batch)
        offset += len(group)
    return batches


def encode_snapshot(
    records: Sequence[Message],
    *,
    snapshot_id: SnapshotId,
    last_contained_log_timestamp_ms: int,
    kraft_version: int = 0,
    voters: VotersRecord | None = None,
    now_ms: int | None = None,
    batch_bytes_max: int = BATCH_BYTES_MAX,
) -> bytes:
    """The bytes of a snapshot holding ``records`` (metadata records, at their write
    versions). ``voters`` needs kraft.version 1 or more, as in Kafka."""
    if not KRAFT_VERSION_MIN <= kraft_version <= KRAFT_VERSION_MAX:
        raise ValueError(f"kraft.version {kraft_version} is not supported")
    if voters is not None and kraft_version == 0:
        raise ValueError("a voter set needs kraft.version 1 or more")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    epoch = snapshot_id.epoch
    header: list[tuple[ControlRecordType, Message]] = [
        (
            ControlRecordType.SNAPSHOT_HEADER,
            SnapshotHeaderRecord(
                version=0, last_contained_log_timestamp=last_contained_log_timestamp_ms
            ),
        )
    ]
    if kraft_version > 0:
        header.append(
            (
                ControlRecordType.KRAFT_VERSION,
                KRaftVersionRecord(version=0, k_raft_version=kraft_version),
            )
        )
        if voters is not None:
            header.append((ControlRecordType.KRAFT_VOTERS, voters))
    parts = [_control_batch(header, 0, epoch, now_ms)]
    offset = len(header)
    values = [encode_record(message) for message in records]
    parts += _data_batches(values, offset, epoch, now_ms, batch_bytes_max)
    offset += len(values)
    footer = [(ControlRecordType.SNAPSHOT_FOOTER, SnapshotFooterRecord(version=0))]
    parts.append(_control_batch(footer, offset, epoch, now_ms))
    return b"".join(parts)


def write_snapshot(
    partition_dir: str | os.PathLike[str],
    records: Sequence[Message],
    *,
    snapshot_id: SnapshotId,
    last_contained_log_timestamp_ms: int,
    kraft_version: int = 0,
    voters: VotersRecord | None = None,
    now_ms: int | None = None,
    replace: bool = False,
) -> Path:
    """Write a snapshot file into ``partition_dir`` (created if missing) atomically and
    durably; returns its path. An existing snapshot of the same id is an error (a snapshot
    id names one immutable state) unless ``replace``: the storage tool rewrites a bootstrap
    snapshot that a format interrupted before meta.properties was written left behind."""
    directory = Path(partition_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / snapshot_id.file_name
    if path.exists() and not replace:
        raise FileExistsError(f"snapshot {path} already exists")
    data = encode_snapshot(
        records,
        snapshot_id=snapshot_id,
        last_contained_log_timestamp_ms=last_contained_log_timestamp_ms,
        kraft_version=kraft_version,
        voters=voters,
        now_ms=now_ms,
    )
    # Assert the bytes right before they are written: they must read back as written.
    decoded = decode_snapshot(data, snapshot_id, str(path))
    assert len(decoded.records) == len(records), (len(decoded.records), len(records))
    return write_snapshot_bytes(directory, snapshot_id, data, replace=True)


def write_snapshot_bytes(
    partition_dir: str | os.PathLike[str],
    snapshot_id: SnapshotId,
    data: bytes,
    *,
    replace: bool = False,
) -> Path:
    """Write snapshot bytes already checked (encoded here, or downloaded from the leader and
    decoded) as ``<id>.checkpoint.part``, fsync, rename into place, make it read-only and
    fsync the directory; returns the path."""
    directory = Path(partition_dir)
    path = directory / snapshot_id.file_name
    if path.exists() and not replace:
        raise FileExistsError(f"snapshot {path} already exists")
    partial = directory / (path.name[: -len(SNAPSHOT_SUFFIX)] + PARTIAL_SUFFIX)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)
    # Frozen: Kafka's FileRawSnapshotWriter makes a finished snapshot read-only.
    os.chmod(path, 0o400)
    fsync_dir(directory)
    return path


# -- reading ----------------------------------------------------------------------------------


def read_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """The snapshot in ``path``; raises :class:`SnapshotFileError` for anything Kafka would
    not accept (name, CRCs, header/footer framing, record encodings)."""
    path = Path(path)
    snapshot_id = SnapshotId.from_file_name(path.name)
    if snapshot_id is None:
        raise SnapshotFileError(
            f"{path}: not a snapshot file name (<20 digits>-<10 digits>.checkpoint)"
        )
    size = path.stat().st_size
    if size > SNAPSHOT_BYTES_MAX:
        raise SnapshotFileError(f"{path}: {size} bytes, more than {SNAPSHOT_BYTES_MAX}")
    return decode_snapshot(path.read_bytes(), snapshot_id, str(path))


def read_last_contained_timestamp(path: str | os.PathLike[str]) -> int:
    """The snapshot header's ``last_contained_log_timestamp`` (Kafka's
    ``Snapshots.lastContainedLogTimestamp``), reading only the first batch."""
    with open(path, "rb") as f:
        head = f.read(_BATCH_LENGTH_END)
        if len(head) < _BATCH_LENGTH_END:
            raise SnapshotFileError(f"{path}: too short for a batch")
        (length,) = struct.unpack_from(">i", head, 8)
        if not 0 < length <= BATCH_BYTES_MAX:
            raise SnapshotFileError(f"{path}: first batch of {length} bytes")
        data = head + f.read(length)
    reader = _SnapshotReader(str(path))
    try:
        batches = decode_batches(data, verify_crc=True)
    except CorruptRecordError as exc:
        raise SnapshotFileError(f"{path}: {exc}") from None
    if not batches:
        raise SnapshotFileError(f"{path}: no first batch")
    reader.batch(batches[0])
    if reader.header is None:
        raise SnapshotFileError(f"{path}: no snapshot header")
    return reader.header.last_contained_log_timestamp


def decode_snapshot(data: bytes, snapshot_id: SnapshotId, where: str = "snapshot") -> Snapshot:
    try:
        batches = decode_batches(data, verify_crc=True)
    except CorruptRecordError as exc:
        raise SnapshotFileError(f"{where}: {exc}") from None
    if not batches:
        raise SnapshotFileError(f"{where}: empty, no snapshot header")
    reader = _SnapshotReader(where)
    expected_offset = 0
    for batch in batches:
        if batch.base_offset != expected_offset:
            raise SnapshotFileError(
                f"{where}: batch at offset {batch.base_offset}, expected {expected_offset}"
            )
        expected_offset = batch.next_offset
        reader.batch(batch)
    return reader.finish(snapshot_id)


class _SnapshotReader:
    """Checks a snapshot's framing batch by batch: header first, footer last."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.header: SnapshotHeaderRecord | None = None
        self.footer = False
        self.kraft_version = 0
        self.voters: VotersRecord | None = None
        self.records: list[ApiMessageAndVersion] = []

    def fail(self, message: str) -> SnapshotFileError:
        return SnapshotFileError(f"{self.where}: {message}")

    def batch(self, batch: RecordBatch) -> None:
        if self.footer:
            raise self.fail(f"batch at offset {batch.base_offset} after the snapshot footer")
        try:
            records = batch.records()
        except CorruptRecordError as exc:
            raise self.fail(str(exc)) from None
        for record in records:
            if self.header is None and not batch.is_control:
                raise self.fail("the first record is not a snapshot header")
            if batch.is_control:
                self.control(record.offset, record.key, record.value)
            elif record.value is None:
                raise self.fail(f"metadata record at offset {record.offset} has no value")
            else:
                try:
                    self.records.append(decode_record(record.value))
                except ProtocolDecodeError as exc:
                    raise self.fail(f"offset {record.offset}: {exc}") from None

    def control(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        if key is None or len(key) != CONTROL_KEY.size or value is None:
            raise self.fail(f"control record at offset {offset} without a type key and a value")
        _version, type_id = CONTROL_KEY.unpack(key)
        if self.header is None and type_id != ControlRecordType.SNAPSHOT_HEADER:
            raise self.fail("the first record is not a snapshot header")
        try:
            record_type = ControlRecordType(type_id)
        except ValueError:
            raise self.fail(f"unknown control record type {type_id} at offset {offset}") from None
        message = self._decode(record_type, value, offset)
        if isinstance(message, SnapshotHeaderRecord):
            if self.header is not None:
                raise self.fail(f"a second snapshot header at offset {offset}")
            self.header = message
        elif isinstance(message, SnapshotFooterRecord):
            self.footer = True
        elif isinstance(message, KRaftVersionRecord):
            self.kraft_version = message.k_raft_version
        elif isinstance(message, VotersRecord):
            self.voters = message
        else:
            raise self.fail(f"control record {record_type.name} at offset {offset} in a snapshot")

    def _decode(self, record_type: ControlRecordType, value: bytes, offset: int) -> Message:
        classes: dict[ControlRecordType, type[Message]] = {
            ControlRecordType.SNAPSHOT_HEADER: SnapshotHeaderRecord,
            ControlRecordType.SNAPSHOT_FOOTER: SnapshotFooterRecord,
            ControlRecordType.KRAFT_VERSION: KRaftVersionRecord,
            ControlRecordType.KRAFT_VOTERS: VotersRecord,
        }
        cls = classes.get(record_type)
        if cls is None:
            raise self.fail(f"control record {record_type.name} at offset {offset} in a snapshot")
        try:
            return decode_message(cls, value, CONTROL_MESSAGE_VERSION)
        except ProtocolDecodeError as exc:
            raise self.fail(f"{record_type.name} at offset {offset}: {exc}") from None

    def finish(self, snapshot_id: SnapshotId) -> Snapshot:
        if self.header is None:
            raise self.fail("no snapshot header")
        if not self.footer:
            raise self.fail("no snapshot footer (a partial snapshot)")
        return Snapshot(
            snapshot_id=snapshot_id,
            last_contained_log_timestamp_ms=self.header.last_contained_log_timestamp,
            kraft_version=self.kraft_version,
            voters=self.voters,
            records=tuple(self.records),
        )
