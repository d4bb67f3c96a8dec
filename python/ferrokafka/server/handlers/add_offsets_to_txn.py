"""AddOffsetsToTxn (key 25, v0-4): a producer about to commit a group's offsets in its
transaction adds the group's ``__consumer_offsets`` partition to it, so the transaction's end
writes a marker there too. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2."""

from __future__ import annotations

from ferrokafka.coordinator.partitioning import partition_for
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.add_offsets_to_txn import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node
from ferrokafka.txn.coordinator import TransactionCoordinator

OFFSETS_TOPIC = "__consumer_offsets"
PRODUCER_FENCED_VERSION = 2


class AddOffsetsToTxnHandler:
    def __init__(self, node: Node, coordinator: TransactionCoordinator) -> None:
        self.node = node
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: AddOffsetsToTxnRequest
    ) -> AddOffsetsToTxnResponse:
        groups = self.node.group_coordinator
        if groups is not None:
            index = groups.partition_for(request.group_id)
        else:
            partitions = int(self.node.broker_config()["offsets.topic.num.partitions"])
            index = partition_for(request.group_id, partitions)
        code = await self.coordinator.add_partitions(
            request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            [(OFFSETS_TOPIC, index)],
        )
        if code == ec.PRODUCER_FENCED and ctx.api_version < PRODUCER_FENCED_VERSION:
            code = ec.INVALID_PRODUCER_EPOCH
        return AddOffsetsToTxnResponse(error_code=code)
