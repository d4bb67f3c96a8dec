"""FindCoordinator (key 10, v0-6): a group's coordinator is the leader of its
``__consumer_offsets`` partition, a transactional id's the leader of its
``__transaction_state`` partition (Kafka's rule), a share-partition's (key type 2, v6+,
``group:topicId:partition``) the leader of its ``__share_group_state`` partition.

The internal topic is created on the first request for its key type (Kafka's broker does the
same, through the controller); until this node's partition of the key is loaded the answer is
COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS, which clients retry. v4+ batches
several keys (``coordinator_keys``); earlier versions ask for one.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable

from ferrokafka.config import Endpoint
from ferrokafka.groups.coordinator import OFFSETS_TOPIC, GroupCoordinator
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.find_coordinator import (
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node
from ferrokafka.share.coordinator import SHARE_STATE_TOPIC
from ferrokafka.share.persister import SharePartitionKey
from ferrokafka.txn.coordinator import TXN_TOPIC

GROUP_KEY_TYPE = 0
TRANSACTION_KEY_TYPE = 1
SHARE_KEY_TYPE = 2
# Key type SHARE came with v6 (KIP-932); Kafka answers an older request for it INVALID_REQUEST.
SHARE_KEY_VERSION = 6
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
            if code not in (ec.NONE, ec.COORDINATOR_LOAD_IN_PROGRESS):
                return code, _NO_NODE
            # The group's coordinator is the leader of its __consumer_offsets partition.
            part = self.node.image.partition(OFFSETS_TOPIC, self.coordinator.partition_for(key))
            if part is not None and part.leader != self.node.config.node_id:
                return self._broker(part.leader, ctx.listener_name)
            code = self.coordinator.error_code(key)
            if code != ec.NONE:
                return code, _NO_NODE
        elif key_type == TRANSACTION_KEY_TYPE:
            if not key:
                return ec.INVALID_REQUEST, _NO_NODE
            txn = self.node.txn_coordinator
            if txn is None:
                return ec.COORDINATOR_NOT_AVAILABLE, _NO_NODE
            code = await txn.ensure_topic()
            if code != ec.NONE:
                return code, _NO_NODE
            part = self.node.image.partition(TXN_TOPIC, txn.partition_for(key))
            if part is not None and part.leader != self.node.config.node_id:
                return self._broker(part.leader, ctx.listener_name)
            code = txn.error_code(key)
            if code != ec.NONE:
                return code, _NO_NODE
        elif key_type == SHARE_KEY_TYPE:
            found = await self._find_share(ctx, key)
            if found is not None:
                return found
        else:
            return ec.INVALID_REQUEST, _NO_NODE
        endpoint = self._endpoint(ctx.listener_name)
        if endpoint is None:
            return ec.COORDINATOR_NOT_AVAILABLE, _NO_NODE
        return ec.NONE, (self.node.config.node_id, endpoint.host, endpoint.port)

    async def _find_share(
        self, ctx: RequestContext, key: str
    ) -> tuple[int, tuple[int, str, int]] | None:
        """An answer for a share-partition key, or None when this node coordinates it."""
        share = self.node.share_coordinator
        parsed = parse_share_key(key)
        if ctx.api_version < SHARE_KEY_VERSION or parsed is None:
            return ec.INVALID_REQUEST, _NO_NODE
        if share is None:
            return ec.COORDINATOR_NOT_AVAILABLE, _NO_NODE
        code = await share.ensure_topic()
        if code != ec.NONE:
            return code, _NO_NODE
        part = self.node.image.partition(SHARE_STATE_TOPIC, share.partition_for(parsed))
        if part is not None and part.leader != self.node.config.node_id:
            return self._broker(part.leader, ctx.listener_name)
        code = share.error_code(parsed)
        return (code, _NO_NODE) if code != ec.NONE else None

    def _broker(self, node_id: int, listener_name: str) -> tuple[int, tuple[int, str, int]]:
        """Another broker's endpoint on the listener the request came in on."""
        registration = self.node.image.broker(node_id) if node_id >= 0 else None
        endpoint = registration.endpoint(listener_name) if registration is not None else None
        if endpoint is None or registration is None or not registration.is_active:
            return ec.COORDINATOR_NOT_AVAILABLE, _NO_NODE
        return ec.NONE, (node_id, endpoint.host, endpoint.port)

    def _endpoint(self, listener_name: str) -> Endpoint | None:
        for endpoint in self.advertised_listeners():
            if endpoint.name == listener_name:
                return endpoint
        return None


def parse_share_key(key: str) -> SharePartitionKey | None:
    """Kafka's SharePartitionKey.getInstance(String): ``group:topicId:partition`` with a
    non-empty group, a base64 topic id and an integer partition; None when malformed."""
    parts = key.split(":")
    if len(parts) != 3 or not parts[0].strip():
        return None
    try:
        topic_id = uuid_from_kafka(parts[1])
        partition = int(parts[2])
    except ValueError:
        return None
    return SharePartitionKey(parts[0], topic_id, partition)


def uuid_from_kafka(text: str) -> uuid.UUID:
    """Kafka's Uuid.fromString: URL-safe base64 of 16 bytes; ValueError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not a topic id: {text!r}") from exc
    if len(raw) != 16:
        raise ValueError(f"not a topic id: {text!r}")
    return uuid.UUID(bytes=raw)
