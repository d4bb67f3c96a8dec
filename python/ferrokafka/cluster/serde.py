"""Metadata records framed as Kafka frames them in ``__cluster_metadata`` (sans-io).

Each record value of a metadata batch is: frame version (unsigned varint, always 1), record
type (unsigned varint, the JSON's ``apiKey``), record version (unsigned varint), then the
record body in the flexible encoding. The key is null. This is Kafka's
``AbstractApiMessageSerde``; like it, decoding refuses frame version 0 (KRaft's 2.8 preview),
an unknown type, a version the type does not have, and trailing bytes.

:data:`WRITE_VERSIONS` fixes the version ferrokafka writes of each record it produces: the
versions Apache Kafka 4.3 writes at its default metadata.version (seen in a real log).
"""

from __future__ import annotations

from dataclasses import dataclass

from ferrokafka.cluster.records import RECORD_TYPES
from ferrokafka.protocol.api import decode_message, encode_message
from ferrokafka.protocol.errors import ProtocolDecodeError, ProtocolEncodeError
from ferrokafka.protocol.schema import Message
from ferrokafka.protocol.wire import Reader, Writer

FRAME_VERSION = 1
# Kafka reads the type and version as unsigned varints and refuses anything above a short.
HEADER_VALUE_MAX = 0x7FFF

WRITE_VERSIONS: dict[str, int] = {
    "RegisterBrokerRecord": 4,
    "BrokerRegistrationChangeRecord": 0,
    "TopicRecord": 0,
    "PartitionRecord": 2,
    "PartitionChangeRecord": 2,
    "ConfigRecord": 0,
    "RemoveTopicRecord": 0,
    "FeatureLevelRecord": 0,
    "BeginTransactionRecord": 0,
    "EndTransactionRecord": 0,
    "NoOpRecord": 0,
}
"""Record class name -> the version ferrokafka writes (others: their newest version)."""


class MetadataRecordError(ProtocolDecodeError):
    """A metadata record value that cannot be decoded (Kafka's MetadataParseException)."""


@dataclass(frozen=True, slots=True)
class ApiMessageAndVersion:
    """A decoded metadata record and the version it was written at."""

    message: Message
    version: int


# Kafka writes a BrokerRegistrationChangeRecord that enters controlled shutdown at version 1
# (the first with InControlledShutdown), one that changes the log dirs at version 2
# (handleDirectoriesOffline); fencing and unfencing stay at version 0.
CONTROLLED_SHUTDOWN_CHANGE_VERSION = 1
LOG_DIRS_CHANGE_VERSION = 2


def write_version(message: Message) -> int:
    name = type(message).__name__
    if name == "BrokerRegistrationChangeRecord" and getattr(message, "log_dirs", None):
        return LOG_DIRS_CHANGE_VERSION
    if name == "BrokerRegistrationChangeRecord" and getattr(message, "in_controlled_shutdown", 0):
        return CONTROLLED_SHUTDOWN_CHANGE_VERSION
    if name in WRITE_VERSIONS:
        return WRITE_VERSIONS[name]
    return message.valid_versions()[1]


def encode_record(message: Message, version: int | None = None) -> bytes:
    """The framed value of ``message`` (at ``version``, default :func:`write_version`)."""
    record_type = message.API_KEY
    if record_type is None or RECORD_TYPES.get(record_type) is not type(message):
        raise ProtocolEncodeError(f"{type(message).__name__} is not a metadata record")
    version = write_version(message) if version is None else version
    writer = Writer()
    writer.uvarint(FRAME_VERSION)
    writer.uvarint(record_type)
    writer.uvarint(version)
    return writer.getvalue() + encode_message(message, version)


def decode_record(value: bytes | memoryview) -> ApiMessageAndVersion:
    """A framed record value back into its message; raises :class:`MetadataRecordError`."""
    reader = Reader(memoryview(value))
    try:
        frame_version = _header_value(reader, "frame version")
        if frame_version == 0:
            raise MetadataRecordError(
                "metadata record with frame version 0 (KRaft preview of Kafka 2.8) is not supported"
            )
        if frame_version != FRAME_VERSION:
            raise MetadataRecordError(
                f"unknown frame version {frame_version} (only {FRAME_VERSION} is supported)"
            )
        record_type = _header_value(reader, "type")
        version = _header_value(reader, "version")
    except MetadataRecordError:
        raise
    except ProtocolDecodeError as exc:
        raise MetadataRecordError(f"bad metadata record header: {exc}") from None
    cls = RECORD_TYPES.get(record_type)
    if cls is None:
        raise MetadataRecordError(f"unknown metadata record type {record_type}")
    try:
        message = decode_message(cls, reader.buf[reader.pos :], version)
    except ProtocolDecodeError as exc:
        raise MetadataRecordError(
            f"cannot decode {cls.__name__} v{version} (type {record_type}): {exc}"
        ) from None
    return ApiMessageAndVersion(message, version)


def _header_value(reader: Reader, what: str) -> int:
    value = reader.uvarint()
    if value > HEADER_VALUE_MAX:
        raise MetadataRecordError(f"metadata record {what} {value} is too large")
    return value
