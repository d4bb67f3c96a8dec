"""Records of ``__consumer_offsets`` framed as Kafka's group coordinator frames them (sans-io).

A record key is a 2-byte record type (the JSON's ``apiKey``: 1 OffsetCommit, 2 GroupMetadata,
3+ ConsumerGroup*, ...) then the key struct at version 0; a value is a 2-byte version then the
value struct at that version; a tombstone has no value. Type 0 is the legacy offset commit key
older brokers wrote; it reads like type 1 (Kafka's CoordinatorRecordSerde does the same).

:data:`WRITE_VERSIONS` fixes the value versions ferrokafka writes: those Kafka 4.3 writes
(OffsetCommitValue 4, with the topic id, unless an expire timestamp is set; GroupMetadataValue
3; the rest their only version), checked against a real Kafka broker's log in
tests/groups/test_format_kafka.py.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ferrokafka.groups.records import RECORD_TYPES
from ferrokafka.protocol.api import decode_message, encode_message
from ferrokafka.protocol.errors import ProtocolDecodeError, ProtocolEncodeError
from ferrokafka.protocol.schema import Message

_SHORT = struct.Struct(">h")
LEGACY_OFFSET_COMMIT = 0
OFFSET_COMMIT = 1
GROUP_METADATA = 2

WRITE_VERSIONS: dict[str, int] = {
    "OffsetCommitValue": 4,
    "GroupMetadataValue": 3,
}
"""Value class name -> the version ferrokafka writes (others: their newest version)."""


class CoordinatorRecordError(ProtocolDecodeError):
    """A ``__consumer_offsets`` key or value that cannot be decoded."""


@dataclass(frozen=True, slots=True)
class CoordinatorRecord:
    """A decoded record: its type, key, and value (None: tombstone) with its version."""

    record_type: int
    key: Message
    value: Message | None
    value_version: int = -1


def record_type_of(key: Message) -> int:
    for record_type, (key_class, value_class) in RECORD_TYPES.items():
        if type(key) is key_class or type(key) is value_class:
            return record_type
    raise ProtocolEncodeError(f"{type(key).__name__} is not a __consumer_offsets record")


def encode_key(key: Message) -> bytes:
    record_type = record_type_of(key)
    if RECORD_TYPES[record_type][0] is not type(key):
        raise ProtocolEncodeError(f"{type(key).__name__} is not a record key")
    return _SHORT.pack(record_type) + encode_message(key, 0)


def encode_value(value: Message, version: int | None = None) -> bytes:
    record_type = record_type_of(value)
    if RECORD_TYPES[record_type][1] is not type(value):
        raise ProtocolEncodeError(f"{type(value).__name__} is not a record value")
    if version is None:
        version = WRITE_VERSIONS.get(type(value).__name__, value.valid_versions()[1])
    return _SHORT.pack(version) + encode_message(value, version)


def decode_key(data: bytes | memoryview) -> tuple[int, Message]:
    """The record type and key of a record key; raises :class:`CoordinatorRecordError`."""
    view = memoryview(data)
    if view.nbytes < _SHORT.size:
        raise CoordinatorRecordError("record key shorter than its type")
    (record_type,) = _SHORT.unpack_from(view)
    if record_type == LEGACY_OFFSET_COMMIT:
        record_type = OFFSET_COMMIT  # same layout; Kafka reads it as an OffsetCommitKey
    classes = RECORD_TYPES.get(record_type)
    if classes is None:
        raise CoordinatorRecordError(f"unknown record type {record_type}")
    try:
        return record_type, decode_message(classes[0], view[_SHORT.size :], 0)
    except ProtocolDecodeError as exc:
        raise CoordinatorRecordError(f"record type {record_type} key: {exc}") from exc


def decode_value(record_type: int, data: bytes | memoryview) -> tuple[int, Message]:
    """The version and value of a record value of ``record_type``."""
    view = memoryview(data)
    if view.nbytes < _SHORT.size:
        raise CoordinatorRecordError("record value shorter than its version")
    (version,) = _SHORT.unpack_from(view)
    value_class = RECORD_TYPES[record_type][1]
    try:
        return version, decode_message(value_class, view[_SHORT.size :], version)
    except ProtocolDecodeError as exc:
        raise CoordinatorRecordError(f"record type {record_type} value: {exc}") from exc


def decode_record(key: bytes | memoryview, value: bytes | memoryview | None) -> CoordinatorRecord:
    record_type, key_message = decode_key(key)
    if value is None:
        return CoordinatorRecord(record_type, key_message, None)
    version, value_message = decode_value(record_type, value)
    return CoordinatorRecord(record_type, key_message, value_message, version)
