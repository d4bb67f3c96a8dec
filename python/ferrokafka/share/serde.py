"""Records of ``__share_group_state`` framed as Kafka's share coordinator frames them (sans-io,
Kafka's ``ShareCoordinatorRecordSerde``).

A key is a 2-byte record type (the JSON's ``apiKey``: 0 ShareSnapshot, 1 ShareUpdate) then the
key struct at version 0; a value is a 2-byte version (0) then the value struct; a tombstone
(a deleted share-partition) is a ShareSnapshot key without a value.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any

from ferrokafka.protocol.api import decode_message, encode_message
from ferrokafka.protocol.errors import ProtocolDecodeError
from ferrokafka.protocol.schema import Message
from ferrokafka.share.records import RECORD_TYPES
from ferrokafka.share.records.share_snapshot_key import ShareSnapshotKey
from ferrokafka.share.records.share_snapshot_value import ShareSnapshotValue
from ferrokafka.share.records.share_update_key import ShareUpdateKey
from ferrokafka.share.records.share_update_value import ShareUpdateValue

_SHORT = struct.Struct(">h")
SHARE_SNAPSHOT = 0
SHARE_UPDATE = 1
VALUE_VERSION = 0

__all__ = [
    "SHARE_SNAPSHOT",
    "SHARE_UPDATE",
    "ShareRecordError",
    "ShareSnapshotValue",
    "ShareUpdateValue",
    "decode_record",
    "snapshot_record",
    "tombstone_record",
    "update_record",
]


class ShareRecordError(ProtocolDecodeError):
    """A ``__share_group_state`` key or value that cannot be decoded."""


@dataclass(frozen=True, slots=True)
class ShareRecord:
    record_type: int
    group_id: str
    topic_id: uuid.UUID
    partition: int
    value: Message | None  # ShareSnapshotValue / ShareUpdateValue; None: tombstone


def _key(record_type: int, group_id: str, topic_id: uuid.UUID, partition: int) -> bytes:
    key_class = ShareSnapshotKey if record_type == SHARE_SNAPSHOT else ShareUpdateKey
    message = key_class(group_id=group_id, topic_id=topic_id, partition=partition)
    return _SHORT.pack(record_type) + encode_message(message, 0)


def snapshot_record(
    group_id: str, topic_id: uuid.UUID, partition: int, value: ShareSnapshotValue
) -> tuple[bytes, bytes]:
    return (
        _key(SHARE_SNAPSHOT, group_id, topic_id, partition),
        _SHORT.pack(VALUE_VERSION) + encode_message(value, VALUE_VERSION),
    )


def update_record(
    group_id: str, topic_id: uuid.UUID, partition: int, value: ShareUpdateValue
) -> tuple[bytes, bytes]:
    return (
        _key(SHARE_UPDATE, group_id, topic_id, partition),
        _SHORT.pack(VALUE_VERSION) + encode_message(value, VALUE_VERSION),
    )


def tombstone_record(group_id: str, topic_id: uuid.UUID, partition: int) -> tuple[bytes, None]:
    return _key(SHARE_SNAPSHOT, group_id, topic_id, partition), None


def decode_record(key: bytes | memoryview, value: bytes | memoryview | None) -> ShareRecord:
    """Raises :class:`ShareRecordError` for an unknown type or a malformed key or value."""
    view = memoryview(key)
    if view.nbytes < _SHORT.size:
        raise ShareRecordError("record key shorter than its type")
    (record_type,) = _SHORT.unpack_from(view)
    classes = RECORD_TYPES.get(record_type)
    if classes is None:
        raise ShareRecordError(f"unknown record type {record_type}")
    try:
        k: Any = decode_message(classes[0], view[_SHORT.size :], 0)
        decoded: Message | None = None
        if value is not None:
            vview = memoryview(value)
            if vview.nbytes < _SHORT.size:
                raise ShareRecordError("record value shorter than its version")
            (version,) = _SHORT.unpack_from(vview)
            decoded = decode_message(classes[1], vview[_SHORT.size :], version)
    except ProtocolDecodeError as exc:
        raise ShareRecordError(f"record type {record_type}: {exc}") from exc
    return ShareRecord(record_type, k.group_id, k.topic_id, k.partition, decoded)
