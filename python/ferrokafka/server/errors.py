"""Kafka error codes of the data path (Produce, Fetch, ListOffsets, DeleteRecords,
InitProducerId) and the
mapping from the native storage engine's exceptions to them.

The numbers come from :mod:`ferrokafka.protocol.error_codes`, the one table of Kafka's
``org.apache.kafka.common.protocol.Errors``; the data path's are re-exported here.
"""

from __future__ import annotations

import logging

from ferrokafka._ferrokafka import (
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
from ferrokafka.protocol.error_codes import (  # noqa: F401  (re-exported)
    CORRUPT_MESSAGE,
    FENCED_LEADER_EPOCH,
    FETCH_SESSION_ID_NOT_FOUND,
    FETCH_SESSION_TOPIC_ID_ERROR,
    INVALID_FETCH_SESSION_EPOCH,
    INVALID_PRODUCER_EPOCH,
    INVALID_RECORD,
    INVALID_REQUEST,
    INVALID_REQUIRED_ACKS,
    INVALID_TIMESTAMP,
    INVALID_TXN_STATE,
    MESSAGE_TOO_LARGE,
    NONE,
    NOT_ENOUGH_REPLICAS,
    OFFSET_OUT_OF_RANGE,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
    RECORD_LIST_TOO_LARGE,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    UNKNOWN_LEADER_EPOCH,
    UNKNOWN_SERVER_ERROR,
    UNKNOWN_TOPIC_ID,
    UNKNOWN_TOPIC_OR_PARTITION,
    UNSUPPORTED_COMPRESSION_TYPE,
    UNSUPPORTED_FOR_MESSAGE_FORMAT,
)

log = logging.getLogger(__name__)


def storage_error_code(exc: FerrokafkaError) -> int:
    """The Kafka error code a client gets for a storage exception raised while serving it.

    UnsupportedMagicError is a CorruptRecordError, so it is tested first. A closed log means
    the partition was deleted while the request was in flight: to the client it is gone.
    """
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


def leader_epoch_error(requested: int, current: int) -> int:
    """Kafka's check of a request's ``current_leader_epoch`` (-1: not given): an older epoch
    is fenced, a newer one is not known here yet (the client's metadata is ahead of ours)."""
    if requested < 0 or requested == current:
        return NONE
    return FENCED_LEADER_EPOCH if requested < current else UNKNOWN_LEADER_EPOCH
