"""`ferrokafka dump-log`: print the batches and records of segment files, like Kafka's
DumpLogSegments, using the Rust decoder; the entries of transaction index files; and (through
dump_files.py) offset/time indexes, producer snapshots and checkpoint files.

A large segment shows its progress on stderr (only on a terminal, or with --progress), so
stdout stays the dump."""

from __future__ import annotations

import os
import struct
import sys
import time

import click

from ferrokafka.storage import FerrokafkaError, decode_batches

from .dump_files import dumper_for

# Segments are read whole; refuse anything larger than a segment can be (Kafka caps
# segment.bytes at Integer.MAX_VALUE).
MAX_SEGMENT_BYTES = 2**31 - 1
TXN_INDEX_SUFFIX = ".txnindex"
# Kafka's AbortedTxn: version, producerId, firstOffset, lastOffset, lastStableOffset.
ABORTED_TXN = struct.Struct(">hqqqq")
# Progress is shown for segments at least this large, at most every PROGRESS_EVERY_S.
PROGRESS_MIN_BYTES = 16 * 1024 * 1024
PROGRESS_EVERY_S = 0.5


class _Progress:
    """``<file>: N/M bytes (P%)`` rewritten in place on stderr while a segment is printed."""

    def __init__(self, path: str, size: int, forced: bool) -> None:
        self.path = path
        self.size = size
        self.on = forced or (sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES)
        self.shown = time.monotonic()

    def update(self, position: int) -> None:
        now = time.monotonic()
        if not self.on or now - self.shown < PROGRESS_EVERY_S:
            return
        self.shown = now
        percent = 100 * position // max(self.size, 1)
        sys.stderr.write(f"\r{self.path}: {position}/{self.size} bytes ({percent}%)")
        sys.stderr.flush()

    def done(self) -> None:
        if self.on:
            sys.stderr.write(f"\r{self.path}: {self.size}/{self.size} bytes (100%)\n")
            sys.stderr.flush()


def _fmt(value: bytes | None) -> str:
    if value is None:
        return "null"
    return value.decode("utf-8", errors="backslashreplace")


@click.command("dump-log")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--records/--no-records", default=True, help="Print every record, not only batches.")
@click.option(
    "--progress", is_flag=True, help="Show progress on stderr (default: large files on a tty)."
)
def dump_log(files: tuple[str, ...], records: bool, progress: bool) -> None:
    """Print the record batches (and records) of .log segment FILES; the entries of .index,
    .timeindex, .txnindex and producer .snapshot FILES; and the checkpoint files of a log
    directory (recovery-point-offset-checkpoint, leader-epoch-checkpoint, partition.metadata,
    ...)."""
    for path in files:
        dumper = dumper_for(path)
        if dumper is not None:
            click.echo(f"Dumping {path}")
            dumper(path)
            continue
        size = os.path.getsize(path)
        if size > MAX_SEGMENT_BYTES:
            raise click.ClickException(f"{path}: {size} bytes is larger than any segment")
        with open(path, "rb") as f:
            data = f.read()
        click.echo(f"Dumping {path}")
        if path.endswith(TXN_INDEX_SUFFIX):
            _dump_txn_index(path, data)
            continue
        try:
            batches = decode_batches(data, verify_crc=False, allow_partial=True)
        except FerrokafkaError as e:
            raise click.ClickException(f"{path}: {e}") from e
        shown = _Progress(path, size, progress)
        for b in batches:
            shown.update(b.position)
            last_sequence = b.base_sequence + b.last_offset_delta if b.base_sequence >= 0 else -1
            click.echo(
                f"baseOffset: {b.base_offset} lastOffset: {b.last_offset} "
                f"count: {b.record_count} baseSequence: {b.base_sequence} "
                f"lastSequence: {last_sequence} "
                f"producerId: {b.producer_id} producerEpoch: {b.producer_epoch} "
                f"partitionLeaderEpoch: {b.partition_leader_epoch} "
                f"isTransactional: {str(b.is_transactional).lower()} "
                f"isControl: {str(b.is_control).lower()} position: {b.position} "
                f"{b.timestamp_type}: {b.max_timestamp} size: {b.size_in_bytes} "
                f"magic: {b.magic} compresscodec: {b.compression} crc: {b.crc} "
                f"isvalid: {str(b.is_valid()).lower()}"
            )
            if not records or not b.is_valid():
                continue
            control = b.control_record()
            if control is not None:
                kind, epoch = control
                click.echo(
                    f"| offset: {b.base_offset} endTxnMarker: {kind} coordinatorEpoch: {epoch}"
                )
                continue
            for r in b.records():
                headers = ",".join(f"{k}:{_fmt(v)}" for k, v in r.headers)
                click.echo(
                    f"| offset: {r.offset} {b.timestamp_type}: {r.timestamp} "
                    f"key: {_fmt(r.key)} headers: {headers} payload: {_fmt(r.value)}"
                )
        shown.done()


def _dump_txn_index(path: str, data: bytes) -> None:
    """One line per entry, as Kafka's DumpLogSegments prints a transaction index."""
    if len(data) % ABORTED_TXN.size:
        raise click.ClickException(
            f"{path}: {len(data)} bytes is not a whole number of {ABORTED_TXN.size}-byte entries"
        )
    for version, producer_id, first, last, lso in ABORTED_TXN.iter_unpack(data):
        click.echo(
            f"version: {version} producerId: {producer_id} firstOffset: {first} "
            f"lastOffset: {last} lastStableOffset: {lso}"
        )
