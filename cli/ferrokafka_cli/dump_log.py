"""`ferrokafka dump-log`: print the batches and records of segment files, like Kafka's
DumpLogSegments, using the Rust decoder; and the entries of transaction index files."""

import os
import struct

import click

from ferrokafka.storage import FerrokafkaError, decode_batches

# Segments are read whole; refuse anything larger than a segment can be (Kafka caps
# segment.bytes at Integer.MAX_VALUE).
MAX_SEGMENT_BYTES = 2**31 - 1
TXN_INDEX_SUFFIX = ".txnindex"
# Kafka's AbortedTxn: version, producerId, firstOffset, lastOffset, lastStableOffset.
ABORTED_TXN = struct.Struct(">hqqqq")


def _fmt(value: bytes | None) -> str:
    if value is None:
        return "null"
    return value.decode("utf-8", errors="backslashreplace")


@click.command("dump-log")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--records/--no-records", default=True, help="Print every record, not only batches.")
def dump_log(files: tuple[str, ...], records: bool) -> None:
    """Print the record batches (and records) of .log segment FILES, and the aborted
    transactions of .txnindex FILES."""
    for path in files:
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
        for b in batches:
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
