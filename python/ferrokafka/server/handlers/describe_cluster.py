"""DescribeCluster (key 60): the brokers reachable through the request's listener, the
controller and the cluster id, as the Java admin client's describeCluster reads them.

This is the broker listeners' (a controller listener's is :mod:`.controller_describe_cluster`).
As Kafka's ``AuthHelper.computeDescribeClusterResponse``: a request for the controller
endpoints (v1+ ``endpoint_type`` 2, what a ``bootstrap.controllers`` admin client sends) gets
MISMATCHED_ENDPOINT_TYPE, an unknown endpoint type UNSUPPORTED_ENDPOINT_TYPE (INVALID_REQUEST
for either at v0). As in Metadata, a KRaft broker names an alive broker (this node) as the
controller: clients send admin requests to brokers.
"""

from __future__ import annotations

from collections.abc import Callable

from ferrokafka.config import Endpoint
from ferrokafka.protocol.error_codes import (
    INVALID_REQUEST,
    MISMATCHED_ENDPOINT_TYPE,
    UNSUPPORTED_ENDPOINT_TYPE,
)
from ferrokafka.protocol.messages.describe_cluster import (
    DescribeClusterRequest,
    DescribeClusterResponse,
)
from ferrokafka.server.authorize import CLUSTER_NAME, ResourceType, authorized_operations
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.handlers.metadata import (
    AUTHORIZED_OPERATIONS_OMITTED,
    alive_brokers,
)
from ferrokafka.server.node import Node

# Kafka's EndpointType ids: UNKNOWN 0, BROKER 1, CONTROLLER 2.
ENDPOINT_TYPES = {0: "UNKNOWN", 1: "BROKER", 2: "CONTROLLER"}
BROKER_ENDPOINT = 1
CONTROLLER_ENDPOINT = 2
INCLUDE_FENCED_MIN_VERSION = 2


def endpoint_type_error(
    version: int, request: DescribeClusterRequest, expected: int
) -> DescribeClusterResponse | None:
    """The refusal of a request for endpoints of another type than this listener's, or None."""
    requested = request.endpoint_type
    if requested not in (BROKER_ENDPOINT, CONTROLLER_ENDPOINT):
        return DescribeClusterResponse(
            error_code=INVALID_REQUEST if version == 0 else UNSUPPORTED_ENDPOINT_TYPE,
            error_message=f"Unsupported endpoint type {requested}",
        )
    if requested != expected:
        return DescribeClusterResponse(
            error_code=INVALID_REQUEST if version == 0 else MISMATCHED_ENDPOINT_TYPE,
            error_message=(
                f"The request was sent to an endpoint of type {ENDPOINT_TYPES[expected]}, "
                f"but we wanted an endpoint of type {ENDPOINT_TYPES[requested]}"
            ),
        )
    return None


class DescribeClusterHandler:
    def __init__(self, node: Node, advertised: Callable[[], list[Endpoint]]) -> None:
        self.node = node
        self.advertised = advertised

    async def __call__(
        self, ctx: RequestContext, request: DescribeClusterRequest
    ) -> DescribeClusterResponse:
        refused = endpoint_type_error(ctx.api_version, request, BROKER_ENDPOINT)
        if refused is not None:
            return refused
        include_fenced = (
            ctx.api_version >= INCLUDE_FENCED_MIN_VERSION and request.include_fenced_brokers
        )
        brokers = alive_brokers(
            self.node,
            self.node.image,
            ctx.listener_name,
            self.advertised,
            include_fenced=include_fenced,
        )
        return DescribeClusterResponse(
            cluster_id=self.node.cluster_id,
            controller_id=self.node.config.node_id,
            brokers=[
                DescribeClusterResponse.DescribeClusterBroker(
                    broker_id=broker_id, host=host, port=port, rack=rack, is_fenced=fenced
                )
                for broker_id, host, port, rack, fenced in brokers
            ],
            cluster_authorized_operations=authorized_operations(
                self.node, ctx, ResourceType.CLUSTER, CLUSTER_NAME
            )
            if request.include_cluster_authorized_operations
            else AUTHORIZED_OPERATIONS_OMITTED,
        )
