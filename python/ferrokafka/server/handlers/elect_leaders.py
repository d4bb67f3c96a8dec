"""ElectLeaders (key 43): PREFERRED or UNCLEAN leader elections, decided by the active
controller (:mod:`ferrokafka.cluster.elections`) — forwarded to it as Kafka's brokers forward
the request; the answer holds per-partition errors (ELECTION_NOT_NEEDED,
PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION).
The new leaders reach this broker in the metadata that the controller committed first."""

from __future__ import annotations

from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest, ElectLeadersResponse
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node


class ElectLeadersHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: ElectLeadersRequest
    ) -> ElectLeadersResponse:
        return await self.node.controller_channel.elect_leaders(request)
