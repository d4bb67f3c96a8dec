"""DescribeClientQuotas (key 48) and AlterClientQuotas (49), as ``kafka-configs --entity-type
users|clients|ips`` sends them.

Describe answers from the node's metadata image (Kafka's ``ClientQuotasImage.describe``); alter
goes to the active controller, which validates each entity and commits ClientQuotaRecords
(:mod:`ferrokafka.cluster.client_quotas`).
"""

from __future__ import annotations

from ferrokafka.cluster.client_quotas import describe_client_quotas
from ferrokafka.protocol.messages.alter_client_quotas import (
    AlterClientQuotasRequest,
    AlterClientQuotasResponse,
)
from ferrokafka.protocol.messages.describe_client_quotas import (
    DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node


class DescribeClientQuotasHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: DescribeClientQuotasRequest
    ) -> DescribeClientQuotasResponse:
        return describe_client_quotas(self.node.image.client_quotas, request)


class AlterClientQuotasHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: AlterClientQuotasRequest
    ) -> AlterClientQuotasResponse:
        return await self.node.controller_channel.alter_client_quotas(request)
