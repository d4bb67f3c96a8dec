"""DescribeProducers (API key 61, KIP-664): the active producers of each partition, from its
idempotent producer state, as Kafka's ``ReplicaManager.activeProducerState`` answers it. The
transactions tool (``kafka-transactions.sh describe-producers``) uses it to find hanging
transactions: each producer's coordinator epoch (of its last marker here, -1 for none) and the
first offset of its open transaction on the partition (-1 for none).
"""

from __future__ import annotations

from ferrokafka.partition import Partition
from ferrokafka.protocol.messages.describe_producers import (
    DescribeProducersRequest,
    DescribeProducersResponse,
)
from ferrokafka.server import errors
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

PartitionResponse = DescribeProducersResponse.PartitionResponse


class DescribeProducersHandler:
    """Answers DescribeProducers for one node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: DescribeProducersRequest
    ) -> DescribeProducersResponse:
        # Producer state is read in the trio thread, where the produce path changes it, so
        # every entry is seen between two appends, never halfway through an update.
        return DescribeProducersResponse(
            topics=[
                DescribeProducersResponse.TopicResponse(
                    name=topic.name,
                    partitions=[
                        _describe(
                            index, self.node.replicas.leader_partition_or_error(topic.name, index)
                        )
                        for index in topic.partition_indexes
                    ],
                )
                for topic in request.topics
            ]
        )


def _describe(index: int, handle: Partition | int) -> PartitionResponse:
    if isinstance(handle, int):
        return PartitionResponse(partition_index=index, error_code=handle)
    active = [
        DescribeProducersResponse.ProducerState(
            producer_id=entry.producer_id,
            producer_epoch=entry.epoch,
            last_sequence=entry.last_seq,
            last_timestamp=entry.last_timestamp,
            coordinator_epoch=entry.coordinator_epoch,
            current_txn_start_offset=entry.current_txn_first_offset,
        )
        # Every producer Kafka's activeProducers holds, a marker-only one too.
        for entry in handle.producers.producers.values()
    ]
    return PartitionResponse(partition_index=index, error_code=errors.NONE, active_producers=active)
