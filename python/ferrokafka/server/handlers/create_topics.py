"""CreateTopics (key 19): validated and committed by the controller, answered at the request's
version (fields a version lacks are ignorable, so the encoder drops them).

Kafka's broker waits up to ``timeout_ms`` for the new topics to reach every broker's metadata;
with one node the controller's commit is that moment, so the answer is immediate and the
timeout never expires. ``validate_only`` is the controller's: it decides and commits nothing.
A client over its ``controller_mutation_rate`` gets THROTTLING_QUOTA_EXCEEDED for the topics
the quota refuses (v6+; server/quotas/mutations.py).
"""

from __future__ import annotations

from ferrokafka.protocol.error_codes import THROTTLING_QUOTA_EXCEEDED
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest, CreateTopicsResponse
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node
from ferrokafka.server.quotas.mutations import (
    CREATE_TOPICS_STRICT_VERSION,
    guard_mutations,
    mutation_quota,
)


class CreateTopicsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: CreateTopicsRequest
    ) -> CreateTopicsResponse:
        default = int(self.node.config["num.partitions"])

        def permits(topic: CreateTopicsRequest.CreatableTopic) -> int:
            if topic.num_partitions > 0:
                return topic.num_partitions
            return len(topic.assignments) or default

        return await guard_mutations(
            mutation_quota(self.node),
            ctx,
            request,
            entries_attr="topics",
            results_attr="topics",
            permits=permits,
            key=lambda topic: topic.name,
            result_key=lambda result: result.name,
            # Kafka 4.4 answers this one without a message.
            refused=lambda topic: CreateTopicsResponse.CreatableTopicResult(
                name=topic.name, error_code=THROTTLING_QUOTA_EXCEEDED, error_message=None
            ),
            strict_since=CREATE_TOPICS_STRICT_VERSION,
            forward=self.node.controller_channel.create_topics,
        )
