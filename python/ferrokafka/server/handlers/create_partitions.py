"""CreatePartitions (key 37): more partitions for existing topics, decided by the controller
(INVALID_PARTITIONS for a decrease or no change, INVALID_REPLICA_ASSIGNMENT for a bad manual
assignment); the node opens the new partitions' logs when the records are committed.
``validate_only`` commits nothing; the timeout never expires on one node (see create_topics).
"""

from __future__ import annotations

from ferrokafka.protocol.messages.create_partitions import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node


class CreatePartitionsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: CreatePartitionsRequest
    ) -> CreatePartitionsResponse:
        return await self.node.controller_channel.create_partitions(request)
