"""CreateTopics (key 19): validated and committed by the controller, answered at the request's
version (fields a version lacks are ignorable, so the encoder drops them).

Kafka's broker waits up to ``timeout_ms`` for the new topics to reach every broker's metadata;
with one node the controller's commit is that moment, so the answer is immediate and the
timeout never expires. ``validate_only`` is the controller's: it decides and commits nothing.
"""

from __future__ import annotations

from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest, CreateTopicsResponse
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node


class CreateTopicsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: CreateTopicsRequest
    ) -> CreateTopicsResponse:
        return await self.node.controller_channel.create_topics(request)
