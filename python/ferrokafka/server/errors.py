"""Kafka error codes of the data path (Produce, Fetch, ListOffsets, DeleteRecords,
InitProducerId) and the
mapping from the native storage engine's exceptions to them.

The numbers are Kafka's ``org.apache.kafka.common.protocol.Errors``. The controller's codes
live in :mod:`ferrokafka.cluster.errors`; the few both need are repeated here so the data path
does not depend on the controller's module.
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

log = logging.getLogger(__name__)

NONE = 0
UNKNOWN_SERVER_ERROR = -1
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
RECORD_LIST_TOO_LARGE = 18
NOT_ENOUGH_REPLICAS = 19
INVALID_REQUIRED_ACKS = 21
INVALID_TIMESTAMP = 32
INVALID_REQUEST = 42
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75
UNSUPPORTED_COMPRESSION_TYPE = 76
INVALID_RECORD = 87
UNKNOWN_TOPIC_ID = 100
FETCH_SESSION_TOPIC_ID_ERROR = 106


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
