"""The latest offset of a partition, for the lag DescribeShareGroupOffsets answers: the high
watermark where this broker leads the partition, else ListOffsets (LATEST, read uncommitted)
to its leader, as Kafka 4.4's group coordinator asks through its PartitionMetadataClient."""

from __future__ import annotations

import uuid

import trio

from ferrokafka.cluster.node_client import NodeUnavailableError
from ferrokafka.partition import Partition
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.list_offsets import ListOffsetsRequest
from ferrokafka.server.handlers.share_broker_clients import ShareBrokerClients
from ferrokafka.server.node import Node

LATEST_TIMESTAMP = -1
# A describe waits this long for a leader's answer; then the lag is left unknown (-1).
RPC_TIMEOUT_S = 10.0
# The consumer's replica id (ListOffsets from a client, not a follower).
CONSUMER_REPLICA_ID = -1


class LatestOffsets:
    """One per broker; its connections to the other brokers close with the share
    coordinator."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._clients = ShareBrokerClients(node, "share-offsets", RPC_TIMEOUT_S)

    async def __call__(self, topic_id: uuid.UUID, partition: int) -> tuple[int, int]:
        """(error code, latest offset); offset -1 when it cannot be known now."""
        found = self.node.replicas.leader_partition_by_id_or_error(topic_id, partition)
        if isinstance(found, Partition):
            return ec.NONE, found.high_watermark
        topic = self.node.image.topics_by_id.get(topic_id)
        part = self.node.image.partition(topic.name, partition) if topic is not None else None
        if topic is None or part is None:
            return ec.UNKNOWN_TOPIC_OR_PARTITION, -1
        if part.leader < 0 or part.leader == self.node.config.node_id:
            return ec.NONE, -1  # no leader now, or this broker is still opening it
        request = ListOffsetsRequest(
            replica_id=CONSUMER_REPLICA_ID,
            isolation_level=0,
            topics=[
                ListOffsetsRequest.ListOffsetsTopic(
                    name=topic.name,
                    partitions=[
                        ListOffsetsRequest.ListOffsetsPartition(
                            partition_index=partition, timestamp=LATEST_TIMESTAMP
                        )
                    ],
                )
            ],
        )
        try:
            client = await self._clients.get().client(part.leader)
            answer = await client.call(request)
        except (NodeUnavailableError, trio.TooSlowError, OSError):
            return ec.NONE, -1
        got = answer.topics[0].partitions[0] if answer.topics else None
        if got is None:
            return ec.NONE, -1
        return int(got.error_code), int(got.offset)
