"""Typed stub of ferrokafka's native module (Rust, PyO3).

Kept true by ``tests/unit/test_stub.py`` (``mypy.stubtest``). The Python-facing API lives in
``ferrokafka.storage``; this module is the narrow door into Rust.

Conventions: offsets are absolute (relative offsets stay inside indexes); timestamps are
milliseconds since the epoch; sizes are bytes; codec names are Kafka's ``compression.type``
values ("none", "gzip", "snappy", "lz4", "zstd").
"""

from collections.abc import Sequence
from types import TracebackType
from typing import Any, ClassVar, Literal, final

__version__: str
__all__ = [
    "__version__",
    "FerrokafkaError",
    "CorruptRecordError",
    "UnsupportedMagicError",
    "UnsupportedCompressionError",
    "RecordTooLargeError",
    "OffsetOutOfRangeError",
    "InvalidTimestampError",
    "InvalidOffsetError",
    "InvalidRecordError",
    "LogConfigError",
    "LogClosedError",
    "crc32c",
    "compress",
    "decompress",
    "decode_batches",
    "Record",
    "RecordBatch",
    "BatchHeader",
    "read_batch_header",
    "build_control_batch",
    "BatchBuilder",
    "LogConfig",
    "AppendInfo",
    "FileRegion",
    "FetchInfo",
    "SegmentInfo",
    "Log",
    "CleanableInfo",
    "CleanStats",
    "cleanable_info",
    "clean_log",
    "keyless_record_indexes",
    "NativeRequestHeader",
    "NativeProducePartition",
    "NativeProduceTopic",
    "NativeProduceRequest",
    "NativeFetchPartition",
    "NativeFetchTopic",
    "NativeForgottenTopic",
    "NativeFetchRequest",
    "parse_request_header",
    "parse_produce_request",
    "write_produce_response",
    "parse_fetch_request",
    "write_fetch_response",
    "ResponseWriter",
]

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

class FerrokafkaError(Exception):
    """Base class of ferrokafka storage errors."""

class CorruptRecordError(FerrokafkaError):
    """A record batch failed validation (CRC, length, framing, record count, ...)."""

    position: int
    """Byte position of the offending batch in its input buffer or segment file."""

class UnsupportedMagicError(CorruptRecordError):
    """A record batch whose magic byte is not 2."""

    magic: int

class UnsupportedCompressionError(FerrokafkaError):
    """An unknown compression codec id or name."""

class RecordTooLargeError(FerrokafkaError):
    """A batch larger than ``max_message_bytes``."""

    size: int
    limit: int

class OffsetOutOfRangeError(FerrokafkaError):
    """An offset outside ``[log_start_offset, log_end_offset]``."""

    offset: int
    log_start_offset: int
    log_end_offset: int

class InvalidTimestampError(FerrokafkaError):
    """Record timestamps rejected by validation."""

class InvalidOffsetError(FerrokafkaError):
    """An append whose offsets do not follow the log (e.g. a follower append going back)."""

class InvalidRecordError(FerrokafkaError):
    """A well-formed record the log does not accept."""

class LogConfigError(FerrokafkaError):
    """A log configuration value out of range."""

class LogClosedError(FerrokafkaError):
    """Operation on a closed log."""

# --------------------------------------------------------------------------------------------
# Record batches (no I/O)
# --------------------------------------------------------------------------------------------

def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``, continuing from ``crc``. Hardware-accelerated."""

def compress(codec: str, data: bytes, level: int | None = None) -> bytes:
    """Compress ``data`` the way Kafka frames it inside a batch (xerial snappy, LZ4 frame)."""

def decompress(codec: str, data: bytes) -> bytes:
    """Inverse of :func:`compress`; snappy accepts both xerial-framed and raw input."""

@final
class Record:
    """One record of a batch, with its absolute offset and timestamp."""

    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> list[tuple[str, bytes | None]]: ...

@final
class RecordBatch:
    """A decoded record batch v2 header, with lazy access to its records."""

    @property
    def base_offset(self) -> int: ...
    @property
    def last_offset(self) -> int: ...
    @property
    def next_offset(self) -> int: ...
    @property
    def partition_leader_epoch(self) -> int: ...
    @property
    def magic(self) -> int: ...
    @property
    def crc(self) -> int: ...
    @property
    def attributes(self) -> int: ...
    @property
    def compression(self) -> str: ...
    @property
    def timestamp_type(self) -> str:
        """ "CreateTime" or "LogAppendTime"."""
    @property
    def is_transactional(self) -> bool: ...
    @property
    def is_control(self) -> bool: ...
    @property
    def last_offset_delta(self) -> int: ...
    @property
    def base_timestamp(self) -> int: ...
    @property
    def max_timestamp(self) -> int: ...
    @property
    def producer_id(self) -> int: ...
    @property
    def producer_epoch(self) -> int: ...
    @property
    def base_sequence(self) -> int: ...
    @property
    def record_count(self) -> int: ...
    @property
    def size_in_bytes(self) -> int:
        """Whole batch, header included (batchLength + 12)."""
    @property
    def position(self) -> int:
        """Byte position of this batch in the buffer or segment file it was read from."""
    def is_valid(self) -> bool:
        """Whether the stored CRC matches the bytes."""
    def records(self) -> list[Record]:
        """Decode (decompressing if needed) every record; raises CorruptRecordError."""
    def control_record(self) -> tuple[str, int] | None:
        """For a control batch: ("COMMIT" | "ABORT", coordinator_epoch); otherwise None."""
    def to_bytes(self) -> bytes:
        """The batch exactly as stored."""

# --------------------------------------------------------------------------------------------
# Batch headers (no I/O)
# --------------------------------------------------------------------------------------------

@final
class BatchHeader:
    """The fixed 61-byte header of a record batch v2, decoded by the native parser.

    From :func:`read_batch_header` (fields as stored in a buffer, not yet validated) or
    :meth:`Log.batch_header_at` (a batch in the log, as stamped on append).
    """

    SIZE: ClassVar[int]
    """Bytes in a batch header (61); the first record starts there."""

    @property
    def base_offset(self) -> int: ...
    @property
    def batch_length(self) -> int:
        """batchLength: the bytes of the batch after this field."""
    @property
    def size_in_bytes(self) -> int:
        """The whole batch, header included (batchLength + 12)."""
    @property
    def partition_leader_epoch(self) -> int:
        """The leader epoch stamped on append (-1 in a producer's batch)."""
    @property
    def magic(self) -> int: ...
    @property
    def crc(self) -> int:
        """The stored CRC-32C of the bytes from the attributes to the end of the batch."""
    @property
    def attributes(self) -> int: ...
    @property
    def compression(self) -> str:
        """The codec of the attributes; UnsupportedCompressionError for an unknown id."""
    @property
    def timestamp_type(self) -> str:
        """ "CreateTime" or "LogAppendTime"."""
    @property
    def is_transactional(self) -> bool: ...
    @property
    def is_control(self) -> bool: ...
    @property
    def last_offset_delta(self) -> int: ...
    @property
    def last_offset(self) -> int:
        """base_offset + last_offset_delta."""
    @property
    def base_timestamp(self) -> int: ...
    @property
    def max_timestamp(self) -> int: ...
    @property
    def producer_id(self) -> int:
        """-1 for a producer without idempotence."""
    @property
    def producer_epoch(self) -> int: ...
    @property
    def base_sequence(self) -> int: ...
    @property
    def last_sequence(self) -> int:
        """Sequence of the last record (Kafka's ``lastSequence``): base_sequence +
        last_offset_delta, wrapping to 0 after 2**31 - 1; -1 when base_sequence is -1."""
    @property
    def record_count(self) -> int: ...
    def crc_valid(self, records: bytes | bytearray | memoryview) -> bool:
        """Whether ``records`` (the buffer this header was read from) starts with the whole
        batch and its CRC matches :attr:`crc`; False when the batch is cut short. Hashed in
        place, without a copy (and without the GIL for large read-only buffers); bytes after
        the batch are ignored."""

def read_batch_header(records: bytes | bytearray | memoryview) -> BatchHeader:
    """The header at the front of ``records`` (any byte buffer, read in place: a read-only
    ``memoryview`` of a request frame is not copied), fields exactly as stored. Raises
    CorruptRecordError when ``records`` is shorter than a header (61 bytes); nothing else is
    judged here (magic, lengths, CRC and records are the log's to check on append), so a
    caller applying its own rules reads :attr:`~BatchHeader.magic` and
    :attr:`~BatchHeader.batch_length` first."""

def decode_batches(
    data: bytes, *, verify_crc: bool = True, allow_partial: bool = False
) -> list[RecordBatch]:
    """Split ``data`` into batches. With ``allow_partial`` a trailing incomplete batch (as at
    the end of a fetch response) is ignored instead of raising CorruptRecordError."""

@final
class BatchBuilder:
    """Builds one record batch v2. ``append`` records, then ``build`` the bytes."""

    def __new__(
        cls,
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
    ) -> BatchBuilder: ...
    def append(
        self,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
        timestamp: int | None = None,
    ) -> int:
        """Add a record (timestamp defaults to now); returns its offset delta."""
    def __len__(self) -> int: ...
    def build(self) -> bytes:
        """The encoded batch. Raises ValueError if no record was appended."""

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
    """A transaction marker batch (one COMMIT or ABORT control record)."""

# --------------------------------------------------------------------------------------------
# The partition log
# --------------------------------------------------------------------------------------------

@final
class LogConfig:
    """Per-log settings, named after Kafka's topic configs (``segment.bytes`` -> segment_bytes).

    ``None`` for retention_ms / retention_bytes means unlimited (-1 in Kafka); ``None`` for
    flush_messages / flush_ms means never flush on count / time (Kafka's default).
    """

    def __new__(
        cls,
        *,
        segment_bytes: int = 1073741824,
        segment_ms: int = 604800000,
        segment_index_bytes: int = 10485760,
        index_interval_bytes: int = 4096,
        retention_ms: int | None = 604800000,
        retention_bytes: int | None = None,
        flush_messages: int | None = None,
        flush_ms: int | None = None,
        max_message_bytes: int = 1048588,
        message_timestamp_type: str = "CreateTime",
        message_timestamp_before_max_ms: int | None = None,
        message_timestamp_after_max_ms: int | None = 3600000,
        compression_type: str = "producer",
        cleanup_policy: list[str] = ["delete"],
        delete_retention_ms: int = 86400000,
        min_compaction_lag_ms: int = 0,
        max_compaction_lag_ms: int | None = None,
        min_cleanable_dirty_ratio: float = 0.5,
    ) -> LogConfig: ...
    @property
    def segment_bytes(self) -> int: ...
    @property
    def segment_ms(self) -> int: ...
    @property
    def segment_index_bytes(self) -> int: ...
    @property
    def index_interval_bytes(self) -> int: ...
    @property
    def retention_ms(self) -> int | None: ...
    @property
    def retention_bytes(self) -> int | None: ...
    @property
    def flush_messages(self) -> int | None: ...
    @property
    def flush_ms(self) -> int | None: ...
    @property
    def max_message_bytes(self) -> int: ...
    @property
    def message_timestamp_type(self) -> str: ...
    @property
    def message_timestamp_before_max_ms(self) -> int | None: ...
    @property
    def message_timestamp_after_max_ms(self) -> int | None: ...
    @property
    def compression_type(self) -> str:
        """ "producer" keeps each batch's codec; a codec name recompresses batches that differ."""
    @property
    def cleanup_policy(self) -> list[str]:
        """ "compact" and/or "delete", in that order; retention by time and size needs "delete"."""
    @property
    def delete_retention_ms(self) -> int: ...
    @property
    def min_compaction_lag_ms(self) -> int: ...
    @property
    def max_compaction_lag_ms(self) -> int | None:
        """``None``: never force a clean (Kafka's Long.MAX)."""
    @property
    def min_cleanable_dirty_ratio(self) -> float: ...

@final
class AppendInfo:
    """What an append did."""

    @property
    def first_offset(self) -> int: ...
    @property
    def last_offset(self) -> int: ...
    @property
    def max_timestamp(self) -> int: ...
    @property
    def offset_of_max_timestamp(self) -> int: ...
    @property
    def log_append_time(self) -> int:
        """The broker time stamped on the batches, or -1 for CreateTime logs."""
    @property
    def record_count(self) -> int: ...
    @property
    def batch_count(self) -> int: ...
    @property
    def valid_bytes(self) -> int: ...
    # The producer fields of the appended batch (of the last one when an append holds
    # several; a produce appends exactly one), from the header the log already parsed.
    @property
    def producer_id(self) -> int:
        """The appended batch's producer id, -1 without idempotence."""
    @property
    def producer_epoch(self) -> int: ...
    @property
    def base_sequence(self) -> int: ...
    @property
    def last_sequence(self) -> int:
        """As :attr:`BatchHeader.last_sequence`."""
    @property
    def is_transactional(self) -> bool: ...
    @property
    def is_control(self) -> bool: ...

@final
class FileRegion:
    """A byte range of a segment file, kept open even if the segment is later deleted."""

    @property
    def path(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def length(self) -> int: ...
    def read(self) -> bytes:
        """Copy the region into memory (tests and small reads; the broker uses sendfile)."""
    def sendfile(self, out_fd: int, offset: int = 0, count: int | None = None) -> int:
        """sendfile(2) up to ``count`` bytes of the region, starting ``offset`` bytes into it,
        to the socket ``out_fd``. Returns bytes sent, possibly fewer than asked on a
        non-blocking socket; raises BlockingIOError if nothing could be sent."""

@final
class FetchInfo:
    """The result of a log read: file regions in log order, never copied."""

    @property
    def regions(self) -> list[FileRegion]: ...
    @property
    def size_in_bytes(self) -> int: ...
    def read(self) -> bytes:
        """All regions concatenated (a copy)."""

@final
class SegmentInfo:
    @property
    def base_offset(self) -> int: ...
    @property
    def next_offset(self) -> int:
        """One past the last offset stored in the segment (== base_offset when empty)."""
    @property
    def size_in_bytes(self) -> int: ...
    @property
    def max_timestamp(self) -> int: ...
    @property
    def path(self) -> str:
        """Path of the segment's ``.log`` file."""
    @property
    def is_active(self) -> bool: ...

@final
class Log:
    """A partition log: a directory ``<topic>-<partition>`` of segments.

    Opening recovers the log: segments after ``recovery_point`` are scanned, the log is
    truncated at the first torn or corrupt batch and indexes are rebuilt. Safe to share
    between threads; file and CPU work runs without the GIL.
    """

    def __new__(
        cls,
        dir: str,
        config: LogConfig | None = None,
        *,
        recovery_point: int = 0,
        log_start_offset: int | None = None,
    ) -> Log: ...
    @property
    def dir(self) -> str: ...
    @property
    def config(self) -> LogConfig: ...
    @property
    def log_start_offset(self) -> int: ...
    @property
    def log_end_offset(self) -> int: ...
    @property
    def recovery_point(self) -> int:
        """Every offset below this is flushed to disk."""
    @property
    def size_in_bytes(self) -> int: ...
    def update_config(self, config: LogConfig) -> None: ...
    def append(
        self,
        records: bytes | bytearray | memoryview,
        *,
        leader_epoch: int = -1,
        now_ms: int | None = None,
        inflate_max: int | None = None,
    ) -> AppendInfo:
        """Validate ``records`` (one or more batches) as a leader does on produce, assign
        offsets from the log end, stamp ``leader_epoch`` and append with one write. Any
        C-contiguous byte buffer: a read-only one is read in place without the GIL, a
        writable one is copied first (it could change meanwhile). ``inflate_max``: a
        compressed batch that would inflate to more than this raises BlockingIOError before
        anything is written (for a caller that must not wait: it retries where it may)."""
    def append_as_follower(self, records: bytes) -> AppendInfo:
        """Append batches whose offsets were assigned by a leader (checked to follow the log)."""
    def read(
        self,
        offset: int,
        max_bytes: int,
        *,
        max_offset: int | None = None,
        min_one_batch: bool = True,
        nowait: bool = False,
    ) -> FetchInfo:
        """Regions from the batch holding ``offset`` on, up to ``max_bytes`` (but at least one
        whole batch when ``min_one_batch``) and below ``max_offset`` (exclusive, e.g. the high
        watermark). Regions hold whole batches only and may span segments; a batch holding
        ``max_offset`` is not returned. Raises OffsetOutOfRangeError outside
        [log_start_offset, log_end_offset]. With ``nowait``, the segment files are read from
        the page cache only: BlockingIOError where the disk would be waited for (always, on
        systems without Linux's RWF_NOWAIT), so an event loop can read inline and hand only
        that case to a worker thread (the offset index is memory-mapped and not covered)."""
    def read_batches(
        self, offset: int, max_bytes: int = 1048576, *, max_offset: int | None = None
    ) -> list[RecordBatch]:
        """Decoded batches of :meth:`read` (a copy; for tools and tests)."""
    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record with timestamp >= ``timestamp``, or None."""
    def offset_for_max_timestamp(self) -> tuple[int, int] | None:
        """(offset, timestamp) of the record with the largest timestamp, or None if empty."""
    def batch_header_at(self, offset: int) -> BatchHeader | None:
        """The header of the batch holding ``offset`` as stored in the log (its base offset
        and leader epoch as stamped on append): an index lookup and a read of a few headers,
        without the GIL. None outside [log_start_offset, log_end_offset)."""
    def append_aborted_txn(
        self, producer_id: int, first_offset: int, last_offset: int, last_stable_offset: int
    ) -> None:
        """Record an aborted transaction (Kafka's ``AbortedTxn``) in the ``.txnindex`` of the
        segment holding its ABORT marker, ``last_offset`` (already appended; normally the
        active segment). ``last_offset`` must be inside the log and above every recorded one,
        ``first_offset`` not after it, else ``InvalidOffsetError``."""
    @property
    def last_aborted_txn_offset(self) -> int | None:
        """The ABORT marker offset of the newest ``.txnindex`` entry, or None. A crash between
        appending an ABORT marker and ``append_aborted_txn`` loses only the newest entries:
        a replay of the log (producer state rebuilt from the recovery point) re-adds those
        whose marker is past this offset."""
    def collect_aborted_txns(
        self, start_offset: int, upper_bound_offset: int
    ) -> list[tuple[int, int]]:
        """Kafka's ``collectAbortedTransactions``: ``(producer_id, first_offset)`` of every
        aborted transaction with ``last_offset >= start_offset`` and ``first_offset <
        upper_bound_offset``, in index order, from the segment holding ``start_offset`` on.
        More than 1,048,576 is an ``InvalidOffsetError`` (ask for a smaller range)."""
    def segments(self) -> list[SegmentInfo]: ...
    def roll(self) -> None:
        """Close the active segment and start a new one at the log end offset."""
    def flush(self) -> None:
        """fsync everything up to the log end offset and advance the recovery point."""
    def truncate_to(self, offset: int) -> None:
        """Remove every record at or after ``offset`` (replication divergence). A batch holding
        ``offset`` goes whole, so the log end offset may end up below ``offset``."""
    def truncate_fully(self, new_start_offset: int) -> None:
        """Delete every segment and restart the log, empty, at ``new_start_offset``."""
    def advance_log_start_offset(self, offset: int) -> None:
        """Raise the log start offset (DeleteRecords); segments wholly below it are deleted."""
    def delete_old_segments(self, now_ms: int | None = None) -> int:
        """Apply retention by time and by bytes to closed segments; returns how many went."""
    def maybe_flush(self, now_ms: int | None = None) -> bool:
        """Flush if ``flush_messages`` or ``flush_ms`` says so, else flush segments rolled since
        the last flush (Kafka does that in the background; call this periodically from a worker
        thread). Returns whether anything was flushed."""
    def close(self) -> None:
        """Flush and close. Further use raises LogClosedError."""
    def __enter__(self) -> Log: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

# --------------------------------------------------------------------------------------------
# The log cleaner (compaction)
# --------------------------------------------------------------------------------------------

@final
class CleanableInfo:
    """How dirty a log is: the dirty section is [first_dirty_offset, first_uncleanable_offset)."""

    @property
    def first_dirty_offset(self) -> int:
        """The checkpoint given, moved into [log start, log end]."""
    @property
    def first_uncleanable_offset(self) -> int:
        """The active segment's base, lowered by min.compaction.lag.ms and ``max_offset``."""
    @property
    def clean_bytes(self) -> int: ...
    @property
    def cleanable_bytes(self) -> int: ...
    @property
    def dirty_ratio(self) -> float:
        """cleanable / (clean + cleanable), compared with min.cleanable.dirty.ratio."""
    @property
    def needs_compaction_now(self) -> bool:
        """A dirty record is older than max.compaction.lag.ms."""

@final
class CleanStats:
    """What one clean did."""

    @property
    def first_dirty_offset(self) -> int: ...
    @property
    def end_offset(self) -> int:
        """The next cleaner checkpoint (everything below it is clean)."""
    @property
    def segments_cleaned(self) -> int: ...
    @property
    def bytes_read(self) -> int: ...
    @property
    def bytes_written(self) -> int: ...
    @property
    def records_read(self) -> int: ...
    @property
    def records_kept(self) -> int: ...
    @property
    def keys_mapped(self) -> int: ...
    @property
    def aborted(self) -> bool:
        """The log changed under the cleaner; ``end_offset`` is then the first dirty offset."""

def cleanable_info(
    log: Log, checkpoint: int | None, *, max_offset: int | None = None, now_ms: int | None = None
) -> CleanableInfo:
    """How dirty ``log`` is for the cleaner checkpoint ``checkpoint`` (None: never cleaned)."""

def clean_log(
    log: Log,
    checkpoint: int | None,
    *,
    dedupe_buffer_bytes: int = 134217728,
    max_offset: int | None = None,
    now_ms: int | None = None,
) -> CleanStats:
    """Compact ``log`` once from ``checkpoint``: the latest record per key stays, at its offset;
    tombstones go once their batch's delete horizon has passed. Transactions (KIP-98): nothing
    at or past ``max_offset`` (pass the last stable offset) is cleaned; records of aborted
    transactions (from the ``.txnindex`` files) go; a COMMIT/ABORT marker goes once its
    transaction has no data left and its delete horizon has passed; each cleaned segment's
    ``.txnindex`` lists the aborted transactions whose markers it keeps. Appends and reads
    continue meanwhile; the log's lock is held only to swap cleaned segments in. Raises
    LogConfigError when ``dedupe_buffer_bytes`` cannot hold the keys of one batch."""

def keyless_record_indexes(records: bytes, *, inflate_max: int | None = None) -> list[int]:
    """Index within its batch of each record without a key (control batches skipped);
    compressed batches are walked as they inflate. ``inflate_max``: a compressed batch that
    would inflate to more than this raises BlockingIOError (as ``Log.append``)."""

# -- wire: the native Produce and Fetch codec (see ferrokafka.protocol.native) ---------------
#
# The readers give frozen objects whose fields are named as the message classes' fields; the
# writers read the message objects' attributes by name (tests/protocol/test_native_drift.py
# holds those names to the generated classes).

@final
class NativeRequestHeader:
    """A request header as ``parse_request_header`` reads it."""

    @property
    def api_key(self) -> int: ...
    @property
    def api_version(self) -> int: ...
    @property
    def correlation_id(self) -> int: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def body_start(self) -> int:
        """Where the request body starts in the frame."""

def parse_request_header(frame: bytes | memoryview, flexible: bool) -> NativeRequestHeader | None:
    """The request header (version 2 when ``flexible``) at the start of ``frame``; None when it
    is malformed or has tagged fields (the schema codec then reads it)."""

@final
class NativeProducePartition:
    """One partition of a Produce request: its records as their place in the frame."""

    @property
    def index(self) -> int: ...
    @property
    def records_start(self) -> int | None:
        """Where the records start in the frame; None when they are null."""
    @property
    def records_end(self) -> int | None:
        """Where the records end in the frame; None when they are null."""

@final
class NativeProduceTopic:
    """One topic of a Produce request."""

    @property
    def name(self) -> str:
        """Empty where the version names topics by id."""
    @property
    def topic_id(self) -> bytes | None:
        """The id's 16 bytes where the version names topics by id (13+), else None."""
    @property
    def partitions(self) -> tuple[NativeProducePartition, ...]: ...

@final
class NativeProduceRequest:
    """A Produce request body as ``parse_produce_request`` reads it."""

    @property
    def transactional_id(self) -> str | None: ...
    @property
    def acks(self) -> int: ...
    @property
    def timeout_ms(self) -> int: ...
    @property
    def topics(self) -> tuple[NativeProduceTopic, ...]: ...

def parse_produce_request(
    frame: bytes | memoryview, start: int, version: int
) -> NativeProduceRequest | None:
    """The Produce body at ``start`` of ``frame``, records as their place in ``frame``; None
    when it is malformed or has tagged fields."""

def write_produce_response(correlation_id: int, version: int, response: Any) -> list[bytes] | None:
    """The size-prefixed frame (as a list of one part) answering Produce ``correlation_id`` at
    ``version`` with the ProduceResponse ``response``; None when a value cannot be written
    exactly (a tagged field, a wrong type, a string over Kafka's limit)."""

@final
class NativeFetchPartition:
    """One partition of a Fetch request."""

    @property
    def partition(self) -> int: ...
    @property
    def current_leader_epoch(self) -> int: ...
    @property
    def fetch_offset(self) -> int: ...
    @property
    def last_fetched_epoch(self) -> int: ...
    @property
    def log_start_offset(self) -> int: ...
    @property
    def partition_max_bytes(self) -> int: ...

@final
class NativeFetchTopic:
    """One topic of a Fetch request."""

    @property
    def topic(self) -> str:
        """Empty where the version names topics by id."""
    @property
    def topic_id(self) -> bytes | None:
        """The id's 16 bytes where the version names topics by id (13+), else None."""
    @property
    def partitions(self) -> tuple[NativeFetchPartition, ...]: ...

@final
class NativeForgottenTopic:
    """One topic whose partitions a Fetch session forgets."""

    @property
    def topic(self) -> str:
        """Empty where the version names topics by id."""
    @property
    def topic_id(self) -> bytes | None:
        """The id's 16 bytes where the version names topics by id (13+), else None."""
    @property
    def partitions(self) -> list[int]:
        """Partition indexes (a new list per read: the message takes it)."""

@final
class NativeFetchRequest:
    """A Fetch request body as ``parse_fetch_request`` reads it (fields the version lacks hold
    the message class's defaults)."""

    @property
    def replica_id(self) -> int: ...
    @property
    def max_wait_ms(self) -> int: ...
    @property
    def min_bytes(self) -> int: ...
    @property
    def max_bytes(self) -> int: ...
    @property
    def isolation_level(self) -> int: ...
    @property
    def session_id(self) -> int: ...
    @property
    def session_epoch(self) -> int: ...
    @property
    def topics(self) -> tuple[NativeFetchTopic, ...]: ...
    @property
    def forgotten_topics_data(self) -> tuple[NativeForgottenTopic, ...]: ...
    @property
    def rack_id(self) -> str: ...

def parse_fetch_request(
    frame: bytes | memoryview, start: int, version: int
) -> NativeFetchRequest | None:
    """The Fetch body at ``start`` of ``frame``; None when it is malformed or has tagged fields
    (a follower's replica state, a cluster id)."""

def write_fetch_response(correlation_id: int, version: int, response: Any) -> list[Any] | None:
    """The size-prefixed frame answering Fetch ``correlation_id`` at ``version`` with the
    FetchResponse ``response``, as parts: bytes, and records values kept whole (a FileRecords
    part is left for the sender's sendfile, in-memory records over 4 KiB are not copied); None
    when a value cannot be written exactly (a tagged field, a wrong type)."""

# --------------------------------------------------------------------------------------------
# Sending responses
# --------------------------------------------------------------------------------------------

@final
class ResponseWriter:
    """The bytes of one or more responses still to send to a socket, in order: in-memory parts
    (copied) with vectored sends, file regions with sendfile. Raises EOFError (here or in a
    write) when a segment ended short of a region: the frame can never be completed."""

    def __new__(cls, parts: Sequence[Any], inline_bytes_max: int = 0) -> ResponseWriter:
        """``parts``: bytes-like objects, FileRegions, and objects with a ``regions`` sequence
        of FileRegions (FileRecords). A region of at most ``inline_bytes_max`` bytes is read
        into memory now, to leave in the same vectored send as its neighbours."""
    @property
    def remaining(self) -> int:
        """Bytes not sent yet (not to be asked during ``write_blocking``: it waits for it)."""
    def write_some(self, fd: int, budget: int) -> Literal["done", "full", "budget"]:
        """Send to the non-blocking socket ``fd`` without waiting, without the GIL, until all
        is sent ("done"), the socket is full ("full") or about ``budget`` bytes went out
        ("budget"). OSError when the socket fails."""
    def hand_off(self, fd: int) -> None:
        """Keep a duplicate of the socket ``fd`` for ``write_blocking`` and ``abort``."""
    def write_blocking(self, idle_timeout_s: float | None = None) -> None:
        """Send the rest to the socket given to ``hand_off``, waiting for room in poll(2)
        without the GIL (for a worker thread). TimeoutError when a wait for room lasts
        ``idle_timeout_s`` (None or inf: no limit); OSError when the socket fails or is
        aborted. Closes the duplicate when it returns."""
    def abort(self) -> None:
        """Shut down the socket of a ``write_blocking`` in progress, which then fails at once;
        nothing when none is."""
