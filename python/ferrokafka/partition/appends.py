"""The checks of a leader append, in Kafka's order, and its result (Kafka's
``UnifiedLog.analyzeAndValidateRecords`` / ``LogValidator`` parts the native log does not do,
and the producer-state check of ``UnifiedLog.append``).

A batch with a producer id is checked against the partition's producer state
(:mod:`ferrokafka.partition.producer_state`): a retry of a batch already written gets the
original offset without a second append; a sequence gap or a fenced epoch gets Kafka's error.
A client may not write control batches (transaction markers: the coordinator's, see
:mod:`ferrokafka.partition.markers`), and the first transactional batch of a producer's
transaction on the partition needs the verification guard of its KIP-890 check.
Used by :class:`ferrokafka.partition.Partition` only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ferrokafka.partition.errors import storage_error_code
from ferrokafka.partition.producer_state import BatchMetadata, Rejected
from ferrokafka.partition.txn_state import VerificationGuard
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import (
    AppendInfo,
    BatchHeader,
    CorruptRecordError,
    FerrokafkaError,
    LogConfig,
    keyless_record_indexes,
    read_batch_header,
)

if TYPE_CHECKING:
    from ferrokafka.partition.partition import Partition

# An append is a write to the page cache; a hop to a worker thread costs about as much as
# appending 256 KiB inline (measured on the dev box: hop ~145 us; inline 16 KiB ~15 us,
# 256 KiB ~145 us, 1 MiB ~650 us). Smaller appends run inline; bigger ones, and every append
# to a log that fsyncs on append (flush.messages), go to a worker thread so the trio loop
# keeps serving other connections.
INLINE_APPEND_BYTES_MAX = 256 * 1024
# A compressed batch appended inline may inflate to at most this much. A batch kept as sent is
# checked as it inflates, one record held at a time, so this bounds CPU, not memory: a few ms
# for the densest zstd. One that would inflate to more — a decompression bomb is a few KB — is
# left to a worker thread (BlockingIOError from the native append, nothing written).
INLINE_INFLATE_BYTES_MAX = 4 * 1024 * 1024
# Compressed batches inflated in worker threads at once. Kept as sent, each holds about one
# record (and its codec's window); recompressed to the topic's codec, each is still inflated
# whole, up to the native limit (128 MiB) for a moment. This bounds that memory, and the cores
# a burst of big inflations can keep busy.
CONCURRENT_INFLATES_MAX = 2
# A producer state snapshot is written once this many offsets were appended since the last
# one, which bounds the log replay after an unclean shutdown (a clean one writes a snapshot).
PRODUCER_SNAPSHOT_INTERVAL_OFFSETS = 1_000_000

_COMPRESSION_MASK = 0x07
# Kafka sets error_message for record-validation errors (RecordValidationException) only.
_ERRORS_WITH_MESSAGE = frozenset({ec.INVALID_RECORD, ec.INVALID_TIMESTAMP})


@dataclass(slots=True)
class AppendResult:
    """The answer to one partition's append: an error code (with Kafka's message where it
    sends one), or the append's info; or, for a retried batch already written, the original.
    Never changed once made (not frozen only because a frozen dataclass costs three times as
    much to build, and one is built per partition of every Produce)."""

    code: int
    message: str | None = None
    info: AppendInfo | None = None
    log_start_offset: int = -1
    # A retried batch already in the log: answered with its original offset, not appended.
    duplicate: BatchMetadata | None = None
    # Kafka's per-record errors: (index of the record in its batch, message).
    record_errors: tuple[tuple[int, str], ...] = ()


class InflateInWorkerThread(Exception):
    """An inline append met a batch that inflates past INLINE_INFLATE_BYTES_MAX; nothing was
    changed, and the append is to be made again in a worker thread."""


def compressed(header: BatchHeader | None) -> bool:
    """Whether the batch is compressed (its append inflates it to check its records)."""
    return header is not None and header.attributes & _COMPRESSION_MASK != 0


def inline(partition: Partition, records: bytes | memoryview, header: BatchHeader | None) -> bool:
    """Whether appending ``records`` (whose batch header is ``header``, None when they are
    shorter than one) needs no wait: small enough for the trio thread, no fsync per append
    (flush.messages), no append under way in a worker thread, and no producer state snapshot
    due once it is in."""
    if partition.append_lock.locked() or partition.log.config.flush_messages is not None:
        return False
    if memoryview(records).nbytes > INLINE_APPEND_BYTES_MAX:
        return False
    if header is None or header.producer_id < 0:
        return True  # no producer state, no snapshot (or refused by the handler or the log)
    end = partition.log.log_end_offset + max(header.last_offset_delta, 0) + 1
    return not snapshot_due(partition, end)


def size_refusal(config: LogConfig, records: bytes | memoryview) -> AppendResult | None:
    """A batch above max.message.bytes is the log's MESSAGE_TOO_LARGE, checked first as in
    Kafka; records that fit a batch but not a segment are RECORD_LIST_TOO_LARGE."""
    size = memoryview(records).nbytes
    if config.segment_bytes < size <= config.max_message_bytes:
        return AppendResult(
            ec.RECORD_LIST_TOO_LARGE,
            f"Records of {size} bytes exceed the segment size {config.segment_bytes}",
        )
    return None


def admitted(
    partition: Partition,
    records: bytes | memoryview,
    header: BatchHeader | None,
    config: LogConfig,
    *,
    keyless_checked: bool,
    from_client: bool = True,
    verification: VerificationGuard | None = None,
) -> AppendResult | None:
    """The checks after the size: records without a key on a compacted topic (unless
    ``keyless_checked``), a client's control batch, an idempotent producer's retry, the
    KIP-890 verification of a transaction's first batch (``verification``: the guard the
    produce path got, None when no verification is asked for), the producer's sequence,
    epoch and transaction state. An AppendResult is the answer (a refusal, or the original of
    a retried batch); None lets the append go ahead."""
    if not keyless_checked and "compact" in config.cleanup_policy:
        # Its check takes bytes: a copy, on compacted topics only. Called in the trio thread:
        # a batch inflating past INLINE_INFLATE_BYTES_MAX raises BlockingIOError.
        refused = keyless_records(partition, bytes(records), inflate_max=INLINE_INFLATE_BYTES_MAX)
        if refused is not None:
            return refused
    if header is None:
        return None
    if header.is_control and from_client:
        # Kafka's LogValidator (the native log refuses them too, in other words).
        return AppendResult(
            ec.INVALID_RECORD,
            "Clients are not allowed to write control records in topic partition "
            f"{partition.topic}-{partition.partition}",
        )
    if header.producer_id < 0:
        return None
    state = partition.producers
    verdict = state.check(header, client=from_client)
    if isinstance(verdict, BatchMetadata):
        return _duplicate(records, header, verdict, partition)
    pid = header.producer_id
    if (
        verification is not None
        and header.is_transactional
        and not state.has_ongoing_transaction(pid, header.producer_epoch)
        and not state.txns.verified(pid, verification)
    ):
        # Kafka's UnifiedLog: no transaction here and no (or a stale) verification: a marker
        # ended the transaction since it was verified, or it never was.
        return AppendResult(ec.INVALID_TXN_STATE, "Record was not part of an ongoing transaction")
    if isinstance(verdict, Rejected):
        return AppendResult(verdict.code, verdict.message)
    return None


def snapshot_due(partition: Partition, log_end_offset: int) -> bool:
    state = partition.producers
    return log_end_offset - max(state.last_snapshot_offset, 0) >= PRODUCER_SNAPSHOT_INTERVAL_OFFSETS


def storage_refusal(exc: FerrokafkaError | OSError) -> AppendResult:
    code = storage_error_code(exc)
    return AppendResult(code, str(exc) if code in _ERRORS_WITH_MESSAGE else None)


def keyless_records(
    partition: Partition, data: bytes, *, inflate_max: int | None = None
) -> AppendResult | None:
    """Kafka's LogValidator.validateKey: a compacted topic refuses records without a key, each
    one a record error, and none of the batch is written. A compressed batch inflating past
    ``inflate_max`` raises BlockingIOError (nothing checked)."""
    try:
        indexes = keyless_record_indexes(data, inflate_max=inflate_max)
    except FerrokafkaError:
        return None  # a corrupt batch: the append reports it with Kafka's error
    if not indexes:
        return None
    message = (
        "Compacted topic cannot accept message without key in topic partition "
        f"{partition.topic}-{partition.partition}."
    )
    shown = ", ".join(f"RecordError(batchIndex={i}, message='{message}')" for i in indexes[:3])
    return AppendResult(
        ec.INVALID_RECORD,
        f"One or more records have been rejected due to {len(indexes)} record errors in total, "
        f"and only showing the first three errors at most: [{shown}]",
        record_errors=tuple((i, message) for i in indexes),
    )


def headers_of(records: bytes | memoryview, valid_bytes: int) -> Iterator[BatchHeader]:
    """The headers of the whole batches in the first ``valid_bytes`` of ``records`` (what an
    append took), read in place."""
    for _, header in positioned_headers(records, valid_bytes):
        yield header


def positioned_headers(
    records: bytes | memoryview, valid_bytes: int
) -> Iterator[tuple[int, BatchHeader]]:
    """:func:`headers_of` with each batch's position in ``records``."""
    view = memoryview(records)[:valid_bytes]
    position = 0
    while valid_bytes - position >= BatchHeader.SIZE:
        header = read_batch_header(view[position:])
        size = header.size_in_bytes
        if size < BatchHeader.SIZE or position + size > valid_bytes:
            return
        yield position, header
        position += size


def header_of(records: bytes | memoryview) -> BatchHeader | None:
    """The header of the batch ``records`` hold, read in place by the native parser; None
    when they are shorter than a header (the handler's or the log's checks refuse them)."""
    try:
        return read_batch_header(records)
    except CorruptRecordError:
        return None


def _duplicate(
    data: bytes | memoryview, header: BatchHeader, original: BatchMetadata, partition: Partition
) -> AppendResult:
    """The answer to a retried batch: the original offset, once the retry's CRC is checked (the
    log checks it on append, and a corrupt batch must not pass as a duplicate)."""
    if not header.crc_valid(data):  # hashed in place, no copy
        return AppendResult(ec.CORRUPT_MESSAGE)
    return AppendResult(
        ec.NONE, duplicate=original, log_start_offset=partition.log.log_start_offset
    )
