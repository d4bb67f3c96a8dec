"""FindCoordinator (key 10, v0-6): this node coordinates every group and every transactional id.

For a group key the ``__consumer_offsets`` topic is created on the first request (Kafka's
broker does the same, through the controller); until its partitions are loaded the answer is
COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS, which clients retry. v4+ batches
several keys (``coordinator_keys``); earlier versions ask for one.
"""

from __future__ import annotations

from collections.abc import Callable

from ferrokafka.config import Endpoint
from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.find_coordinator import (
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

GROUP_KEY_TYPE = 0
TRANSACTION_KEY_TYPE = 1
BATCHED_VERSION = 4
# A batched request names keys one by one; Kafka bounds it only by the request size. This
# bound keeps a single request from holding the handler for long.
COORDINATOR_KEYS_MAX = 10_000
_NO_NODE = (-1, "", -1)


class FindCoordinatorHandler:
    def __init__(
        self,
        node: Node,
        coordinator: GroupCoordinator,
        advertised_listeners: Callable[[], list[Endpoint]],
    ) -> None:
        self.node = node
        self.coordinator = coordinator
        self.advertised_listeners = advertised_listeners

    async def __call__(
        self, ctx: RequestContext, request: FindCoordinatorRequest
    ) -> FindCoordinatorResponse:
        key_type = request.key_type if ctx.api_version >= 1 else GROUP_KEY_TYPE
        if ctx.api_version < BATCHED_VERSION:
            code, (node_id, host, port) = await self._find(ctx, request.key, key_type)
            return FindCoordinatorResponse(
                error_code=code,
                error_message=None,
                node_id=node_id,
                host=host,
                port=port,
            )
        keys = request.coordinator_keys[:COORDINATOR_KEYS_MAX]
        coordinators = []
        for key in keys:
            code, (node_id, host, port) = await self._find(ctx, key, key_type)
            coordinators.append(
                FindCoordinatorResponse.Coordinator(
                    key=key, node_id=node_id, host=host, port=port, error_code=code
                )
            )
        return FindCoordinatorResponse(coordinators=coordinators)

    async def _find(
        self, ctx: RequestContext, key: str, key_type: int
    ) -> tuple[int, tuple[int, str, int]]:
        if key_type == GROUP_KEY_TYPE:
            code = await self.coordinator.ensure_topic()
            if code != ec.NONE:
                return code, _NO_NODE
        elif key_type == TRANSACTION_KEY_TYPE:
            if not key:
                return ec.INVALID_REQUEST, _NO_NODE
        else:
            return ec.INVALID_REQUEST, _NO_NODE
        endpoint = self._endpoint(ctx.listener_name)
        if endpoint is None:
            return ec.COORDINATOR_NOT_AVAILABLE, _NO_NODE
        return ec.NONE, (self.node.config.node_id, endpoint.host, endpoint.port)

    def _endpoint(self, listener_name: str) -> Endpoint | None:
        for endpoint in self.advertised_listeners():
            if endpoint.name == listener_name:
                return endpoint
        return None
