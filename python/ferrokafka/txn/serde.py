"""Records of ``__transaction_state`` framed as Kafka's TransactionLog frames them (sans-io).

A key is a 2-byte version (0, the only one) then TransactionLogKey; a value is a 2-byte version
then TransactionLogValue at that version; a tombstone (an expired transactional id) has no
value. The value version follows the finalized ``transaction.version``: 0 (not flexible) at
level 0, 1 (flexible, with the tagged fields of KIP-890) from level 1 on, as Kafka's
``TransactionVersion.transactionLogValueVersion``. Checked both ways against a real Kafka
4.4 broker's log in tests/txn/test_txn_format_kafka.py.
"""

from __future__ import annotations

import struct

from ferrokafka.protocol.api import decode_message, encode_message
from ferrokafka.protocol.errors import ProtocolDecodeError
from ferrokafka.txn.metadata import (
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    TransactionMetadata,
    TxnState,
    TxnTransit,
)
from ferrokafka.txn.records import TransactionLogKey, TransactionLogValue

_SHORT = struct.Struct(">h")
KEY_VERSION = 0
VALUE_VERSION_MAX = 1


class TxnRecordError(ProtocolDecodeError):
    """A ``__transaction_state`` key or value that cannot be decoded."""


def value_version(transaction_version: int) -> int:
    """The TransactionLogValue version written at a ``transaction.version`` level."""
    return 1 if transaction_version >= 1 else 0


def encode_key(transactional_id: str) -> bytes:
    key = TransactionLogKey(transactional_id=transactional_id)
    return _SHORT.pack(KEY_VERSION) + encode_message(key, KEY_VERSION)


def encode_value(value: TransactionLogValue, version: int) -> bytes:
    if not 0 <= version <= VALUE_VERSION_MAX:
        raise ValueError(f"TransactionLogValue has no version {version}")
    return _SHORT.pack(version) + encode_message(value, version)


def decode_key(data: bytes | memoryview) -> str:
    """The transactional id of a record key; raises :class:`TxnRecordError`."""
    view = memoryview(data)
    if view.nbytes < _SHORT.size:
        raise TxnRecordError("record key shorter than its version")
    (version,) = _SHORT.unpack_from(view)
    if version != KEY_VERSION:
        raise TxnRecordError(f"unknown TransactionLogKey version {version}")
    try:
        key = decode_message(TransactionLogKey, view[_SHORT.size :], version)
    except ProtocolDecodeError as exc:
        raise TxnRecordError(f"TransactionLogKey: {exc}") from exc
    assert isinstance(key, TransactionLogKey)
    return key.transactional_id


def decode_value(data: bytes | memoryview) -> tuple[int, TransactionLogValue]:
    """The version and the value of a record value; raises :class:`TxnRecordError`."""
    view = memoryview(data)
    if view.nbytes < _SHORT.size:
        raise TxnRecordError("record value shorter than its version")
    (version,) = _SHORT.unpack_from(view)
    if not 0 <= version <= VALUE_VERSION_MAX:
        raise TxnRecordError(f"unknown TransactionLogValue version {version}")
    try:
        value = decode_message(TransactionLogValue, view[_SHORT.size :], version)
    except ProtocolDecodeError as exc:
        raise TxnRecordError(f"TransactionLogValue v{version}: {exc}") from exc
    assert isinstance(value, TransactionLogValue)
    return version, value


def transit_value(transit: TxnTransit, version: int = VALUE_VERSION_MAX) -> TransactionLogValue:
    """The record of a transition at ``version`` (Kafka's TransactionLog.valueToBytes): no
    partitions in Empty (null), the others grouped by topic; the producer id history and the
    client's transaction.version only from v1 (tagged fields, which v0 cannot carry)."""
    partitions: list[TransactionLogValue.PartitionsSchema] | None = None
    if transit.state != TxnState.EMPTY:
        by_topic: dict[str, list[int]] = {}
        for topic, index in sorted(transit.partitions):
            by_topic.setdefault(topic, []).append(index)
        partitions = [
            TransactionLogValue.PartitionsSchema(topic=topic, partition_ids=ids)
            for topic, ids in by_topic.items()
        ]
    flexible = version >= 1
    return TransactionLogValue(
        producer_id=transit.producer_id,
        previous_producer_id=transit.prev_producer_id if flexible else NO_PRODUCER_ID,
        next_producer_id=transit.next_producer_id if flexible else NO_PRODUCER_ID,
        producer_epoch=transit.producer_epoch,
        transaction_timeout_ms=transit.txn_timeout_ms,
        transaction_status=int(transit.state),
        transaction_partitions=partitions,
        transaction_last_update_timestamp_ms=transit.txn_last_update_ms,
        transaction_start_timestamp_ms=transit.txn_start_ms,
        client_transaction_version=transit.client_txn_version if flexible else 0,
    )


def encode_transit(transit: TxnTransit, transaction_version: int) -> bytes:
    """The value bytes of a transition, at the version ``transaction.version`` asks for (v0
    has no tagged fields, so the producer id history is not kept)."""
    version = value_version(transaction_version)
    return encode_value(transit_value(transit, version), version)


def metadata_from_value(transactional_id: str, value: TransactionLogValue) -> TransactionMetadata:
    """A transactional id's state as a record left it (Kafka's readTxnRecordValue)."""
    try:
        state = TxnState(value.transaction_status)
    except ValueError as exc:
        raise TxnRecordError(f"unknown transaction status {value.transaction_status}") from exc
    metadata = TransactionMetadata(
        transactional_id=transactional_id,
        producer_id=value.producer_id,
        producer_epoch=value.producer_epoch,
        last_producer_epoch=NO_PRODUCER_EPOCH,
        previous_producer_id=value.previous_producer_id,
        next_producer_id=value.next_producer_id,
        txn_timeout_ms=value.transaction_timeout_ms,
        state=state,
        txn_start_ms=value.transaction_start_timestamp_ms,
        txn_last_update_ms=value.transaction_last_update_timestamp_ms,
        client_txn_version=value.client_transaction_version,
    )
    if state != TxnState.EMPTY:
        for topic in value.transaction_partitions or ():
            metadata.partitions.update((topic.topic, p) for p in topic.partition_ids)
    return metadata
