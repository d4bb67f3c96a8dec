"""Kafka error codes of the data path (Produce, Fetch, ListOffsets, DeleteRecords,
InitProducerId), re-exported for the handlers.

The numbers come from :mod:`ferrokafka.protocol.error_codes`, the one table of Kafka's
``org.apache.kafka.common.protocol.Errors``; the mapping from storage exceptions to them lives
with the partition (:mod:`ferrokafka.partition.errors`).
"""

from __future__ import annotations

from ferrokafka.partition.errors import leader_epoch_error, storage_error_code  # noqa: F401
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
    NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    NOT_LEADER_OR_FOLLOWER,
    OFFSET_OUT_OF_RANGE,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
    RECORD_LIST_TOO_LARGE,
    REQUEST_TIMED_OUT,
    TOPIC_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    UNKNOWN_LEADER_EPOCH,
    UNKNOWN_SERVER_ERROR,
    UNKNOWN_TOPIC_ID,
    UNKNOWN_TOPIC_OR_PARTITION,
    UNSUPPORTED_COMPRESSION_TYPE,
    UNSUPPORTED_FOR_MESSAGE_FORMAT,
)
