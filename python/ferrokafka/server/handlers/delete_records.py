"""DeleteRecords (API key 21): raise partitions' log start offsets, as Kafka's
``Partition.deleteRecordsOnLeader``, then wait (Kafka's ``DelayedDeleteRecords``) in the
purgatory until every partition's low watermark — the smallest log start offset among its
replicas — reaches the requested offset, at most ``timeout_ms``. With a single replica the low
watermark is the leader's own log start, so the answer is immediate.
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
        deleted: list[list[tuple[Partition | None, int, Result]]] = []
        for topic in request.topics:
            results = []
            for part in topic.partitions:
                handle = self.node.replicas.leader_partition_or_error(
                    topic.name, part.partition_index
                )
                results.append(await self._delete(handle, part))
            deleted.append(results)
        pending = [
            (handle, offset) for results in deleted for handle, offset, _ in results if handle
        ]

        def done() -> bool:
            return all(not h.is_leader or h.low_watermark >= offset for h, offset in pending)

        if pending and not done():
            deadline = trio.current_time() + max(0, request.timeout_ms) / 1000
            await self.node.replicas.purgatory.wait_until(
                done, [h.key for h, _ in pending], deadline
            )
        return DeleteRecordsResponse(
            topics=[
                DeleteRecordsResponse.DeleteRecordsTopicResult(
                    name=topic.name,
                    partitions=[_after_wait(h, offset, result) for h, offset, result in rs],
                )
                for topic, rs in zip(request.topics, deleted, strict=True)
            ]
        )

    async def _delete(
        self, handle: Partition | int, part: DeleteRecordsRequest.DeleteRecordsPartition
    ) -> tuple[Partition | None, int, Result]:
        """The partition's deletion on this leader: (the partition and the offset its low
        watermark must reach, the answer if it does) or (None, -1, the error)."""
        index = part.partition_index
        if isinstance(handle, int):
            return None, -1, _error(index, handle)
        if not self._deletes(handle.topic):
            return None, -1, _error(index, POLICY_VIOLATION)
        high_watermark = handle.high_watermark
        offset = high_watermark if part.offset == HIGH_WATERMARK else part.offset
        if not 0 <= offset <= high_watermark:
            return None, -1, _error(index, errors.OFFSET_OUT_OF_RANGE)
        log = handle.log
        try:
            if offset > log.log_start_offset:
                # Deleting whole segments below the new start is file I/O.
                await trio.to_thread.run_sync(log.advance_log_start_offset, offset)
                # Kafka trims the leader epoch cache to the new log start too.
                await trio.to_thread.run_sync(handle.epochs.truncate_from_start, offset)
                handle.wake_waiters()  # other deletions wait on the low watermark too
        except FerrokafkaError as exc:
            return None, -1, _error(index, errors.storage_error_code(exc))
        return handle, offset, Result(partition_index=index, error_code=errors.NONE)

    def _deletes(self, topic: str) -> bool:
        """Kafka refuses DeleteRecords on a topic whose cleanup.policy lacks "delete"."""
        overrides = dict(self.node.image.topic_config(topic))
        return "delete" in self.node.config.topic_config(overrides)["cleanup.policy"]


def _after_wait(handle: Partition | None, offset: int, result: Result) -> Result:
    """A partition's answer once the wait is over: its low watermark if it reached
    ``offset``, REQUEST_TIMED_OUT if not, NOT_LEADER_OR_FOLLOWER if leadership moved."""
    if handle is None:
        return result
    index = result.partition_index
    if not handle.is_leader:
        return _error(index, errors.NOT_LEADER_OR_FOLLOWER)
    low_watermark = handle.low_watermark
    if low_watermark < offset:
        return _error(index, errors.REQUEST_TIMED_OUT)
    return Result(partition_index=index, low_watermark=low_watermark, error_code=errors.NONE)


def _error(index: int, code: int) -> Result:
    return Result(partition_index=index, low_watermark=INVALID_LOW_WATERMARK, error_code=code)
