"""AddRaftVoter (80), RemoveRaftVoter (81) and UpdateRaftVoter (82) on a controller listener
(KIP-853), answered by the :class:`~ferrokafka.cluster.raft.driver.RaftDriver` as Kafka's
ControllerApis hands them to its raft client.

Translation only (``cluster.raft.voter_wire``): the leader checks and applies the change
(``cluster.raft.voter_changes``); a non-leader answers NOT_LEADER_OR_FOLLOWER, which Kafka's
admin client retries against the active controller. A driver that is not running answers
BROKER_NOT_AVAILABLE, no answer in time REQUEST_TIMED_OUT. UpdateRaftVoter's answer names the
leader's endpoint on the listener the request came in on. On a broker listener AddRaftVoter and
RemoveRaftVoter go on to the active controller (``kafka-metadata-quorum --bootstrap-server``).
"""

from __future__ import annotations

from ferrokafka.cluster.raft.driver import DriverUnavailable, RaftDriver
from ferrokafka.cluster.raft.voter_wire import (
    ADD_RAFT_VOTER,
    REMOVE_RAFT_VOTER,
    VOTER_API_KEYS,
    voter_error_response,
    voter_request_from_wire,
    voter_response_to_wire,
)
from ferrokafka.cluster.remote_channel import RemoteControllerChannel
from ferrokafka.protocol import Message
from ferrokafka.protocol.error_codes import BROKER_NOT_AVAILABLE, REQUEST_TIMED_OUT
from ferrokafka.server.dispatcher import Dispatcher, RequestContext


class VoterChangeHandler:
    """One handler for the three APIs."""

    def __init__(self, driver: RaftDriver) -> None:
        self.driver = driver

    async def __call__(self, ctx: RequestContext, request: Message) -> Message:
        voter_request = voter_request_from_wire(request, ctx.api_version)
        try:
            response = await self.driver.handle_request(voter_request)
        except DriverUnavailable:
            return voter_error_response(ctx.api_key, BROKER_NOT_AVAILABLE)
        if response is None:
            return voter_error_response(ctx.api_key, REQUEST_TIMED_OUT)
        leader = self.driver.leader_endpoint()
        address = None if leader is None else (leader[1].host, leader[1].port)
        return voter_response_to_wire(response, address)  # type: ignore[arg-type]


class ForwardedVoterChangeHandler:
    """AddRaftVoter and RemoveRaftVoter on a broker listener: forwarded to the active
    controller (Kafka's KafkaApis forwardToControllerOrFail), as they came."""

    def __init__(self, channel: RemoteControllerChannel) -> None:
        self.channel = channel

    async def __call__(self, ctx: RequestContext, request: Message) -> Message:
        return await self.channel.raft_voter_change(request)


def register_broker_voter_forwarding(
    dispatcher: Dispatcher, channel: RemoteControllerChannel
) -> None:
    handler = ForwardedVoterChangeHandler(channel)
    for api_key in (ADD_RAFT_VOTER, REMOVE_RAFT_VOTER):
        dispatcher.register(api_key, handler)


def register_voter_change_handlers(dispatcher: Dispatcher, driver: RaftDriver) -> None:
    handler = VoterChangeHandler(driver)
    for api_key in VOTER_API_KEYS:
        dispatcher.register(api_key, handler)
