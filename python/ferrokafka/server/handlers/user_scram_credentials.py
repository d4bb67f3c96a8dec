"""DescribeUserScramCredentials (key 50) and AlterUserScramCredentials (51) on a broker (KIP-554).

Describe is answered from this broker's metadata image (Kafka's KafkaApis reads its metadata
cache); Alter goes to the active controller, as Kafka's broker forwards it. The decisions are
:mod:`ferrokafka.cluster.scram_ops`'s. Neither answer carries a salt or a key.
"""

from __future__ import annotations

from ferrokafka.cluster.scram_ops import describe_credentials
from ferrokafka.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest,
    AlterUserScramCredentialsResponse,
)
from ferrokafka.protocol.messages.describe_user_scram_credentials import (
    DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node


class DescribeUserScramCredentialsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: DescribeUserScramCredentialsRequest
    ) -> DescribeUserScramCredentialsResponse:
        return describe_credentials(self.node.image, request)


class AlterUserScramCredentialsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: AlterUserScramCredentialsRequest
    ) -> AlterUserScramCredentialsResponse:
        return await self.node.controller_channel.alter_user_scram_credentials(request)
