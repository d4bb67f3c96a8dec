"""The KRaft RPCs on a controller listener: Vote (52), BeginQuorumEpoch (53), EndQuorumEpoch
(54), Fetch (1, of ``__cluster_metadata`` only) and FetchSnapshot (59), answered by the
:class:`~ferrokafka.cluster.raft.driver.RaftDriver`.

Translation only: the request becomes a raft dataclass (``cluster.raft.wire``), the driver
answers, the answer goes back at the request's version with the leader's endpoint on this
listener. As Kafka's raft client: a request that does not name exactly partition 0 of
``__cluster_metadata`` gets a top-level INVALID_REQUEST; a driver that is not running or is
overloaded, BROKER_NOT_AVAILABLE; no answer in time, REQUEST_TIMED_OUT (a long-poll Fetch
waits up to its max_wait without holding up other requests: the connection runs handlers
concurrently).
"""

from __future__ import annotations

from ferrokafka.cluster.raft.driver import DriverUnavailable, RaftDriver
from ferrokafka.cluster.raft.wire import (
    BEGIN_QUORUM_EPOCH,
    END_QUORUM_EPOCH,
    FETCH,
    FETCH_SNAPSHOT,
    VOTE,
    Endpoint,
    WireError,
    error_response,
    request_from_wire,
    response_to_wire,
)
from ferrokafka.protocol import Message
from ferrokafka.protocol.error_codes import (
    BROKER_NOT_AVAILABLE,
    INVALID_REQUEST,
    REQUEST_TIMED_OUT,
)
from ferrokafka.server.dispatcher import Dispatcher, RequestContext

RAFT_API_KEYS = (VOTE, BEGIN_QUORUM_EPOCH, END_QUORUM_EPOCH, FETCH, FETCH_SNAPSHOT)


class RaftHandler:
    """One handler for the five APIs (they differ only in the message classes)."""

    def __init__(self, driver: RaftDriver) -> None:
        self.driver = driver

    async def __call__(self, ctx: RequestContext, request: Message) -> Message:
        try:
            raft_request = request_from_wire(request, ctx.api_version)
        except WireError:
            return error_response(ctx.api_key, INVALID_REQUEST)
        try:
            response = await self.driver.handle_request(raft_request)
        except DriverUnavailable:
            return error_response(ctx.api_key, BROKER_NOT_AVAILABLE)
        if response is None:
            return error_response(ctx.api_key, REQUEST_TIMED_OUT)
        leader = self.driver.leader_endpoint()
        if leader is not None:
            # The leader's address on the listener this request came in on.
            leader = (leader[0], Endpoint(ctx.listener_name, leader[1].host, leader[1].port))
        return response_to_wire(response, ctx.api_version, leader)


def register_raft_handlers(dispatcher: Dispatcher, driver: RaftDriver) -> None:
    """Answer the quorum's APIs on ``dispatcher`` (a controller listener's) with ``driver``."""
    handler = RaftHandler(driver)
    for api_key in RAFT_API_KEYS:
        dispatcher.register(api_key, handler)
