"""AddPartitionsToTxn (key 24, v0-5): a producer adds partitions to its transaction (v0-3,
one transaction), or a broker verifies or adds them on a producer's behalf (v4+, batched by
transaction, ``verify_only``: KIP-890).

As Kafka: a partition that does not exist fails the whole transaction's request
(UNKNOWN_TOPIC_OR_PARTITION for it, OPERATION_NOT_ATTEMPTED for the others); otherwise every
partition gets the transaction's one result. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before
v2 (older clients do not know it).
"""

from __future__ import annotations

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node
from ferrokafka.txn.coordinator import TransactionCoordinator
from ferrokafka.txn.metadata import TopicPartition

BATCHED_VERSION = 4
PRODUCER_FENCED_VERSION = 2
# Transactions in one (broker-sent) request, and partitions per transaction: Kafka bounds
# them only by the request size; these keep one request from holding the handler for long.
TRANSACTIONS_MAX = 10_000
PARTITIONS_MAX = 100_000

_Txn = AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction
_Result = AddPartitionsToTxnResponse.AddPartitionsToTxnResult
_TopicResult = AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult
_PartitionResult = AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult


class AddPartitionsToTxnHandler:
    def __init__(self, node: Node, coordinator: TransactionCoordinator) -> None:
        self.node = node
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: AddPartitionsToTxnRequest
    ) -> AddPartitionsToTxnResponse:
        version = ctx.api_version
        if version < BATCHED_VERSION:
            txn = _Txn(
                transactional_id=request.v3_and_below_transactional_id,
                producer_id=request.v3_and_below_producer_id,
                producer_epoch=request.v3_and_below_producer_epoch,
                topics=request.v3_and_below_topics,
            )
            result = await self._one(txn, version)
            return AddPartitionsToTxnResponse(results_by_topic_v3_and_below=result.topic_results)
        txns = request.transactions
        if len(txns) > TRANSACTIONS_MAX or len({t.transactional_id for t in txns}) != len(txns):
            # Kafka: one entry per transactional id (a duplicate is an invalid request).
            return AddPartitionsToTxnResponse(error_code=ec.INVALID_REQUEST)
        return AddPartitionsToTxnResponse(
            results_by_transaction=[await self._one(t, version) for t in txns]
        )

    async def _one(self, txn: _Txn, version: int) -> _Result:
        partitions = [(t.name, p) for t in txn.topics for p in t.partitions]
        if len(partitions) > PARTITIONS_MAX:
            return _result(txn.transactional_id, dict.fromkeys(partitions, ec.INVALID_REQUEST))
        image = self.node.image
        missing = [tp for tp in partitions if image.partition(*tp) is None]
        if missing:
            codes = dict.fromkeys(partitions, ec.OPERATION_NOT_ATTEMPTED)
            codes.update(dict.fromkeys(missing, ec.UNKNOWN_TOPIC_OR_PARTITION))
            return _result(txn.transactional_id, codes)
        if txn.verify_only:
            codes = self.coordinator.verify_partitions(
                txn.transactional_id, txn.producer_id, txn.producer_epoch, partitions
            )
            return _result(txn.transactional_id, codes)
        code = await self.coordinator.add_partitions(
            txn.transactional_id,
            txn.producer_id,
            txn.producer_epoch,
            partitions,
            # A broker adding on a producer's behalf: the producer uses transaction.version 2.
            2 if version >= BATCHED_VERSION else None,
        )
        if code == ec.PRODUCER_FENCED and version < PRODUCER_FENCED_VERSION:
            code = ec.INVALID_PRODUCER_EPOCH
        return _result(txn.transactional_id, dict.fromkeys(partitions, code))


def _result(transactional_id: str, codes: dict[TopicPartition, int]) -> _Result:
    by_topic: dict[str, list[_PartitionResult]] = {}
    for (topic, index), code in codes.items():
        by_topic.setdefault(topic, []).append(
            _PartitionResult(partition_index=index, partition_error_code=code)
        )
    return _Result(
        transactional_id=transactional_id,
        topic_results=[_TopicResult(name=t, results_by_partition=r) for t, r in by_topic.items()],
    )
