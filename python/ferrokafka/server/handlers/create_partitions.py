"""CreatePartitions (key 37): more partitions for existing topics, decided by the controller
(INVALID_PARTITIONS for a decrease or no change, INVALID_REPLICA_ASSIGNMENT for a bad manual
assignment); the node opens the new partitions' logs when the records are committed.
``validate_only`` commits nothing; the timeout never expires on one node (see create_topics).
"""

from __future__ import annotations

from ferrokafka.protocol.error_codes import THROTTLING_QUOTA_EXCEEDED
from ferrokafka.protocol.messages.create_partitions import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node
from ferrokafka.server.quotas.mutations import (
    CREATE_PARTITIONS_STRICT_VERSION,
    guard_mutations,
    mutation_quota,
)


class CreatePartitionsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: CreatePartitionsRequest
    ) -> CreatePartitionsResponse:
        image = self.node.image

        def permits(topic: CreatePartitionsRequest.CreatePartitionsTopic) -> int:
            existing = image.topic(topic.name)
            return max(0, topic.count - (len(existing.partitions) if existing else 0))

        return await guard_mutations(
            mutation_quota(self.node),
            ctx,
            request,
            entries_attr="topics",
            results_attr="results",
            permits=permits,
            key=lambda topic: topic.name,
            result_key=lambda result: result.name,
            refused=lambda topic: CreatePartitionsResponse.CreatePartitionsTopicResult(
                name=topic.name,
                error_code=THROTTLING_QUOTA_EXCEEDED,
                error_message=None,  # Kafka: none for the error's own message
            ),
            strict_since=CREATE_PARTITIONS_STRICT_VERSION,
            forward=self.node.controller_channel.create_partitions,
        )
