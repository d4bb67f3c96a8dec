"""The quorum's records as Kafka record batches, on the wire and on disk.

A controller operation's values go in one data batch (records with a null key, the value the
framed metadata record), stamped with the leader epoch; a :class:`LeaderChange` goes in a
control batch of one record as Kafka's ``MemoryRecordsBuilder.appendLeaderChangeMessage``
writes it: the control key (version 0, type 2 = LEADER_CHANGE) and the
``LeaderChangeMessage`` at version 0 (``ControlRecordUtils.LEADER_CHANGE_CURRENT_VERSION``),
no producer id, not transactional.

Decoding keeps each batch's bytes (:class:`RawBatch`) on its records, so a follower appends
the leader's batches unchanged.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from ferrokafka.cluster.raft.log import ControlValue, LeaderChange, RawBatch, Record
from ferrokafka.cluster.raft.voters import (
    KRAFT_VERSION_RECORD_VERSION,
    VOTERS_RECORD_VERSION,
    KRaftVersionChange,
    VotersChange,
    VoterSet,
)
from ferrokafka.protocol.api import decode_message, encode_message
from ferrokafka.protocol.errors import ProtocolDecodeError
from ferrokafka.protocol.messages.k_raft_version_record import KRaftVersionRecord
from ferrokafka.protocol.messages.leader_change_message import LeaderChangeMessage
from ferrokafka.protocol.messages.voters_record import VotersRecord
from ferrokafka.storage import (
    BatchBuilder,
    CorruptRecordError,
    RecordBatch,
    crc32c,
    decode_batches,
)

# Kafka's ControlRecordType key: version (int16) 0, type (int16).
CONTROL_KEY = struct.Struct(">hh")
CONTROL_KEY_VERSION = 0
LEADER_CHANGE_TYPE = 2
KRAFT_VERSION_TYPE = 5
KRAFT_VOTERS_TYPE = 6
LEADER_CHANGE_VERSION = 0  # ControlRecordUtils.LEADER_CHANGE_CURRENT_VERSION
# Batch v2 layout: attributes (int16) at 21, CRC (uint32) at 17 covering bytes 21 on.
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21
CONTROL_FLAG = 0x20


class RecordsError(ValueError):
    """Bytes that are not the quorum's batches (corrupt, or a control record we cannot read)."""


def encode_leader_change(change: LeaderChange) -> bytes:
    message = LeaderChangeMessage(
        version=LEADER_CHANGE_VERSION,
        leader_id=change.leader_id,
        voters=[LeaderChangeMessage.Voter(voter_id=v) for v in change.voters],
        granting_voters=[LeaderChangeMessage.Voter(voter_id=v) for v in change.granting_voters],
    )
    return encode_message(message, LEADER_CHANGE_VERSION)


def decode_leader_change(value: bytes) -> LeaderChange:
    try:
        message = decode_message(LeaderChangeMessage, value, LEADER_CHANGE_VERSION)
    except ProtocolDecodeError as e:
        raise RecordsError(f"bad LeaderChangeMessage: {e}") from None
    return LeaderChange(
        message.leader_id,
        tuple(v.voter_id for v in message.voters),
        tuple(v.voter_id for v in message.granting_voters),
    )


def build_batch(
    values: Sequence[bytes | ControlValue], base_offset: int, epoch: int, timestamp_ms: int | None
) -> bytes:
    """One batch: a control batch when the values are control records (a LeaderChange, and
    with KIP-853 a KRaftVersionRecord and a VotersRecord, which a new leader writes together
    as Kafka's ``appendStartOfEpochControlRecords``), else a data batch."""
    if not values:
        raise ValueError("a batch needs at least one record")
    builder = BatchBuilder(base_offset=base_offset, partition_leader_epoch=epoch)
    if not isinstance(values[0], bytes):
        for value in values:
            if isinstance(value, bytes):
                raise ValueError("control records and data records go in separate batches")
            kind, encoded = encode_control(value)
            key = CONTROL_KEY.pack(CONTROL_KEY_VERSION, kind)
            builder.append(encoded, key=key, timestamp=timestamp_ms)
        return _as_control(builder.build())
    for value in values:
        if not isinstance(value, bytes):
            raise TypeError(f"a data record is bytes, not {type(value).__name__}")
        builder.append(value, key=None, timestamp=timestamp_ms)
    return builder.build()


def encode_control(value: ControlValue) -> tuple[int, bytes]:
    """(control record type, value bytes) of a control record."""
    if isinstance(value, LeaderChange):
        return LEADER_CHANGE_TYPE, encode_leader_change(value)
    if isinstance(value, VotersChange):
        return KRAFT_VOTERS_TYPE, encode_message(value.voters.to_record(), VOTERS_RECORD_VERSION)
    if isinstance(value, KRaftVersionChange):
        record = KRaftVersionRecord(
            version=KRAFT_VERSION_RECORD_VERSION, k_raft_version=value.version
        )
        return KRAFT_VERSION_TYPE, encode_message(record, KRAFT_VERSION_RECORD_VERSION)
    raise TypeError(f"not a control record: {type(value).__name__}")


def decode_control(kind: int, value: bytes, offset: int) -> ControlValue:
    """A control record of the metadata log (LeaderChange, KRaftVersion or Voters)."""
    if kind == LEADER_CHANGE_TYPE:
        return decode_leader_change(value)
    try:
        if kind == KRAFT_VOTERS_TYPE:
            record = decode_message(VotersRecord, value, VOTERS_RECORD_VERSION)
            return VotersChange(VoterSet.from_record(record))
        if kind == KRAFT_VERSION_TYPE:
            message = decode_message(KRaftVersionRecord, value, KRAFT_VERSION_RECORD_VERSION)
            return KRaftVersionChange(message.k_raft_version)
    except (ProtocolDecodeError, ValueError) as e:
        raise RecordsError(f"bad control record of type {kind} at {offset}: {e}") from None
    raise RecordsError(f"control record type {kind} at {offset} not supported")


def _as_control(batch: bytes) -> bytes:
    # The native builder writes data batches only; the control flag sits in the attributes,
    # which the CRC covers, so the CRC is computed again.
    raw = bytearray(batch)
    raw[ATTRIBUTES_OFFSET + 1] |= CONTROL_FLAG
    raw[CRC_OFFSET:ATTRIBUTES_OFFSET] = struct.pack(">I", crc32c(bytes(raw[ATTRIBUTES_OFFSET:])))
    return bytes(raw)


def records_of_batch(batch: RecordBatch) -> list[Record]:
    """The records of one decoded batch (native or reference ``RecordBatch``)."""
    raw = RawBatch(batch.base_offset, batch.last_offset, batch.to_bytes())
    epoch = batch.partition_leader_epoch
    out: list[Record] = []
    for record in batch.records():
        if batch.is_control:
            key = record.key
            if key is None or len(key) < CONTROL_KEY.size:
                raise RecordsError(f"control record at {record.offset} without a key")
            _, kind = CONTROL_KEY.unpack_from(key)
            value: bytes | ControlValue = decode_control(kind, record.value or b"", record.offset)
        else:
            value = record.value if record.value is not None else b""
        out.append(Record(record.offset, epoch, value, raw))
    return out


def decode_records(data: bytes | memoryview | None) -> tuple[Record, ...]:
    """Records of the whole batches in ``data`` (a trailing partial batch, as a fetch may end
    with, is left out)."""
    if not data:
        return ()
    try:
        batches = decode_batches(bytes(data), allow_partial=True)
    except CorruptRecordError as e:
        raise RecordsError(f"corrupt records: {e}") from None
    out: list[Record] = []
    for batch in batches:
        out.extend(records_of_batch(batch))
    return tuple(out)


def group_batches(records: Iterable[Record]) -> list[tuple[RawBatch | None, list[Record]]]:
    """Consecutive records by batch: each stored batch once with its records; a record with no
    batch (from the in-memory log) alone."""
    groups: list[tuple[RawBatch | None, list[Record]]] = []
    for record in records:
        last = groups[-1][0] if groups else None
        if (
            record.batch is not None
            and last is not None
            and last.base_offset == record.batch.base_offset
        ):
            groups[-1][1].append(record)
        else:
            groups.append((record.batch, [record]))
    return groups


def batch_bytes(batch: RawBatch | None, records: Sequence[Record]) -> bytes:
    """The bytes of one group of :func:`group_batches`: the stored batch as it is (it must be
    whole), or a new batch for a record without one."""
    if batch is not None:
        if records[0].offset != batch.base_offset or records[-1].offset != batch.last_offset:
            raise ValueError(
                f"records {records[0].offset}..{records[-1].offset} are part of the batch "
                f"{batch.base_offset}..{batch.last_offset}"
            )
        return batch.data
    [record] = records
    return build_batch([record.value], record.offset, record.epoch, None)


def encode_records(records: Iterable[Record]) -> bytes:
    return b"".join(batch_bytes(batch, group) for batch, group in group_batches(records))
