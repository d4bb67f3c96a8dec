"""AlterPartitionReassignments (key 45) and ListPartitionReassignments (key 46) on broker
listeners: forwarded to the active controller, which decides them
(:mod:`ferrokafka.cluster.reassignment`), as Kafka's brokers forward them. The brokers act on
the outcome when the metadata reaches them: a new replica opens its log and fetches from the
leader, a removed one deletes its log (:mod:`ferrokafka.partition.replica_manager`)."""

from __future__ import annotations

from ferrokafka.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest,
    AlterPartitionReassignmentsResponse,
)
from ferrokafka.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node


class AlterPartitionReassignmentsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: AlterPartitionReassignmentsRequest
    ) -> AlterPartitionReassignmentsResponse:
        return await self.node.controller_channel.alter_partition_reassignments(request)


class ListPartitionReassignmentsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: ListPartitionReassignmentsRequest
    ) -> ListPartitionReassignmentsResponse:
        return await self.node.controller_channel.list_partition_reassignments(request)
