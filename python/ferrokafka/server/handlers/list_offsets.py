"""ListOffsets (API key 2): the offset of a timestamp or of a named position (earliest,
latest, max timestamp, ...) in each partition, as Kafka 4's ``Partition.fetchOffsetForTimestamp``
answers it. There is no v0 any more (its list of offsets went in Kafka 4).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import trio

from ferrokafka.partition import Partition
from ferrokafka.protocol.messages.list_offsets import ListOffsetsRequest, ListOffsetsResponse
from ferrokafka.server import errors
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node
from ferrokafka.storage import FerrokafkaError, Log

LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2
MAX_TIMESTAMP = -3
EARLIEST_LOCAL_TIMESTAMP = -4
LATEST_TIERED_TIMESTAMP = -5
EARLIEST_PENDING_UPLOAD_TIMESTAMP = -6
# Tiered storage positions: with no remote storage Kafka answers "no offset" (-1) for them.
_TIERED = frozenset({LATEST_TIERED_TIMESTAMP, EARLIEST_PENDING_UPLOAD_TIMESTAMP})
CONSUMER_REPLICA_ID = -1
READ_COMMITTED = 1
NO_TIMESTAMP = -1
NO_OFFSET = -1
NO_EPOCH = -1
# The response carries the leader epoch from v4 on.
LEADER_EPOCH_VERSION = 4

PartitionResponse = ListOffsetsResponse.ListOffsetsPartitionResponse


def batch_leader_epoch(log: Log, offset: int) -> int | None:
    """The leader epoch stamped on the batch holding ``offset`` (Kafka keeps these in its
    leader-epoch cache; here the log reads the batch's header natively, without the GIL), or
    None outside the log or for a batch written without one."""
    header = log.batch_header_at(offset)
    if header is None or header.partition_leader_epoch < 0:
        return None
    return header.partition_leader_epoch


def offset_for(
    handle: Partition, timestamp: int, isolation_level: int, replica_id: int
) -> tuple[int, int, int]:
    """(timestamp, offset, leader epoch) of ``timestamp`` in the partition; blocking I/O."""
    log = handle.log
    if replica_id == CONSUMER_REPLICA_ID:
        last_fetchable = (
            handle.last_stable_offset
            if isolation_level == READ_COMMITTED
            else handle.high_watermark
        )
    else:  # a replica or a debugging tool sees the whole log
        last_fetchable = log.log_end_offset
    if timestamp == LATEST_TIMESTAMP:
        return NO_TIMESTAMP, last_fetchable, handle.leader_epoch
    if timestamp in (EARLIEST_TIMESTAMP, EARLIEST_LOCAL_TIMESTAMP):
        # No tiered storage: the local log start is the log start.
        start = log.log_start_offset
        epoch = batch_leader_epoch(log, start)
        return NO_TIMESTAMP, start, handle.leader_epoch if epoch is None else epoch
    if timestamp in _TIERED:
        return NO_TIMESTAMP, NO_OFFSET, NO_EPOCH
    if timestamp == MAX_TIMESTAMP:
        found = log.offset_for_max_timestamp()
    else:
        found = log.offset_for_timestamp(timestamp)
    # Kafka never reveals an offset the client could not fetch yet.
    if found is None or found[0] >= last_fetchable:
        return NO_TIMESTAMP, NO_OFFSET, NO_EPOCH
    offset, found_timestamp = found
    epoch = batch_leader_epoch(log, offset)
    return found_timestamp, offset, NO_EPOCH if epoch is None else epoch


class ListOffsetsHandler:
    """Answers ListOffsets for one node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: ListOffsetsRequest
    ) -> ListOffsetsResponse:
        counts = Counter(
            (topic.name, part.partition_index)
            for topic in request.topics
            for part in topic.partitions
        )
        # Resolve handles in the trio thread (the handle map changes only there), then do the
        # index lookups and header reads in one worker-thread hop.
        work = [
            (
                topic.name,
                part,
                self.node.replicas.leader_partition_or_error(topic.name, part.partition_index),
            )
            for topic in request.topics
            for part in topic.partitions
        ]

        def lookups() -> list[PartitionResponse]:
            return [_answer(name, part, handle, counts, request) for name, part, handle in work]

        answers = iter(await trio.to_thread.run_sync(lookups))
        if ctx.api_version < LEADER_EPOCH_VERSION:
            answers = (replace(a, leader_epoch=NO_EPOCH) for a in answers)
        return ListOffsetsResponse(
            topics=[
                ListOffsetsResponse.ListOffsetsTopicResponse(
                    name=topic.name, partitions=[next(answers) for _ in topic.partitions]
                )
                for topic in request.topics
            ]
        )


def _answer(
    name: str,
    part: ListOffsetsRequest.ListOffsetsPartition,
    handle: Partition | int,
    counts: Counter[tuple[str, int]],
    request: ListOffsetsRequest,
) -> PartitionResponse:
    index = part.partition_index
    if counts[(name, index)] > 1:
        return _error(index, errors.INVALID_REQUEST)
    if isinstance(handle, int):
        return _error(index, handle)
    code = errors.leader_epoch_error(part.current_leader_epoch, handle.leader_epoch)
    if code:
        return _error(index, code)
    try:
        timestamp, offset, epoch = offset_for(
            handle, part.timestamp, request.isolation_level, request.replica_id
        )
    except FerrokafkaError as exc:
        return _error(index, errors.storage_error_code(exc))
    return PartitionResponse(
        partition_index=index, error_code=0, timestamp=timestamp, offset=offset, leader_epoch=epoch
    )


def _error(index: int, code: int) -> PartitionResponse:
    return PartitionResponse(
        partition_index=index, error_code=code, timestamp=NO_TIMESTAMP, offset=NO_OFFSET
    )
