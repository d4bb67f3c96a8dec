"""Kafka's error codes for the controller's answers, and :class:`ApiError` (code + message).

The numbers are Kafka's ``org.apache.kafka.common.protocol.Errors``; the default messages are
the ones Kafka puts in a response when the controller gives no message of its own (Kafka's
``new ApiError(Errors.X)`` carries ``X.message()``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ferrokafka.protocol.error_codes import (
    INVALID_CONFIG,
    INVALID_PARTITIONS,
    INVALID_REPLICA_ASSIGNMENT,
    INVALID_REPLICATION_FACTOR,
    INVALID_REQUEST,
    INVALID_TOPIC_EXCEPTION,
    NONE,
    POLICY_VIOLATION,
    TOPIC_ALREADY_EXISTS,
    TOPIC_DELETION_DISABLED,
    UNKNOWN_SERVER_ERROR,
    UNKNOWN_TOPIC_ID,
    UNKNOWN_TOPIC_OR_PARTITION,
)

DEFAULT_MESSAGES: dict[int, str] = {
    UNKNOWN_SERVER_ERROR: "The server experienced an unexpected error when processing the request.",
    UNKNOWN_TOPIC_OR_PARTITION: "This server does not host this topic-partition.",
    INVALID_TOPIC_EXCEPTION: "The request attempted to perform an operation on an invalid topic.",
    TOPIC_ALREADY_EXISTS: "Topic with this name already exists.",
    INVALID_PARTITIONS: "Number of partitions is below 1.",
    INVALID_REPLICATION_FACTOR: "Replication factor is below 1 or larger than the number of "
    "available brokers.",
    INVALID_REPLICA_ASSIGNMENT: "Replica assignment is invalid.",
    INVALID_CONFIG: "Configuration is invalid.",
    INVALID_REQUEST: "This most likely occurs because of a request being malformed by the client "
    "library or the message was sent to an incompatible broker. See the broker logs for more "
    "details.",
    POLICY_VIOLATION: "Request parameters do not satisfy the configured policy.",
    TOPIC_DELETION_DISABLED: "Topic deletion is disabled.",
    UNKNOWN_TOPIC_ID: "This server does not host this topic ID.",
}


@dataclass(frozen=True, slots=True)
class ApiError:
    """One item's outcome: ``code`` 0 and no message on success."""

    code: int
    message: str | None = None

    @classmethod
    def of(cls, code: int, message: str | None = None) -> ApiError:
        """An error with ``message``, or Kafka's default message for ``code``."""
        return cls(code, message if message is not None else DEFAULT_MESSAGES.get(code))

    @property
    def is_success(self) -> bool:
        return self.code == NONE

    @property
    def is_failure(self) -> bool:
        return self.code != NONE


SUCCESS = ApiError(NONE)
