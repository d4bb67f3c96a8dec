"""Producer state snapshots in Kafka's ``.snapshot`` file format (ProducerStateManager, v1).

A snapshot named ``<20-digit offset>.snapshot`` in a partition directory holds the state of
every producer after all batches below ``offset``. Layout (big endian):

    version int16 (1) | crc uint32 | count int32 | count entries

where each entry is producer_id int64, epoch int16, last_sequence int32, last_offset int64,
offset_delta int32, timestamp int64, coordinator_epoch int32, current_txn_first_offset int64,
and the CRC-32C covers everything after the crc field. Kafka keeps only the last batch of each
producer in a snapshot; the batches after the snapshot offset are replayed from the log.

Writing the same format means a Kafka broker given one of our partition directories loads the
producer state (and ours loads Kafka's).
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from ferrokafka._ferrokafka import crc32c

SNAPSHOT_SUFFIX = ".snapshot"
SNAPSHOT_VERSION = 1
# The number of snapshot files a partition keeps: the newest, and one before it in case the
# newest turns out corrupt at the next start.
SNAPSHOTS_KEPT = 2
# Kafka's RecordBatch.NO_* values, as stored for producers without a transaction.
NO_TXN_OFFSET = -1
NO_COORDINATOR_EPOCH = -1

_HEADER = struct.Struct(">hI")
_COUNT = struct.Struct(">i")
_ENTRY = struct.Struct(">qhiqiqiq")
_NAME = re.compile(r"^(\d{20})\.snapshot$")


class CorruptSnapshotError(Exception):
    """A snapshot whose version, CRC or size is wrong: it is skipped (and deleted)."""


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """The last batch a producer wrote, as a snapshot stores it."""

    producer_id: int
    epoch: int
    last_sequence: int
    last_offset: int
    offset_delta: int
    timestamp: int
    coordinator_epoch: int = NO_COORDINATOR_EPOCH
    current_txn_first_offset: int = NO_TXN_OFFSET


def snapshot_path(log_dir: str | Path, offset: int) -> Path:
    return Path(log_dir) / f"{offset:020d}{SNAPSHOT_SUFFIX}"


def encode(entries: list[SnapshotEntry]) -> bytes:
    body = bytearray(_COUNT.pack(len(entries)))
    for e in entries:
        body += _ENTRY.pack(
            e.producer_id,
            e.epoch,
            e.last_sequence,
            e.last_offset,
            e.offset_delta,
            e.timestamp,
            e.coordinator_epoch,
            e.current_txn_first_offset,
        )
    return _HEADER.pack(SNAPSHOT_VERSION, crc32c(bytes(body))) + body


def decode(data: bytes) -> list[SnapshotEntry]:
    if len(data) < _HEADER.size + _COUNT.size:
        raise CorruptSnapshotError(f"snapshot of {len(data)} bytes is truncated")
    version, crc = _HEADER.unpack_from(data, 0)
    if version != SNAPSHOT_VERSION:
        raise CorruptSnapshotError(f"snapshot version {version} is not {SNAPSHOT_VERSION}")
    body = data[_HEADER.size :]
    if crc32c(body) != crc:
        raise CorruptSnapshotError("snapshot CRC does not match its contents")
    (count,) = _COUNT.unpack_from(body, 0)
    if count < 0 or len(body) != _COUNT.size + count * _ENTRY.size:
        raise CorruptSnapshotError(f"snapshot of {len(data)} bytes cannot hold {count} entries")
    return [
        SnapshotEntry(*_ENTRY.unpack_from(body, _COUNT.size + i * _ENTRY.size))
        for i in range(count)
    ]


def list_snapshots(log_dir: str | Path) -> list[int]:
    """Offsets of the snapshot files in ``log_dir``, ascending."""
    try:
        names = os.listdir(log_dir)
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in map(_NAME.match, names) if m is not None)


def write_snapshot(log_dir: str | Path, offset: int, entries: list[SnapshotEntry]) -> Path:
    """Write atomically (temp file, fsync, rename, fsync of the dir), then keep only the newest
    :data:`SNAPSHOTS_KEPT` snapshots."""
    path = snapshot_path(log_dir, offset)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(encode(entries))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(log_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    for old in list_snapshots(log_dir)[:-SNAPSHOTS_KEPT]:
        delete_snapshot(log_dir, old)
    return path


def delete_snapshot(log_dir: str | Path, offset: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        snapshot_path(log_dir, offset).unlink()


def read_snapshot(log_dir: str | Path, offset: int) -> list[SnapshotEntry]:
    return decode(snapshot_path(log_dir, offset).read_bytes())
