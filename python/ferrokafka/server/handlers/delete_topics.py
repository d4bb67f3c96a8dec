"""DeleteTopics (key 20): by name (v1-5) or by name or id (v6+), decided by the controller.

The partition logs of a deleted topic are removed by the node's sync after the controller
committed the RemoveTopicRecords. With ``delete.topic.enable=false`` the controller answers
TOPIC_DELETION_DISABLED; Kafka's broker turns that into INVALID_REQUEST below v3, the version
that introduced the error code (older clients would not know it).
"""

from __future__ import annotations

from ferrokafka.cluster import errors
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest, DeleteTopicsResponse
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

DELETION_DISABLED_MIN_VERSION = 3


class DeleteTopicsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: DeleteTopicsRequest
    ) -> DeleteTopicsResponse:
        response = await self.node.controller_channel.delete_topics(request)
        if ctx.api_version < DELETION_DISABLED_MIN_VERSION:
            for result in response.responses:
                if result.error_code == errors.TOPIC_DELETION_DISABLED:
                    result.error_code = errors.INVALID_REQUEST
                    result.error_message = "Topic deletion is disabled."
        if ctx.api_version < 6:
            # Names are non-nullable below v6, and only names can be asked for there.
            for result in response.responses:
                if result.name is None:
                    result.name = ""
        return response
