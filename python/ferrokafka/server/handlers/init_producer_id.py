"""InitProducerId (API key 22) for idempotent producers: a new producer id at epoch 0.

Without a transactional id Kafka's coordinator hands out a fresh producer id on every request,
whatever producer id and epoch the request carries (v3+, KIP-360): an idempotent producer
bumps its epoch by itself and asks again only when it must start over, and a new id is
always safe. Ids come from blocks the controller records in the metadata log, so none repeats,
restarts included.

A transactional id goes to the transaction coordinator (``node.txn_coordinator``): a new id
gets a producer id at epoch 0, a known one its epoch bumped (KIP-360/KIP-588 with the producer
id and epoch of v3+). Two-phase commit (KIP-939, v6 ``enable2_pc``) is not enabled here:
TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as Kafka answers with transaction.two.phase.commit.enable
off; ``keep_prepared_txn`` is UNSUPPORTED_VERSION, as Kafka 4.4 answers. PRODUCER_FENCED is
INVALID_PRODUCER_EPOCH before v4 (older clients do not know it).
"""

from __future__ import annotations

import logging

from ferrokafka.protocol import error_codes as errors
from ferrokafka.protocol.messages.init_producer_id import (
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

log = logging.getLogger(__name__)

# A fresh producer id starts at epoch 0 (Kafka's ProducerIdAndEpoch for a new id).
FIRST_EPOCH = 0
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
PRODUCER_FENCED_VERSION = 4


class InitProducerIdHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: InitProducerIdRequest
    ) -> InitProducerIdResponse:
        if request.transactional_id is not None:
            return await self._transactional(ctx, request)
        producer_id = await self.node.next_producer_id()
        return InitProducerIdResponse(
            error_code=errors.NONE, producer_id=producer_id, producer_epoch=FIRST_EPOCH
        )

    async def _transactional(
        self, ctx: RequestContext, request: InitProducerIdRequest
    ) -> InitProducerIdResponse:
        coordinator = self.node.txn_coordinator
        assert request.transactional_id is not None
        if coordinator is None:
            log.info("refusing transactional id %r: no transaction coordinator", ctx.client_id)
            return _error(errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        if request.enable2_pc:
            return _error(errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        if request.keep_prepared_txn:
            return _error(errors.UNSUPPORTED_VERSION)
        pid, epoch = request.producer_id, request.producer_epoch
        if (pid == NO_PRODUCER_ID) != (epoch == NO_PRODUCER_EPOCH):
            return _error(errors.INVALID_REQUEST)
        expected = None if pid == NO_PRODUCER_ID else (pid, epoch)
        result = await coordinator.init_producer_id(
            request.transactional_id, request.transaction_timeout_ms, expected
        )
        code = result.error
        if code == errors.PRODUCER_FENCED and ctx.api_version < PRODUCER_FENCED_VERSION:
            code = errors.INVALID_PRODUCER_EPOCH
        return InitProducerIdResponse(
            error_code=code, producer_id=result.producer_id, producer_epoch=result.producer_epoch
        )


def _error(code: int) -> InitProducerIdResponse:
    return InitProducerIdResponse(
        error_code=code, producer_id=NO_PRODUCER_ID, producer_epoch=NO_PRODUCER_EPOCH
    )
