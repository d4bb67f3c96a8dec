"""ListTransactions (key 66, v0-2, KIP-664): the transactional ids this broker coordinates,
filtered by state names (unknown names are echoed back, not an error), producer ids, from v1
a minimum running time (KIP-994: only transactions running longer than ``duration_filter``
ms), and from v2 a regular expression on the id (KIP-1152; an invalid one is
INVALID_REGULAR_EXPRESSION)."""

from __future__ import annotations

import re

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.list_transactions import (
    ListTransactionsRequest,
    ListTransactionsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.txn.coordinator import TransactionCoordinator

DURATION_VERSION = 1
PATTERN_VERSION = 2
# Filters in one request, and the longest pattern compiled: bounds on what a request may ask.
FILTERS_MAX = 10_000
PATTERN_CHARS_MAX = 1_000


class ListTransactionsHandler:
    def __init__(self, coordinator: TransactionCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: ListTransactionsRequest
    ) -> ListTransactionsResponse:
        if len(request.state_filters) + len(request.producer_id_filters) > FILTERS_MAX:
            return ListTransactionsResponse(error_code=ec.INVALID_REQUEST)
        duration_ms = request.duration_filter if ctx.api_version >= DURATION_VERSION else -1
        pattern = None
        text = request.transactional_id_pattern if ctx.api_version >= PATTERN_VERSION else None
        if text:
            try:
                if len(text) > PATTERN_CHARS_MAX:
                    raise re.error("pattern too long")
                pattern = re.compile(text)
            except re.error:
                return ListTransactionsResponse(error_code=ec.INVALID_REGULAR_EXPRESSION)
        code, unknown, listings = self.coordinator.list_transactions(
            request.producer_id_filters, request.state_filters, duration_ms, pattern
        )
        return ListTransactionsResponse(
            error_code=code,
            unknown_state_filters=unknown,
            transaction_states=[
                ListTransactionsResponse.TransactionState(
                    transactional_id=t.transactional_id,
                    producer_id=t.producer_id,
                    transaction_state=t.state,
                )
                for t in listings
            ],
        )
