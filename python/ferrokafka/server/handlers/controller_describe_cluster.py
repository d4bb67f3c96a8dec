"""DescribeCluster (key 60) on a controller listener (KIP-919): what an admin client with
``bootstrap.controllers`` (``--bootstrap-controller``) asks first, for the controllers'
endpoints (``endpoint_type`` 2), as Kafka's ``ControllerApis.handleDescribeCluster``.

The controllers are the quorum's voters. Kafka lists the controllers registered
(ControllerRegistration) with an endpoint on the listener the request came in on; with a static
``controller.quorum.voters`` the endpoint known of each voter is the one on the first
controller listener, so a request on that listener gets every voter, any other none. The
controller id is the quorum's leader (-1 when unknown, or not among the nodes listed, so a
client is never sent to a node it was not told of). A request for broker endpoints gets
MISMATCHED_ENDPOINT_TYPE, an unknown type UNSUPPORTED_ENDPOINT_TYPE (INVALID_REQUEST at v0).
"""

from __future__ import annotations

from ferrokafka.cluster.raft.driver import RaftDriver
from ferrokafka.protocol.messages.describe_cluster import (
    DescribeClusterRequest,
    DescribeClusterResponse,
)
from ferrokafka.server.dispatcher import Dispatcher, RequestContext
from ferrokafka.server.handlers.describe_cluster import CONTROLLER_ENDPOINT, endpoint_type_error
from ferrokafka.server.handlers.metadata import AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS

NO_CONTROLLER = -1


class ControllerDescribeClusterHandler:
    def __init__(self, driver: RaftDriver, cluster_id: str) -> None:
        self.driver = driver
        self.cluster_id = cluster_id

    async def __call__(
        self, ctx: RequestContext, request: DescribeClusterRequest
    ) -> DescribeClusterResponse:
        refused = endpoint_type_error(ctx.api_version, request, CONTROLLER_ENDPOINT)
        if refused is not None:
            return refused
        controllers = [
            DescribeClusterResponse.DescribeClusterBroker(
                broker_id=voter_id, host=endpoint.host, port=endpoint.port, rack=None
            )
            for voter_id in sorted(self.driver.voters)
            if (endpoint := self.driver.endpoint_of(voter_id)) is not None
            and endpoint.name == ctx.listener_name
        ]
        leader = self.driver.leader_id
        listed = {c.broker_id for c in controllers}
        return DescribeClusterResponse(
            cluster_id=self.cluster_id,
            controller_id=leader if leader is not None and leader in listed else NO_CONTROLLER,
            brokers=controllers,
            endpoint_type=CONTROLLER_ENDPOINT,
            cluster_authorized_operations=CLUSTER_OPERATIONS
            if request.include_cluster_authorized_operations
            else AUTHORIZED_OPERATIONS_OMITTED,
        )


def register_controller_describe_cluster(
    dispatcher: Dispatcher, driver: RaftDriver, cluster_id: str
) -> None:
    dispatcher.register(
        DescribeClusterRequest.API_KEY, ControllerDescribeClusterHandler(driver, cluster_id)
    )
