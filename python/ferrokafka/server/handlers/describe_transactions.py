"""DescribeTransactions (key 65, v0, KIP-664): the state, producer, timeout, start time and
partitions of transactional ids this broker coordinates (NOT_COORDINATOR for the others, which
the admin client then asks the right broker for)."""

from __future__ import annotations

from ferrokafka.protocol.messages.describe_transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.txn.coordinator import TransactionCoordinator

# Ids in one request: Kafka bounds them only by the request size.
TRANSACTIONAL_IDS_MAX = 10_000

_State = DescribeTransactionsResponse.TransactionState
_Topic = DescribeTransactionsResponse.TopicData


class DescribeTransactionsHandler:
    def __init__(self, coordinator: TransactionCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: DescribeTransactionsRequest
    ) -> DescribeTransactionsResponse:
        return DescribeTransactionsResponse(
            transaction_states=[
                self._describe(txn_id)
                for txn_id in request.transactional_ids[:TRANSACTIONAL_IDS_MAX]
            ]
        )

    def _describe(self, transactional_id: str) -> _State:
        code, md = self.coordinator.describe(transactional_id)
        if md is None:
            return _State(error_code=code, transactional_id=transactional_id)
        by_topic: dict[str, list[int]] = {}
        for topic, index in sorted(md.partitions):
            by_topic.setdefault(topic, []).append(index)
        return _State(
            error_code=code,
            transactional_id=transactional_id,
            transaction_state=md.state.kafka_name,
            transaction_timeout_ms=md.txn_timeout_ms,
            transaction_start_time_ms=md.txn_start_ms,
            producer_id=md.producer_id,
            producer_epoch=md.producer_epoch,
            topics=[_Topic(topic=t, partitions=ps) for t, ps in by_topic.items()],
        )
