"""`ferrokafka dump-log` for the files beside a segment: offset and time indexes, producer
state snapshots, and the checkpoint and metadata files of a log directory.

Index and snapshot lines read as Kafka's DumpLogSegments prints them (``offset: O position:
P``; ``timestamp: T offset: O``; ``producerId: ... lastTimestamp: ... firstSequence: ...``), so
the two tools can be compared line for line; as Kafka, an index dump stops at the first zeroed
entry (indexes are preallocated) and reports index entries that do not point at the last offset
of a batch in the segment ("Mismatches in :<file>", on stderr). Kafka's tool skips checkpoint
files; ours prints their entries in the same ``name: value`` style.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable
from pathlib import Path

import click

from ferrokafka.storage.checkpoints import (
    CheckpointError,
    kafka_uuid_string,
    read_leader_epoch_checkpoint,
    read_offset_checkpoint,
)
from ferrokafka.storage.partition_metadata import PartitionMetadataError, read_topic_id
from ferrokafka.storage.producer_snapshot import CorruptSnapshotError, decode

INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
SNAPSHOT_SUFFIX = ".snapshot"
LOG_SUFFIX = ".log"
# Kafka's entries: relative offset and position (8 bytes); timestamp and relative offset (12).
OFFSET_ENTRY = struct.Struct(">ii")
TIME_ENTRY = struct.Struct(">qi")
# A batch header up to lastOffsetDelta: baseOffset (8), length (4), epoch (4), magic (1),
# crc (4), attributes (2), lastOffsetDelta (4).
BATCH_PREFIX = struct.Struct(">qiibIhi")
OFFSET_CHECKPOINTS = frozenset(
    {
        "recovery-point-offset-checkpoint",
        "replication-offset-checkpoint",
        "log-start-offset-checkpoint",
        "cleaner-offset-checkpoint",
    }
)
LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
PARTITION_METADATA = "partition.metadata"
INT_MAX = 2**31 - 1


def dumper_for(path: str) -> Callable[[str], None] | None:
    """The dump function for ``path`` by its name, or None (a segment or unknown file)."""
    name = os.path.basename(path)
    if name.endswith(INDEX_SUFFIX):
        return dump_offset_index
    if name.endswith(TIME_INDEX_SUFFIX):
        return dump_time_index
    if name.endswith(SNAPSHOT_SUFFIX):
        return dump_producer_snapshot
    if name in OFFSET_CHECKPOINTS:
        return dump_offset_checkpoint
    if name == LEADER_EPOCH_CHECKPOINT:
        return dump_leader_epoch_checkpoint
    if name == PARTITION_METADATA:
        return dump_partition_metadata
    return None


def _base_offset(path: str) -> int:
    stem = os.path.basename(path).split(".")[0]
    if not stem.isdigit():
        raise click.ClickException(f"{path}: the name is not a 20-digit base offset")
    return int(stem)


def _entries(path: str, entry: struct.Struct) -> list[tuple[int, ...]]:
    data = Path(path).read_bytes()
    # As Kafka's AbstractIndex: a trailing partial entry is not an entry.
    whole = len(data) - len(data) % entry.size
    return list(entry.iter_unpack(data[:whole]))


def _batch_last_offsets(path: str) -> Callable[[int], int | None] | None:
    """For the segment beside an index: position -> last offset of the batch there."""
    log = Path(path).with_name(Path(path).name.split(".")[0] + LOG_SUFFIX)
    if not log.is_file() or log.stat().st_size == 0:
        return None
    with open(log, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def last_offset(position: int) -> int | None:
        if position < 0 or position + BATCH_PREFIX.size > len(data):
            return None
        base, _length, _epoch, _magic, _crc, _attrs, delta = BATCH_PREFIX.unpack_from(
            data, position
        )
        return int(base + delta)

    return last_offset


def dump_offset_index(path: str) -> None:
    base = _base_offset(path)
    entries = _entries(path, OFFSET_ENTRY)
    if not entries:
        click.echo(f"{path} is empty.")
        return
    last_offset_at = _batch_last_offsets(path)
    mismatches: list[tuple[int, int]] = []
    for i, (relative, position) in enumerate(entries):
        if relative == 0 and i > 0:
            break  # preallocated zeros: the rest is unused
        offset = base + relative
        if last_offset_at is not None:
            found = last_offset_at(position)
            if found != offset:
                mismatches.append((offset, -1 if found is None else found))
        click.echo(f"offset: {offset} position: {position}")
    if mismatches:
        click.echo(f"Mismatches in :{os.path.abspath(path)}", err=True)
        for index_offset, log_offset in mismatches:
            click.echo(f"  Index offset: {index_offset}, log offset: {log_offset}", err=True)


def dump_time_index(path: str) -> None:
    base = _base_offset(path)
    previous = -1
    out_of_order: list[tuple[int, int]] = []
    for i, (timestamp, relative) in enumerate(_entries(path, TIME_ENTRY)):
        if relative == 0 and i > 0:
            break
        if previous >= timestamp:
            out_of_order.append((timestamp, previous))
        click.echo(f"timestamp: {timestamp} offset: {base + relative}")
        previous = timestamp
    for timestamp, before in out_of_order:
        click.echo(
            f"Found out of order timestamp in {os.path.abspath(path)}: "
            f"Indexed timestamp: {timestamp}, Previously indexed timestamp: {before}",
            err=True,
        )


def _first_sequence(last_sequence: int, delta: int) -> int:
    """Kafka's DefaultRecordBatch.decrementSequence (sequences wrap at Integer.MAX_VALUE)."""
    if last_sequence < delta:
        return INT_MAX - (delta - last_sequence) + 1
    return last_sequence - delta


def dump_producer_snapshot(path: str) -> None:
    try:
        entries = decode(Path(path).read_bytes())
    except CorruptSnapshotError as exc:
        click.echo(f"{path}: {exc}", err=True)
        return
    for e in entries:
        # Kafka prints the transaction's first offset as a Java OptionalLong.
        txn = (
            f"OptionalLong[{e.current_txn_first_offset}]"
            if e.current_txn_first_offset >= 0
            else "OptionalLong.empty"
        )
        line = (
            f"producerId: {e.producer_id} producerEpoch: {e.epoch} "
            f"coordinatorEpoch: {e.coordinator_epoch} currentTxnFirstOffset: {txn} "
            f"lastTimestamp: {e.timestamp} "
        )
        if e.last_offset >= 0:
            line += (
                f"firstSequence: {_first_sequence(e.last_sequence, e.offset_delta)} "
                f"lastSequence: {e.last_sequence} lastOffset: {e.last_offset} "
                f"offsetDelta: {e.offset_delta} timestamp: {e.timestamp}"
            )
        click.echo(line)


def dump_offset_checkpoint(path: str) -> None:
    try:
        entries = read_offset_checkpoint(path)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"version: 0 entries: {len(entries)}")
    for (topic, partition), offset in sorted(entries.items()):
        click.echo(f"topic: {topic} partition: {partition} offset: {offset}")


def dump_leader_epoch_checkpoint(path: str) -> None:
    try:
        entries = read_leader_epoch_checkpoint(path)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"version: 0 entries: {len(entries)}")
    for entry in entries:
        click.echo(f"epoch: {entry.epoch} startOffset: {entry.start_offset}")


def dump_partition_metadata(path: str) -> None:
    try:
        topic_id = read_topic_id(os.path.dirname(os.path.abspath(path)))
    except PartitionMetadataError as exc:
        raise click.ClickException(str(exc)) from None
    assert topic_id is not None  # the file exists: click checked
    click.echo(f"version: 0 topicId: {kafka_uuid_string(topic_id)}")
