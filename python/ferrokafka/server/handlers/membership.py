"""The controller's membership APIs: BrokerRegistration (62), BrokerHeartbeat (63),
UnregisterBroker (64) and ControllerRegistration (70).

Each handler only hands the decoded request to the controller through a
:class:`ControllerChannel` and returns its answer (Kafka's ``ControllerApis``); the decisions
and their error codes are :mod:`ferrokafka.cluster.cluster_control`'s. Brokers of another
process reach these on a controller listener; brokers of this process call the channel
directly (:mod:`ferrokafka.server.lifecycle`).
"""

from __future__ import annotations

from ferrokafka.cluster.channel import ControllerChannel
from ferrokafka.protocol.messages.broker_heartbeat import (
    BrokerHeartbeatRequest,
    BrokerHeartbeatResponse,
)
from ferrokafka.protocol.messages.broker_registration import (
    BrokerRegistrationRequest,
    BrokerRegistrationResponse,
)
from ferrokafka.protocol.messages.controller_registration import (
    ControllerRegistrationRequest,
    ControllerRegistrationResponse,
)
from ferrokafka.protocol.messages.unregister_broker import (
    UnregisterBrokerRequest,
    UnregisterBrokerResponse,
)
from ferrokafka.server.dispatcher import Dispatcher, RequestContext

BROKER_REGISTRATION_KEY = BrokerRegistrationRequest.API_KEY
BROKER_HEARTBEAT_KEY = BrokerHeartbeatRequest.API_KEY
UNREGISTER_BROKER_KEY = UnregisterBrokerRequest.API_KEY
CONTROLLER_REGISTRATION_KEY = ControllerRegistrationRequest.API_KEY


class MembershipHandlers:
    """The four handlers over one channel to the active controller."""

    def __init__(self, channel: ControllerChannel) -> None:
        self.channel = channel

    async def broker_registration(
        self, ctx: RequestContext, request: BrokerRegistrationRequest
    ) -> BrokerRegistrationResponse:
        return await self.channel.broker_registration(request)

    async def broker_heartbeat(
        self, ctx: RequestContext, request: BrokerHeartbeatRequest
    ) -> BrokerHeartbeatResponse:
        return await self.channel.broker_heartbeat(request)

    async def unregister_broker(
        self, ctx: RequestContext, request: UnregisterBrokerRequest
    ) -> UnregisterBrokerResponse:
        return await self.channel.unregister_broker(request)

    async def controller_registration(
        self, ctx: RequestContext, request: ControllerRegistrationRequest
    ) -> ControllerRegistrationResponse:
        return await self.channel.register_controller(request)


def register_membership_handlers(
    dispatcher: Dispatcher, channel: ControllerChannel
) -> MembershipHandlers:
    """Answer the four membership APIs on ``dispatcher`` (a controller listener's) through
    ``channel``."""
    handlers = MembershipHandlers(channel)
    dispatcher.register(BROKER_REGISTRATION_KEY, handlers.broker_registration)
    dispatcher.register(BROKER_HEARTBEAT_KEY, handlers.broker_heartbeat)
    dispatcher.register(UNREGISTER_BROKER_KEY, handlers.unregister_broker)
    dispatcher.register(CONTROLLER_REGISTRATION_KEY, handlers.controller_registration)
    return handlers
