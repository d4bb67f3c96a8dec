"""DescribeCluster (key 60) on a controller listener (KIP-919): what an admin client with
``bootstrap.controllers`` (``--bootstrap-controller``) asks first, for the controllers'
endpoints (``endpoint_type`` 2), as Kafka's ``ControllerApis.handleDescribeCluster``.

The controllers are those registered (ControllerRegistration: every controller listener of
each) with an endpoint on the listener the request came in on, as Kafka lists them; a voter not
registered yet is listed by its endpoint in the quorum (with a static
``controller.quorum.voters`` the one on the first controller listener). The single node:
itself. The controller id is the quorum's leader (-1 when unknown, or not among the nodes
listed, so a client is never sent to a node it was not told of). A request for broker
endpoints gets MISMATCHED_ENDPOINT_TYPE, an unknown type UNSUPPORTED_ENDPOINT_TYPE
(INVALID_REQUEST for either at v0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ferrokafka.cluster.raft.driver import RaftDriver
from ferrokafka.protocol.messages.describe_cluster import (
    DescribeClusterRequest,
    DescribeClusterResponse,
)
from ferrokafka.server.dispatcher import Dispatcher, RequestContext
from ferrokafka.server.handlers.describe_cluster import CONTROLLER_ENDPOINT, endpoint_type_error
from ferrokafka.server.handlers.metadata import AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS

NO_CONTROLLER = -1


# The controllers' listeners as (node id, listener name, host, port).
Controllers = Callable[[], list[tuple[int, str, str, int]]]
# The quorum's leader now, or None.
Leader = Callable[[], int | None]


class ControllerDescribeClusterHandler:
    def __init__(self, controllers: Controllers, leader: Leader, cluster_id: str) -> None:
        self.controllers = controllers
        self.leader = leader
        self.cluster_id = cluster_id

    async def __call__(
        self, ctx: RequestContext, request: DescribeClusterRequest
    ) -> DescribeClusterResponse:
        refused = endpoint_type_error(ctx.api_version, request, CONTROLLER_ENDPOINT)
        if refused is not None:
            return refused
        controllers = [
            DescribeClusterResponse.DescribeClusterBroker(
                broker_id=node_id, host=host, port=port, rack=None
            )
            for node_id, name, host, port in sorted(self.controllers())
            if name == ctx.listener_name
        ]
        leader = self.leader()
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
    dispatcher: Dispatcher,
    driver: RaftDriver,
    cluster_id: str,
    registered: Callable[[], Mapping[int, Any]] = dict,
) -> None:
    """A cluster node's: the controllers ``registered()`` (RegisterControllerRecords by id)
    and the voters of ``driver``'s quorum not among them; the quorum's leader."""

    def voters() -> list[tuple[int, str, str, int]]:
        records = registered()
        found = [
            (controller_id, e.name, e.host, e.port)
            for controller_id, record in records.items()
            for e in record.end_points
        ]
        return found + [
            (voter_id, endpoint.name, endpoint.host, endpoint.port)
            for voter_id in driver.voters
            if voter_id not in records and (endpoint := driver.endpoint_of(voter_id)) is not None
        ]

    dispatcher.register(
        DescribeClusterRequest.API_KEY,
        ControllerDescribeClusterHandler(voters, lambda: driver.leader_id, cluster_id),
    )


def register_single_voter_describe_cluster(
    dispatcher: Dispatcher,
    node_id: int,
    cluster_id: str,
    controller_endpoint: Callable[[], tuple[str, str, int] | None],
) -> None:
    """The single node's: itself, the only controller and always the leader."""

    def me() -> list[tuple[int, str, str, int]]:
        endpoint = controller_endpoint()
        return [] if endpoint is None else [(node_id, *endpoint)]

    dispatcher.register(
        DescribeClusterRequest.API_KEY,
        ControllerDescribeClusterHandler(me, lambda: node_id, cluster_id),
    )
