"""InitProducerId (API key 22) for idempotent producers: a new producer id at epoch 0.

Without a transactional id Kafka's coordinator hands out a fresh producer id on every request,
whatever producer id and epoch the request carries (v3+, KIP-360): an idempotent producer
bumps its epoch by itself and asks again only when it must start over, and a new id is
always safe. Ids come from blocks the controller records in the metadata log, so none repeats,
restarts included.

Transactional ids need a transaction coordinator, which this broker does not have yet: they
get TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which every client treats as fatal at once (the
Java client raises TransactionalIdAuthorizationException from initTransactions), instead of
a retriable coordinator error that would keep a client retrying until its timeout.
"""

from __future__ import annotations

import logging

from ferrokafka.protocol.messages.init_producer_id import (
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from ferrokafka.server import errors
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

log = logging.getLogger(__name__)

# A fresh producer id starts at epoch 0 (Kafka's ProducerIdAndEpoch for a new id).
FIRST_EPOCH = 0


class InitProducerIdHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: InitProducerIdRequest
    ) -> InitProducerIdResponse:
        if request.transactional_id is not None:
            log.info(
                "refusing transactional id %r from %s: transactions are not supported",
                request.transactional_id,
                ctx.client_id,
            )
            return InitProducerIdResponse(
                error_code=errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producer_id=-1
            )
        producer_id = await self.node.next_producer_id()
        return InitProducerIdResponse(
            error_code=errors.NONE, producer_id=producer_id, producer_epoch=FIRST_EPOCH
        )
