"""What a partition's clients are told when storage refuses or a leader epoch does not match:
the mapping from the native storage engine's exceptions to Kafka's error codes.
"""

from __future__ import annotations

import logging
import time

from ferrokafka.protocol.error_codes import (
    CORRUPT_MESSAGE,
    FENCED_LEADER_EPOCH,
    INVALID_RECORD,
    INVALID_TIMESTAMP,
    KAFKA_STORAGE_ERROR,
    MESSAGE_TOO_LARGE,
    NONE,
    OFFSET_OUT_OF_RANGE,
    UNKNOWN_LEADER_EPOCH,
    UNKNOWN_SERVER_ERROR,
    UNKNOWN_TOPIC_OR_PARTITION,
    UNSUPPORTED_COMPRESSION_TYPE,
    UNSUPPORTED_FOR_MESSAGE_FORMAT,
)
from ferrokafka.storage import (
    CorruptRecordError,
    FerrokafkaError,
    InvalidRecordError,
    InvalidTimestampError,
    LogClosedError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    UnsupportedCompressionError,
    UnsupportedMagicError,
)

log = logging.getLogger(__name__)

# A full disk fails every append until space returns: one log line per this interval (with
# the count of the failures in between), not one per request.
IO_ERROR_LOG_INTERVAL_S = 10.0
_io_errors_logged_at = -IO_ERROR_LOG_INTERVAL_S
_io_errors_unlogged = 0


def storage_error_code(exc: FerrokafkaError | OSError) -> int:
    """The Kafka error code a client gets for a storage exception raised while serving it.

    An I/O error (the native log raises the matching OSError, e.g. ENOSPC on a full disk)
    is KAFKA_STORAGE_ERROR, as Kafka answers; the failed append left nothing behind (the
    segment is cut back), so the same request succeeds once the cause is gone.
    UnsupportedMagicError is a CorruptRecordError, so it is tested first. A closed log means
    the partition was deleted while the request was in flight: to the client it is gone.
    """
    if isinstance(exc, OSError):
        _log_io_error(exc)
        return KAFKA_STORAGE_ERROR
    if isinstance(exc, UnsupportedMagicError):
        return UNSUPPORTED_FOR_MESSAGE_FORMAT
    if isinstance(exc, CorruptRecordError):
        return CORRUPT_MESSAGE
    if isinstance(exc, RecordTooLargeError):
        return MESSAGE_TOO_LARGE
    if isinstance(exc, InvalidTimestampError):
        return INVALID_TIMESTAMP
    if isinstance(exc, InvalidRecordError):
        return INVALID_RECORD
    if isinstance(exc, UnsupportedCompressionError):
        return UNSUPPORTED_COMPRESSION_TYPE
    if isinstance(exc, OffsetOutOfRangeError):
        return OFFSET_OUT_OF_RANGE
    if isinstance(exc, LogClosedError):
        return UNKNOWN_TOPIC_OR_PARTITION
    log.error("storage error mapped to UNKNOWN_SERVER_ERROR: %r", exc)
    return UNKNOWN_SERVER_ERROR


def _log_io_error(exc: OSError) -> None:
    global _io_errors_logged_at, _io_errors_unlogged
    now = time.monotonic()
    if now - _io_errors_logged_at < IO_ERROR_LOG_INTERVAL_S:
        _io_errors_unlogged += 1
        return
    since = f" ({_io_errors_unlogged} more since the last report)" if _io_errors_unlogged else ""
    log.error("storage I/O error answered with KAFKA_STORAGE_ERROR: %s%s", exc, since)
    _io_errors_logged_at, _io_errors_unlogged = now, 0


def leader_epoch_error(requested: int, current: int) -> int:
    """Kafka's check of a request's ``current_leader_epoch`` (-1: not given): an older epoch
    is fenced, a newer one is not known here yet (the client's metadata is ahead of ours)."""
    if requested < 0 or requested == current:
        return NONE
    return FENCED_LEADER_EPOCH if requested < current else UNKNOWN_LEADER_EPOCH
