"""DeleteTopics (key 20): by name (v1-5) or by name or id (v6+), decided by the controller.

The partition logs of a deleted topic are removed by the node's sync after the controller
committed the RemoveTopicRecords. With ``delete.topic.enable=false`` the controller answers
TOPIC_DELETION_DISABLED; Kafka's broker turns that into INVALID_REQUEST below v3, the version
that introduced the error code (older clients would not know it).
"""

from __future__ import annotations

from typing import Any

from ferrokafka.cluster import errors
from ferrokafka.cluster.image import ZERO_UUID
from ferrokafka.protocol.error_codes import THROTTLING_QUOTA_EXCEEDED
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest, DeleteTopicsResponse
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node
from ferrokafka.server.quotas.mutations import (
    DELETE_TOPICS_STRICT_VERSION,
    guard_mutations,
    mutation_quota,
)

DELETION_DISABLED_MIN_VERSION = 3


class DeleteTopicsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: DeleteTopicsRequest
    ) -> DeleteTopicsResponse:
        image = self.node.image
        by_id = bool(request.topics)
        names = {t.name for t in request.topics if t.name}

        def topic_of(entry: Any) -> Any:
            if not by_id:
                return image.topic(entry)
            return image.topic(entry.name) if entry.name else image.topic_by_id(entry.topic_id)

        def permits(entry: Any) -> int:
            topic = topic_of(entry)
            return len(topic.partitions) if topic is not None else 0

        def key(entry: Any) -> Any:
            return entry if not by_id else (entry.name or entry.topic_id)

        def refused(entry: Any) -> DeleteTopicsResponse.DeletableTopicResult:
            topic = topic_of(entry)
            return DeleteTopicsResponse.DeletableTopicResult(
                name=entry if not by_id else (entry.name or (topic.name if topic else None)),
                topic_id=topic.topic_id if topic is not None else ZERO_UUID,
                error_code=THROTTLING_QUOTA_EXCEEDED,
                error_message=None,  # Kafka: none for the error's own message
            )

        response = await guard_mutations(
            mutation_quota(self.node),
            ctx,
            request,
            entries_attr="topics" if by_id else "topic_names",
            results_attr="responses",
            permits=permits,
            key=key,
            result_key=lambda r: r.name if not by_id or r.name in names else r.topic_id,
            refused=refused,
            strict_since=DELETE_TOPICS_STRICT_VERSION,
            forward=self.node.controller_channel.delete_topics,
        )
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
