"""OffsetForLeaderEpoch (API key 23): where a leader epoch ended in each partition, from the
partition's leader epoch cache, as Kafka's ``Partition.lastOffsetForLeaderEpoch`` answers it.

Followers ask it to find where their log diverges from the leader's (KIP-101/KIP-279);
consumers ask it (replica_id -1) after a leader change to check that the offset they hold was
not truncated away (KIP-320). Kafka treats both alike apart from authorization (a follower
needs CLUSTER_ACTION, a consumer DESCRIBE on the topic); with no authorizer here, the
replica id changes nothing in the answer.
"""

from __future__ import annotations

import trio

from ferrokafka.partition import Partition as HostedPartition
from ferrokafka.partition.leader_epochs import UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
from ferrokafka.protocol.messages.offset_for_leader_epoch import (
    OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
)
from ferrokafka.server import errors
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

EpochEndOffset = OffsetForLeaderEpochResponse.EpochEndOffset
Partition = OffsetForLeaderEpochRequest.OffsetForLeaderPartition


class OffsetForLeaderEpochHandler:
    """Answers OffsetForLeaderEpoch for one node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: OffsetForLeaderEpochRequest
    ) -> OffsetForLeaderEpochResponse:
        # Resolve handles in the trio thread (the handle map changes only there); the lookups
        # may rewrite the checkpoint after retention moved the log start: one worker hop.
        work = [
            (part, self.node.replicas.leader_partition_or_error(topic.topic, part.partition))
            for topic in request.topics
            for part in topic.partitions
        ]

        def lookups() -> list[EpochEndOffset]:
            return [_answer(part, handle) for part, handle in work]

        answers = iter(await trio.to_thread.run_sync(lookups))
        return OffsetForLeaderEpochResponse(
            topics=[
                OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult(
                    topic=topic.topic, partitions=[next(answers) for _ in topic.partitions]
                )
                for topic in request.topics
            ]
        )


def _answer(part: Partition, handle: HostedPartition | int) -> EpochEndOffset:
    if isinstance(handle, int):
        return _result(part.partition, handle)
    code = errors.leader_epoch_error(part.current_leader_epoch, handle.leader_epoch)
    if code:
        return _result(part.partition, code)
    log = handle.log
    # Retention deletes segments without telling the cache; trim it before answering so an
    # epoch whose records are gone is not reported as starting below the log start.
    handle.epochs.truncate_from_start(log.log_start_offset)
    epoch, end_offset = handle.epochs.end_offset_for(part.leader_epoch, log.log_end_offset)
    return _result(part.partition, errors.NONE, epoch, end_offset)


def _result(
    index: int,
    code: int,
    epoch: int = UNDEFINED_EPOCH,
    end_offset: int = UNDEFINED_EPOCH_OFFSET,
) -> EpochEndOffset:
    return EpochEndOffset(
        error_code=code, partition=index, leader_epoch=epoch, end_offset=end_offset
    )
