"""DeleteRecords (API key 21): raise partitions' log start offsets, as Kafka's
``Partition.deleteRecordsOnLeader``. With a single replica the new start is final at once, so
``timeout_ms`` (the wait for followers) is never needed.
"""

from __future__ import annotations

import trio

from ferrokafka.partition import Partition
from ferrokafka.protocol.messages.delete_records import (
    DeleteRecordsRequest,
    DeleteRecordsResponse,
)
from ferrokafka.server import errors
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node
from ferrokafka.storage import FerrokafkaError

# An offset of -1 means "up to the high watermark".
HIGH_WATERMARK = -1
INVALID_LOW_WATERMARK = -1
POLICY_VIOLATION = 44

Result = DeleteRecordsResponse.DeleteRecordsPartitionResult


class DeleteRecordsHandler:
    """Answers DeleteRecords for one node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: DeleteRecordsRequest
    ) -> DeleteRecordsResponse:
        topics = []
        for topic in request.topics:
            results = []
            for part in topic.partitions:
                handle = self.node.replicas.leader_partition_or_error(
                    topic.name, part.partition_index
                )
                results.append(await self._delete(handle, part))
            topics.append(
                DeleteRecordsResponse.DeleteRecordsTopicResult(name=topic.name, partitions=results)
            )
        return DeleteRecordsResponse(topics=topics)

    async def _delete(
        self, handle: Partition | int, part: DeleteRecordsRequest.DeleteRecordsPartition
    ) -> Result:
        index = part.partition_index
        if isinstance(handle, int):
            return _error(index, handle)
        if not self._deletes(handle.topic):
            return _error(index, POLICY_VIOLATION)
        high_watermark = handle.high_watermark
        offset = high_watermark if part.offset == HIGH_WATERMARK else part.offset
        if not 0 <= offset <= high_watermark:
            return _error(index, errors.OFFSET_OUT_OF_RANGE)
        log = handle.log
        try:
            if offset > log.log_start_offset:
                # Deleting whole segments below the new start is file I/O.
                await trio.to_thread.run_sync(log.advance_log_start_offset, offset)
                # Kafka trims the leader epoch cache to the new log start too.
                await trio.to_thread.run_sync(handle.epochs.truncate_from_start, offset)
            low_watermark = log.log_start_offset
        except FerrokafkaError as exc:
            return _error(index, errors.storage_error_code(exc))
        return Result(partition_index=index, low_watermark=low_watermark, error_code=errors.NONE)

    def _deletes(self, topic: str) -> bool:
        """Kafka refuses DeleteRecords on a topic whose cleanup.policy lacks "delete"."""
        overrides = dict(self.node.image.topic_config(topic))
        return "delete" in self.node.config.topic_config(overrides)["cleanup.policy"]


def _error(index: int, code: int) -> Result:
    return Result(partition_index=index, low_watermark=INVALID_LOW_WATERMARK, error_code=code)
