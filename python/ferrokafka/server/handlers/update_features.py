"""UpdateFeatures (key 57) on a broker listener: forwarded to the active controller, as Kafka's
broker forwards it (``kafka-features --bootstrap-server ... upgrade|downgrade``); the
controller decides (:mod:`ferrokafka.cluster.feature_control`) and the new levels reach every
node's ApiVersions through the metadata log. v0's ``allow_downgrade`` is read here, since the
request goes on at a later version that has none; for the same reason the per-feature results
of a v0-v1 answer are put back here.
"""

from __future__ import annotations

from ferrokafka.cluster.feature_control import with_results, with_upgrade_types
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
        request = with_upgrade_types(request, ctx.api_version)
        response = await self.node.controller_channel.update_features(request)
        # Forwarded at the newest version, whose answer has no per-feature results.
        return with_results(request, response)
