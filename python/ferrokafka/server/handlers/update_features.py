"""UpdateFeatures (key 57) on a broker listener: forwarded to the active controller, as Kafka's
broker forwards it (``kafka-features --bootstrap-server ... upgrade|downgrade``); the
controller decides (:mod:`ferrokafka.cluster.feature_control`) and the new levels reach every
node's ApiVersions through the metadata log. v0's ``allow_downgrade`` is read here, since the
request goes on at a later version that has none.
"""

from __future__ import annotations

from ferrokafka.cluster.feature_control import with_upgrade_types
from ferrokafka.protocol.messages.update_features import (
    UpdateFeaturesRequest,
    UpdateFeaturesResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node


class UpdateFeaturesHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: UpdateFeaturesRequest
    ) -> UpdateFeaturesResponse:
        return await self.node.controller_channel.update_features(
            with_upgrade_types(request, ctx.api_version)
        )
