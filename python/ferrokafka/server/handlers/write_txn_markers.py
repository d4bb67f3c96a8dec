"""WriteTxnMarkers (API key 27): a transaction coordinator asks this broker, as leader of the
partitions of a transaction, to write the transaction's COMMIT or ABORT marker on each
(Kafka's ``KafkaApis.handleWriteTxnMarkersRequest``).

Each marker is appended through :meth:`ferrokafka.partition.Partition.append_txn_marker`
(Kafka's checks: the producer's epoch, the coordinator's epoch) and answered once the high
watermark covers it (Kafka appends markers with acks=-1), or REQUEST_TIMED_OUT after
:data:`MARKER_TIMEOUT_MS`. Partitions of ``__consumer_offsets`` go to the group coordinator
(``complete_transaction``), which writes the marker through its runtime and applies or drops
the transaction's pending offsets; its "not ready" errors become NOT_LEADER_OR_FOLLOWER, as
Kafka translates them, so the transaction coordinator retries.

The request comes from brokers only (Kafka authorizes it as a cluster action; there is no
authorizer here yet).
"""

from __future__ import annotations

import trio

from ferrokafka.partition import Partition
from ferrokafka.partition.appends import AppendResult
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.write_txn_markers import (
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

GROUP_METADATA_TOPIC = "__consumer_offsets"
# Kafka waits request.timeout.ms (default 30 s) for the markers' replication.
MARKER_TIMEOUT_MS = 30_000
# The group coordinator's errors the transaction coordinator does not expect: Kafka answers
# NOT_LEADER_OR_FOLLOWER instead, which it retries.
_GROUP_NOT_READY = frozenset(
    {ec.COORDINATOR_NOT_AVAILABLE, ec.COORDINATOR_LOAD_IN_PROGRESS, ec.NOT_COORDINATOR}
)

Marker = WriteTxnMarkersRequest.WritableTxnMarker
MarkerResult = WriteTxnMarkersResponse.WritableTxnMarkerResult
TopicResult = WriteTxnMarkersResponse.WritableTxnMarkerTopicResult
PartitionResult = WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult


class WriteTxnMarkersHandler:
    """Answers WriteTxnMarkers for one node."""

    def __init__(self, node: Node, timeout_ms: int = MARKER_TIMEOUT_MS) -> None:
        self.node = node
        self.timeout_ms = timeout_ms

    async def __call__(
        self, ctx: RequestContext, request: WriteTxnMarkersRequest
    ) -> WriteTxnMarkersResponse:
        return await self.write(request)

    async def write(self, request: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse:
        """The whole request (also the in-process entry for this broker's own transaction
        coordinator): markers in request order, each partition's in order."""
        results = []
        pending: list[tuple[Partition, int]] = []
        codes: list[list[list[int | tuple[Partition, AppendResult]]]] = []
        for marker in request.markers:
            marker_codes = []
            for topic in marker.topics:
                topic_codes: list[int | tuple[Partition, AppendResult]] = []
                for index in topic.partition_indexes:
                    outcome = await self._write_one(marker, topic.name, index)
                    if isinstance(outcome, tuple) and outcome[1].info is not None:
                        pending.append((outcome[0], outcome[1].info.last_offset + 1))
                    topic_codes.append(outcome)
                marker_codes.append(topic_codes)
            codes.append(marker_codes)
        await self._wait_for_replication(pending)
        for marker, marker_codes in zip(request.markers, codes, strict=True):
            results.append(
                MarkerResult(
                    producer_id=marker.producer_id,
                    topics=[
                        TopicResult(
                            name=topic.name,
                            partitions=[
                                PartitionResult(partition_index=index, error_code=_code(outcome))
                                for index, outcome in zip(
                                    topic.partition_indexes, topic_codes, strict=True
                                )
                            ],
                        )
                        for topic, topic_codes in zip(marker.topics, marker_codes, strict=True)
                    ],
                )
            )
        return WriteTxnMarkersResponse(markers=results)

    async def _write_one(
        self, marker: Marker, topic: str, index: int
    ) -> int | tuple[Partition, AppendResult]:
        """One partition's marker: an error code, or the partition and its append."""
        if self.node.replicas.partition(topic, index) is None:
            # Kafka's getMagic: no local replica of it.
            return ec.UNKNOWN_TOPIC_OR_PARTITION
        if topic == GROUP_METADATA_TOPIC:
            return await self._complete_group_transaction(marker, index)
        found = self.node.replicas.leader_partition_or_error(topic, index)
        if isinstance(found, int):
            return found
        result = await found.append_txn_marker(
            marker.producer_id,
            marker.producer_epoch,
            marker.coordinator_epoch,
            marker.transaction_result,
            transaction_version=marker.transaction_version,
        )
        if result.code:
            return result.code
        return found, result

    async def _complete_group_transaction(self, marker: Marker, index: int) -> int:
        """``__consumer_offsets``: the group coordinator writes the marker and settles the
        transaction's offsets (Kafka's new group coordinator path)."""
        coordinator = self.node.group_coordinator
        if coordinator is None:
            return ec.NOT_LEADER_OR_FOLLOWER  # COORDINATOR_NOT_AVAILABLE, as Kafka answers it
        code: int = await coordinator.complete_transaction(  # type: ignore[attr-defined]
            index,
            marker.producer_id,
            marker.producer_epoch,
            marker.coordinator_epoch,
            marker.transaction_result,
        )
        return ec.NOT_LEADER_OR_FOLLOWER if code in _GROUP_NOT_READY else code

    async def _wait_for_replication(self, pending: list[tuple[Partition, int]]) -> None:
        """acks=-1: until every appended marker is below its partition's high watermark (or
        its leadership moved), at most :attr:`timeout_ms`."""

        def replicated() -> bool:
            return all(p.high_watermark >= end or not p.is_leader for p, end in pending)

        if not pending or replicated():
            return
        deadline = trio.current_time() + self.timeout_ms / 1000
        await self.node.replicas.purgatory.wait_until(
            replicated, [p.key for p, _ in pending], deadline
        )


def _code(outcome: int | tuple[Partition, AppendResult]) -> int:
    """A partition's answer after the wait."""
    if isinstance(outcome, int):
        return outcome
    partition, result = outcome
    assert result.info is not None
    if not partition.is_leader:
        return ec.NOT_LEADER_OR_FOLLOWER
    if partition.high_watermark <= result.info.last_offset:
        return ec.REQUEST_TIMED_OUT
    return ec.NONE
