"""Produce (API key 0): validate each partition's records as Kafka 4 does, check idempotent
producers' sequences and epochs, append the records to the partition log, wake long-polling
fetchers.

A batch with a producer id is checked against the partition's producer state
(:mod:`ferrokafka.server.producer_state`): a retry of a batch already written gets the
original offset without a second append; a sequence gap or a fenced epoch gets Kafka's error.
The check, the append and the state update form one step per partition: nothing in between
yields to trio, or, for appends in a worker thread, the partition's append lock is held.

Not yet: transactional producers; their batches are refused with INVALID_TXN_STATE.
"""

from __future__ import annotations

import logging
import struct
import uuid
from dataclasses import dataclass
from typing import Any

import trio

from ferrokafka._ferrokafka import AppendInfo, FerrokafkaError, crc32c, keyless_record_indexes
from ferrokafka.protocol.messages.produce import ProduceRequest, ProduceResponse
from ferrokafka.server import errors
from ferrokafka.server.dispatcher import LATER, RequestContext
from ferrokafka.server.node import Node, PartitionHandle
from ferrokafka.server.producer_state import BatchMetadata, ProducerBatch, Rejected

log = logging.getLogger(__name__)

VALID_ACKS = (-1, 0, 1)
# Produce v13 names topics by id instead of by name.
TOPIC_ID_VERSION = 13
# zstd is allowed from Produce v7 on (KIP-110).
ZSTD_MIN_VERSION = 7
# An append is a write to the page cache; a hop to a worker thread costs about as much as
# appending 256 KiB inline (measured on the dev box: hop ~145 us; inline 16 KiB ~15 us,
# 256 KiB ~145 us, 1 MiB ~650 us). Smaller appends run inline; bigger ones, and every append
# to a log that fsyncs on append (flush.messages), go to a worker thread so the trio loop
# keeps serving other connections.
INLINE_APPEND_BYTES_MAX = 256 * 1024

# Record batch v2 header: baseOffset int64, batchLength int32, partitionLeaderEpoch int32,
# magic int8, crc uint32, attributes int16. The length counts the bytes after itself.
_LENGTH = struct.Struct(">i")
_LENGTH_AT = 8
_LOG_OVERHEAD = 12
_MAGIC_AT = 16
_ATTRIBUTES = struct.Struct(">h")
_ATTRIBUTES_AT = 21
# Kafka's smallest legal batch length (LegacyRecord.RECORD_OVERHEAD_V0): below it, corrupt.
_MIN_BATCH_LENGTH = 14
_CODEC_MASK = 0x07
_ZSTD = 4
_CRC = struct.Struct(">I")
_CRC_AT = 17
_CRC_FROM = 21
_LAST_OFFSET_DELTA = struct.Struct(">i")
_LAST_OFFSET_DELTA_AT = 23
_PRODUCER_ID = struct.Struct(">q")
_PRODUCER_ID_AT = 43
# A producer state snapshot is written once this many offsets were appended since the last
# one, which bounds the log replay after an unclean shutdown (a clean one writes a snapshot).
PRODUCER_SNAPSHOT_INTERVAL_OFFSETS = 1_000_000


class AcksZeroProduceFailedError(Exception):
    """A produce with acks=0 failed: Kafka closes the connection, the only way such a producer
    learns of it (it then refreshes its metadata)."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    code: int
    message: str | None = None
    info: AppendInfo | None = None
    log_start_offset: int = -1
    # A retried batch already in the log: answered with its original offset, not appended.
    duplicate: BatchMetadata | None = None
    # Kafka's per-record errors: (index of the record in its batch, message).
    record_errors: tuple[tuple[int, str], ...] = ()


def check_records(records: bytes | memoryview | None, version: int) -> _Outcome | None:
    """Kafka's ProduceRequest.validateRecords: exactly one batch of magic 2 per partition, and
    no zstd before v7. The CRC and record-level checks are the log's (native append)."""
    if records is None:
        return _Outcome(errors.INVALID_RECORD, "Produce requests must carry records")
    view = memoryview(records)
    size = view.nbytes
    if size < _LOG_OVERHEAD:
        return _no_batch(version)
    (length,) = _LENGTH.unpack_from(view, _LENGTH_AT)
    if length < _MIN_BATCH_LENGTH:
        return _Outcome(errors.CORRUPT_MESSAGE, f"Record size {length} is less than the minimum")
    if size < _LOG_OVERHEAD + length:
        return _no_batch(version)
    if view[_MAGIC_AT] != 2:
        return _Outcome(
            errors.INVALID_RECORD,
            f"Produce requests with version {version} are only allowed to contain record "
            "batches with magic version 2",
        )
    (attributes,) = _ATTRIBUTES.unpack_from(view, _ATTRIBUTES_AT)
    if version < ZSTD_MIN_VERSION and attributes & _CODEC_MASK == _ZSTD:
        return _Outcome(
            errors.UNSUPPORTED_COMPRESSION_TYPE,
            f"Produce requests with version {version} are not allowed to use ZStandard compression",
        )
    rest = size - _LOG_OVERHEAD - length
    # Kafka's batch iterator sees no further batch in fewer than 12 trailing bytes.
    if rest >= _LOG_OVERHEAD:
        return _Outcome(
            errors.INVALID_RECORD,
            f"Produce requests with version {version} are only allowed to contain exactly one "
            "record batch per partition",
        )
    return None


def _no_batch(version: int) -> _Outcome:
    return _Outcome(
        errors.INVALID_RECORD,
        f"Produce requests with version {version} must have at least one record batch per "
        "partition",
    )


# A topic of a request: its data, each partition's (index, handle or None, records), and the
# error for partitions without a handle.
_Partition = tuple[int, "PartitionHandle | None", Any]
_Topic = tuple[ProduceRequest.TopicProduceData, list[_Partition], int]


class ProduceHandler:
    """Answers Produce for one node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def answer_now(self, ctx: RequestContext, request: ProduceRequest) -> Any:
        """The answer when every partition's append can run inline without waiting (the
        common case: small batches, no append under way in a worker thread, no producer
        snapshot due), else LATER having changed nothing."""
        version, acks = ctx.api_version, request.acks
        targets = self._targets(request, version)
        if acks in VALID_ACKS:
            for _, partitions, _ in targets:
                for _, handle, records in partitions:
                    if handle is not None and not self._appends_inline(handle, records):
                        return LATER
        outcomes = [
            [
                None
                if h is None or acks not in VALID_ACKS
                else self._append_now(h, records, version, acks)
                for _, h, records in partitions
            ]
            for _, partitions, _ in targets
        ]
        return self._response(request, targets, outcomes)

    async def __call__(
        self, ctx: RequestContext, request: ProduceRequest
    ) -> ProduceResponse | None:
        version, acks = ctx.api_version, request.acks
        targets = self._targets(request, version)
        outcomes = [
            [
                None
                if h is None or acks not in VALID_ACKS
                else await self._append(h, records, version, acks)
                for _, h, records in partitions
            ]
            for _, partitions, _ in targets
        ]
        return self._response(request, targets, outcomes)

    def _targets(self, request: ProduceRequest, version: int) -> list[_Topic]:
        """Each topic with its partitions' (index, handle or None, records), and the error for
        partitions without a handle."""
        targets = []
        for topic in request.topic_data:
            handles, unknown = self._resolve(topic, version)
            partitions = [
                (data.index, handles.get(data.index) if handles is not None else None, data.records)
                for data in topic.partition_data
            ]
            targets.append((topic, partitions, unknown))
        return targets

    def _response(
        self,
        request: ProduceRequest,
        targets: list[_Topic],
        outcomes: list[list[_Outcome | None]],
    ) -> ProduceResponse | None:
        """Wake the fetchers of partitions that grew, and answer (nothing for acks=0).
        ``outcomes`` holds None where no append was tried."""
        acks_ok = request.acks in VALID_ACKS
        responses = []
        failed = []
        for (topic, partitions, unknown), topic_outcomes in zip(targets, outcomes, strict=True):
            parts = []
            for (index, handle, _), outcome in zip(partitions, topic_outcomes, strict=True):
                if not acks_ok:
                    outcome = _Outcome(errors.INVALID_REQUIRED_ACKS)
                elif outcome is None:
                    outcome = _Outcome(unknown)
                elif outcome.info is not None:
                    handle.notify_append()
                if outcome.code:
                    failed.append(outcome.code)
                parts.append(_partition_response(index, outcome))
            responses.append(
                ProduceResponse.TopicProduceResponse(
                    name=topic.name, topic_id=topic.topic_id, partition_responses=parts
                )
            )
        if request.acks == 0:
            if failed:
                raise AcksZeroProduceFailedError(f"acks=0 produce failed with errors {failed}")
            return None
        return ProduceResponse(responses=responses)

    def _resolve(
        self, topic: ProduceRequest.TopicProduceData, version: int
    ) -> tuple[dict[int, PartitionHandle] | None, int]:
        """The handles of the topic's requested partitions, and the error for unknown ones."""
        handles: dict[int, PartitionHandle] = {}
        for data in topic.partition_data:
            handle = (
                self.node.partition_by_id(topic.topic_id, data.index)
                if version >= TOPIC_ID_VERSION
                else self.node.partition(topic.name, data.index)
            )
            if handle is not None:
                handles[data.index] = handle
        if version >= TOPIC_ID_VERSION and not _topic_id_known(self.node, topic.topic_id):
            return None, errors.UNKNOWN_TOPIC_ID
        return handles, errors.UNKNOWN_TOPIC_OR_PARTITION

    def _appends_inline(self, handle: PartitionHandle, records: bytes | memoryview | None) -> bool:
        """Whether appending ``records`` needs no wait: small enough for the trio thread, no
        fsync per append (flush.messages), no append under way in a worker thread, and no
        producer state snapshot due once it is in."""
        if handle.append_lock.locked() or handle.log.config.flush_messages is not None:
            return False
        if records is None:
            return True
        view = memoryview(records)
        if view.nbytes > INLINE_APPEND_BYTES_MAX:
            return False
        if view.nbytes < _PRODUCER_ID_AT + _PRODUCER_ID.size:
            return True  # refused by check_records
        (producer_id,) = _PRODUCER_ID.unpack_from(view, _PRODUCER_ID_AT)
        if producer_id < 0:
            return True  # no producer state, no snapshot
        (delta,) = _LAST_OFFSET_DELTA.unpack_from(view, _LAST_OFFSET_DELTA_AT)
        return not _snapshot_due(handle, handle.log.log_end_offset + max(delta, 0) + 1)

    def _refusal(
        self, handle: PartitionHandle, records: bytes | memoryview | None, version: int, acks: int
    ) -> _Outcome | None:
        """Kafka's checks before an append (all but the keyless-record check of compacted
        topics), or None when they pass."""
        invalid = check_records(records, version)
        if invalid is not None:
            return invalid
        assert records is not None
        if acks == -1 and self.node.min_insync_replicas(handle.topic) > 1:
            # This node is the partition's only replica, so the ISR has one member.
            return _Outcome(
                errors.NOT_ENOUGH_REPLICAS,
                "The size of the current ISR is 1, below min.insync.replicas",
            )
        config = handle.log.config
        size = memoryview(records).nbytes
        # A batch above max.message.bytes is the log's MESSAGE_TOO_LARGE, checked first as in
        # Kafka; records that fit a batch but not a segment are RECORD_LIST_TOO_LARGE.
        if config.segment_bytes < size <= config.max_message_bytes:
            return _Outcome(
                errors.RECORD_LIST_TOO_LARGE,
                f"Records of {size} bytes exceed the segment size {config.segment_bytes}",
            )
        return None

    def _admitted(
        self, handle: PartitionHandle, records: bytes | memoryview, *, keyless_checked: bool
    ) -> _Outcome | ProducerBatch | None:
        """The checks after _refusal, in Kafka's order: records without a key on a compacted
        topic (unless ``keyless_checked``), a transactional producer, an idempotent producer's
        sequence and epoch. An _Outcome is the answer; else the batch's producer (or None)."""
        if not keyless_checked and "compact" in handle.log.config.cleanup_policy:
            # Its check takes bytes: a copy, on compacted topics only.
            refused = _keyless_records(handle, bytes(records))
            if refused is not None:
                return refused
        producer = ProducerBatch.parse(records)
        if producer is not None and producer.is_transactional:
            return _TRANSACTIONAL_REFUSED
        verdict = _producer_verdict(handle, records, producer)
        return verdict if verdict is not None else producer

    def _append_now(
        self,
        handle: PartitionHandle,
        records: bytes | memoryview | None,
        version: int,
        acks: int,
    ) -> _Outcome:
        """Check and append in the trio thread, for an append _appends_inline allows: nothing
        here yields, so check, append and producer state update are one step."""
        refused = self._refusal(handle, records, version, acks)
        if refused is not None:
            return refused
        assert records is not None
        producer = self._admitted(handle, records, keyless_checked=False)
        if isinstance(producer, _Outcome):
            return producer
        epoch = handle.leader_epoch
        try:
            # The request's read-only view of its frame goes to the log uncopied.
            info = handle.log.append(records, leader_epoch=epoch)
        except FerrokafkaError as exc:
            return _append_error(exc)
        return _appended(handle, epoch, info, producer)

    async def _append(
        self,
        handle: PartitionHandle,
        records: bytes | memoryview | None,
        version: int,
        acks: int,
    ) -> _Outcome:
        if self._appends_inline(handle, records):
            return self._append_now(handle, records, version, acks)
        refused = self._refusal(handle, records, version, acks)
        if refused is not None:
            return refused
        assert records is not None
        config = handle.log.config
        big = memoryview(records).nbytes > INLINE_APPEND_BYTES_MAX
        keyless_checked = big and "compact" in config.cleanup_policy
        if keyless_checked:
            # Decompresses the batch: in a worker thread, as big appends.
            refused = await trio.to_thread.run_sync(_keyless_records, handle, bytes(records))
            if refused is not None:
                return refused
        in_thread = big or config.flush_messages is not None
        async with handle.append_lock:
            producer = self._admitted(handle, records, keyless_checked=keyless_checked)
            if isinstance(producer, _Outcome):
                return producer
            epoch = handle.leader_epoch
            try:
                if in_thread:
                    info = await trio.to_thread.run_sync(
                        lambda: handle.log.append(records, leader_epoch=epoch)
                    )
                else:
                    info = handle.log.append(records, leader_epoch=epoch)
            except FerrokafkaError as exc:
                return _append_error(exc)
            outcome = _appended(handle, epoch, info, producer)
        if producer is not None:
            await self._maybe_snapshot(handle)
        return outcome

    async def _maybe_snapshot(self, handle: PartitionHandle) -> None:
        state = handle.producers
        end = handle.log.log_end_offset
        if not _snapshot_due(handle, end):
            return
        # Taken now, in the trio thread, so the entries match the log end exactly.
        entries = state.snapshot_entries()
        state.last_snapshot_offset = end  # no second snapshot while this one is written
        await trio.to_thread.run_sync(state.write_snapshot, end, entries)


# Kafka sets error_message for record-validation errors (RecordValidationException).
_ERRORS_WITH_MESSAGE = frozenset({errors.INVALID_RECORD, errors.INVALID_TIMESTAMP})


_TRANSACTIONAL_REFUSED = _Outcome(
    errors.INVALID_TXN_STATE, "Transactional producers are not supported by this broker"
)


def _snapshot_due(handle: PartitionHandle, log_end_offset: int) -> bool:
    state = handle.producers
    return log_end_offset - max(state.last_snapshot_offset, 0) >= PRODUCER_SNAPSHOT_INTERVAL_OFFSETS


def _producer_verdict(
    handle: PartitionHandle, data: bytes | memoryview, producer: ProducerBatch | None
) -> _Outcome | None:
    """An idempotent producer's batch checked against its state: the refusal, the answer to
    a retry of a batch already written, or None to append it."""
    if producer is None:
        return None
    verdict = handle.producers.check(producer)
    if isinstance(verdict, Rejected):
        return _Outcome(verdict.code, verdict.message)
    if verdict is not None:
        return _duplicate(data, verdict, handle)
    return None


def _append_error(exc: FerrokafkaError) -> _Outcome:
    code = errors.storage_error_code(exc)
    return _Outcome(code, str(exc) if code in _ERRORS_WITH_MESSAGE else None)


def _appended(
    handle: PartitionHandle, epoch: int, info: AppendInfo, producer: ProducerBatch | None
) -> _Outcome:
    # The log stamped ``epoch`` on the batch; a no-op unless the epoch is new to the cache.
    handle.epochs.assign(epoch, info.first_offset)
    if producer is not None:
        timestamp = info.log_append_time if info.log_append_time >= 0 else info.max_timestamp
        handle.producers.update(producer, info.last_offset, timestamp)
    return _Outcome(errors.NONE, info=info, log_start_offset=handle.log.log_start_offset)


def _keyless_records(handle: PartitionHandle, data: bytes) -> _Outcome | None:
    """Kafka's LogValidator.validateKey: a compacted topic refuses records without a key, each
    one a record error, and none of the batch is written."""
    try:
        indexes = keyless_record_indexes(data)
    except FerrokafkaError:
        return None  # a corrupt batch: the append reports it with Kafka's error
    if not indexes:
        return None
    message = (
        "Compacted topic cannot accept message without key in topic partition "
        f"{handle.topic}-{handle.partition}."
    )
    shown = ", ".join(f"RecordError(batchIndex={i}, message='{message}')" for i in indexes[:3])
    return _Outcome(
        errors.INVALID_RECORD,
        f"One or more records have been rejected due to {len(indexes)} record errors in total, "
        f"and only showing the first three errors at most: [{shown}]",
        record_errors=tuple((i, message) for i in indexes),
    )


def _topic_id_known(node: Node, topic_id: uuid.UUID) -> bool:
    return node.image.topics_by_id.get(topic_id) is not None


def _duplicate(
    data: bytes | memoryview, original: BatchMetadata, handle: PartitionHandle
) -> _Outcome:
    """The answer to a retried batch: the original offset, once the retry's CRC is checked (the
    log checks it on append, and a corrupt batch must not pass as a duplicate)."""
    (crc,) = _CRC.unpack_from(data, _CRC_AT)
    if crc32c(bytes(data[_CRC_FROM:])) != crc:  # crc32c takes bytes; retries only
        return _Outcome(errors.CORRUPT_MESSAGE)
    return _Outcome(errors.NONE, duplicate=original, log_start_offset=handle.log.log_start_offset)


def _partition_response(index: int, outcome: _Outcome) -> ProduceResponse.PartitionProduceResponse:
    info = outcome.info
    if outcome.duplicate is not None:
        return ProduceResponse.PartitionProduceResponse(
            index=index,
            error_code=errors.NONE,
            base_offset=outcome.duplicate.first_offset,
            log_append_time_ms=-1,
            log_start_offset=outcome.log_start_offset,
        )
    if info is None:
        return ProduceResponse.PartitionProduceResponse(
            index=index,
            error_code=outcome.code,
            base_offset=-1,
            log_append_time_ms=-1,
            log_start_offset=-1,
            error_message=outcome.message,
            record_errors=[
                ProduceResponse.BatchIndexAndErrorMessage(
                    batch_index=i, batch_index_error_message=m
                )
                for i, m in outcome.record_errors
            ],
        )
    return ProduceResponse.PartitionProduceResponse(
        index=index,
        error_code=errors.NONE,
        base_offset=info.first_offset,
        log_append_time_ms=info.log_append_time,
        log_start_offset=outcome.log_start_offset,
    )
