"""The share coordinator's state RPCs (Kafka 4.4, inter-broker, CLUSTER_ACTION):
InitializeShareGroupState (83), ReadShareGroupState (84), WriteShareGroupState (85),
DeleteShareGroupState (86), ReadShareGroupStateSummary (87). Wire <-> the
:class:`~ferrokafka.share.coordinator.ShareCoordinator`, one share-partition at a time, as
Kafka's ShareCoordinatorService splits a request by key.

An empty group id is INVALID_REQUEST for every partition (Kafka's service checks it first);
a request naming more than :data:`STATE_PARTITIONS_MAX` partitions is answered for that many.

:func:`register` makes the node's coordinator (``node.share_coordinator``, which the Broker
runs) and puts the durable persister in ``node.share_persister``.
"""

from __future__ import annotations

from typing import Any

from ferrokafka.cluster.connector import node_connectors
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.delete_share_group_state import (
    DeleteShareGroupStateRequest,
    DeleteShareGroupStateResponse,
)
from ferrokafka.protocol.messages.initialize_share_group_state import (
    InitializeShareGroupStateRequest,
    InitializeShareGroupStateResponse,
)
from ferrokafka.protocol.messages.read_share_group_state import (
    ReadShareGroupStateRequest,
    ReadShareGroupStateResponse,
)
from ferrokafka.protocol.messages.read_share_group_state_summary import (
    ReadShareGroupStateSummaryRequest,
    ReadShareGroupStateSummaryResponse,
)
from ferrokafka.protocol.messages.write_share_group_state import (
    WriteShareGroupStateRequest,
    WriteShareGroupStateResponse,
)
from ferrokafka.server.dispatcher import Dispatcher, RequestContext
from ferrokafka.server.node import Node
from ferrokafka.share.coordinator import ShareCoordinator
from ferrokafka.share.persister import SharePartitionKey, StateBatch
from ferrokafka.share.state_persister import CoordinatorPersister

# Partitions answered per request: a share-partition leader asks for one at a time; this
# bounds what one request can hold the handler for.
STATE_PARTITIONS_MAX = 10_000
_EMPTY_GROUP = "The group id cannot be empty."


def _keys(request: Any) -> list[tuple[Any, Any, SharePartitionKey]]:
    """(topic data, partition data, key) of the request, at most STATE_PARTITIONS_MAX."""
    out: list[tuple[Any, Any, SharePartitionKey]] = []
    for topic in request.topics:
        for part in topic.partitions:
            if len(out) == STATE_PARTITIONS_MAX:
                return out
            out.append(
                (topic, part, SharePartitionKey(request.group_id, topic.topic_id, part.partition))
            )
    return out


def _grouped(results: list[tuple[Any, Any]], result_class: Any) -> list[Any]:
    """[(topic id, partition result)] grouped by topic id, in request order."""
    by_topic: dict[Any, Any] = {}
    for topic_id, partition in results:
        entry = by_topic.get(topic_id)
        if entry is None:
            entry = by_topic[topic_id] = result_class(topic_id=topic_id, partitions=[])
        entry.partitions.append(partition)
    return list(by_topic.values())


class InitializeShareGroupStateHandler:
    def __init__(self, coordinator: ShareCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: InitializeShareGroupStateRequest
    ) -> InitializeShareGroupStateResponse:
        R = InitializeShareGroupStateResponse
        results = []
        for topic, part, key in _keys(request):
            message: str | None
            if not request.group_id:
                code, message = ec.INVALID_REQUEST, _EMPTY_GROUP
            else:
                out = await self.coordinator.initialize(key, part.state_epoch, part.start_offset)
                code, message = out.error_code, out.error_message
            results.append(
                (
                    topic.topic_id,
                    R.PartitionResult(
                        partition=part.partition, error_code=code, error_message=message
                    ),
                )
            )
        return R(results=_grouped(results, R.InitializeStateResult))


class ReadShareGroupStateHandler:
    def __init__(self, coordinator: ShareCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: ReadShareGroupStateRequest
    ) -> ReadShareGroupStateResponse:
        R = ReadShareGroupStateResponse
        results = []
        for topic, part, key in _keys(request):
            if not request.group_id:
                result = R.PartitionResult(
                    partition=part.partition, error_code=ec.INVALID_REQUEST,
                    error_message=_EMPTY_GROUP, state_epoch=0, start_offset=-1,
                )  # fmt: skip
            else:
                state = await self.coordinator.read(key, part.leader_epoch)
                result = R.PartitionResult(
                    partition=part.partition,
                    error_code=state.error_code,
                    error_message=state.error_message,
                    state_epoch=state.state_epoch if not state.error_code else 0,
                    start_offset=state.start_offset if not state.error_code else -1,
                    state_batches=[
                        R.StateBatch(
                            first_offset=b.first_offset,
                            last_offset=b.last_offset,
                            delivery_state=b.delivery_state,
                            delivery_count=b.delivery_count,
                        )  # fmt: skip
                        for b in state.batches
                    ],
                )
            results.append((topic.topic_id, result))
        return R(results=_grouped(results, R.ReadStateResult))


class WriteShareGroupStateHandler:
    def __init__(self, coordinator: ShareCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: WriteShareGroupStateRequest
    ) -> WriteShareGroupStateResponse:
        R = WriteShareGroupStateResponse
        results = []
        for topic, part, key in _keys(request):
            message: str | None
            if not request.group_id:
                code, message = ec.INVALID_REQUEST, _EMPTY_GROUP
            else:
                batches = tuple(
                    StateBatch(b.first_offset, b.last_offset, b.delivery_state, b.delivery_count)
                    for b in part.state_batches
                )
                # v0 has no delivery-complete count: its default (-1, unknown) applies.
                out = await self.coordinator.write(
                    key, part.state_epoch, part.leader_epoch, part.start_offset, batches,
                    part.delivery_complete_count,
                )  # fmt: skip
                code, message = out.error_code, out.error_message
            results.append(
                (
                    topic.topic_id,
                    R.PartitionResult(
                        partition=part.partition, error_code=code, error_message=message
                    ),
                )
            )
        return R(results=_grouped(results, R.WriteStateResult))


class DeleteShareGroupStateHandler:
    def __init__(self, coordinator: ShareCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: DeleteShareGroupStateRequest
    ) -> DeleteShareGroupStateResponse:
        R = DeleteShareGroupStateResponse
        results = []
        for topic, part, key in _keys(request):
            message: str | None
            if not request.group_id:
                code, message = ec.INVALID_REQUEST, _EMPTY_GROUP
            else:
                out = await self.coordinator.delete(key)
                code, message = out.error_code, out.error_message
            results.append(
                (
                    topic.topic_id,
                    R.PartitionResult(
                        partition=part.partition, error_code=code, error_message=message
                    ),
                )
            )
        return R(results=_grouped(results, R.DeleteStateResult))


class ReadShareGroupStateSummaryHandler:
    def __init__(self, coordinator: ShareCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: ReadShareGroupStateSummaryRequest
    ) -> ReadShareGroupStateSummaryResponse:
        R = ReadShareGroupStateSummaryResponse
        results = []
        for topic, part, key in _keys(request):
            if not request.group_id:
                result = R.PartitionResult(
                    partition=part.partition, error_code=ec.INVALID_REQUEST,
                    error_message=_EMPTY_GROUP, start_offset=-1,
                )  # fmt: skip
            else:
                s = await self.coordinator.read_summary(key, part.leader_epoch)
                result = R.PartitionResult(
                    partition=part.partition,
                    error_code=s.error_code,
                    error_message=s.error_message,
                    state_epoch=s.state_epoch,
                    leader_epoch=s.leader_epoch,
                    start_offset=s.start_offset,
                    delivery_complete_count=s.delivery_complete_count,
                )
            results.append((topic.topic_id, result))
        return R(results=_grouped(results, R.ReadStateSummaryResult))


def register(broker: Dispatcher, node: Node) -> ShareCoordinator:
    """Make the share coordinator (the Broker runs it), register its state RPCs, and replace
    the node's in-memory persister with the durable one."""
    coordinator = ShareCoordinator(node)
    node.share_coordinator = coordinator
    persister = CoordinatorPersister(
        coordinator,
        lambda: node.image,
        node_id=node.config.node_id,
        listener=node.config.inter_broker_listener_name,
        connector=node_connectors(node.config).inter_broker,
    )
    coordinator.on_stop.append(persister.aclose)
    node.share_persister = persister
    for key, handler in (
        (InitializeShareGroupStateRequest.API_KEY, InitializeShareGroupStateHandler(coordinator)),
        (ReadShareGroupStateRequest.API_KEY, ReadShareGroupStateHandler(coordinator)),
        (WriteShareGroupStateRequest.API_KEY, WriteShareGroupStateHandler(coordinator)),
        (DeleteShareGroupStateRequest.API_KEY, DeleteShareGroupStateHandler(coordinator)),
        (ReadShareGroupStateSummaryRequest.API_KEY, ReadShareGroupStateSummaryHandler(coordinator)),
    ):
        broker.register(key, handler)
    return coordinator
