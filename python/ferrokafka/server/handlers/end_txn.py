"""EndTxn (key 26, v0-5): commit or abort the producer's transaction. v5 is sent only by
clients of transaction.version 2 (KIP-890 part 2): the coordinator bumps the epoch on every end
and answers the producer id and epoch to use next. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH
before v2."""

from __future__ import annotations

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.end_txn import EndTxnRequest, EndTxnResponse
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.txn.coordinator import TransactionCoordinator
from ferrokafka.txn.metadata import NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TV_0, TV_2

PRODUCER_FENCED_VERSION = 2
# Kafka's KafkaApis: "if the request is version 5, the client supports transaction version 2".
TV2_VERSION = 5


class EndTxnHandler:
    def __init__(self, coordinator: TransactionCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(self, ctx: RequestContext, request: EndTxnRequest) -> EndTxnResponse:
        client_tv = TV_2 if ctx.api_version >= TV2_VERSION else TV_0
        result = await self.coordinator.end_txn(
            request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            request.committed,
            client_tv,
        )
        code = result.error
        if code == ec.PRODUCER_FENCED and ctx.api_version < PRODUCER_FENCED_VERSION:
            code = ec.INVALID_PRODUCER_EPOCH
        if code != ec.NONE:
            return EndTxnResponse(
                error_code=code, producer_id=NO_PRODUCER_ID, producer_epoch=NO_PRODUCER_EPOCH
            )
        return EndTxnResponse(
            error_code=code, producer_id=result.producer_id, producer_epoch=result.producer_epoch
        )
