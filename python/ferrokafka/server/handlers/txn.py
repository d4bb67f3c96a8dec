"""Registration of the transaction coordinator's handlers (AddPartitionsToTxn,
AddOffsetsToTxn, EndTxn, DescribeTransactions, ListTransactions): one module per API beside
this one. FindCoordinator (key type 1) and InitProducerId (with a transactional id) reach the
coordinator through ``node.txn_coordinator``.

:func:`register` also makes the node's
:class:`~ferrokafka.txn.coordinator.TransactionCoordinator` (``node.txn_coordinator``, which
the Broker runs) and its :class:`~ferrokafka.txn.verifier.CoordinatorTxnVerifier`
(``node.txn_verifier``, what the produce path asks before a transaction's first batch on a
partition).
"""

from __future__ import annotations

from typing import Any

from ferrokafka.cluster.connector import node_connectors
from ferrokafka.protocol import APIS, RequestHeader
from ferrokafka.protocol.messages.write_txn_markers import (
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from ferrokafka.server.dispatcher import Dispatcher, RequestContext
from ferrokafka.server.handlers.lazy import LazyHandler, api_key
from ferrokafka.server.node import Node
from ferrokafka.txn.coordinator import TransactionCoordinator
from ferrokafka.txn.markers import SendLocal
from ferrokafka.txn.verifier import CoordinatorTxnVerifier

_HANDLERS = "ferrokafka.server.handlers."
# How the coordinator's own marker requests look to the WriteTxnMarkers handler of its broker.
LOCAL_CLIENT_ID = "txn-coordinator-local"
LOCAL_CONNECTION_ID = -1


def local_markers(broker: Dispatcher, listener: str) -> SendLocal:
    """``send_local`` for this broker's own partitions: its WriteTxnMarkers handler, called
    in-process with the request as a broker would send it (the newest version)."""
    key = WriteTxnMarkersRequest.API_KEY
    handler = broker.handler_for(key)
    assert handler is not None, "register the data handlers first"
    ctx = RequestContext(
        header=RequestHeader(
            request_api_key=key,
            request_api_version=APIS[key].max_version,
            correlation_id=0,
            client_id=LOCAL_CLIENT_ID,
        ),
        client_address=("local",),
        listener_name=listener,
        connection_id=LOCAL_CONNECTION_ID,
    )

    async def send(request: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse:
        response: Any = await handler(ctx, request)
        assert isinstance(response, WriteTxnMarkersResponse)
        return response

    return send


def register(
    broker: Dispatcher, node: Node, send_local: SendLocal | None = None
) -> TransactionCoordinator:
    """Make the coordinator and the verifier now (the Broker runs the coordinator); each
    API's handler is built on its first request. ``send_local``: how markers reach this
    broker's own partitions (its WriteTxnMarkers handler, in-process); without it they go
    over the inter-broker listener like any other broker's (default: this broker's own
    WriteTxnMarkers handler, registered before)."""
    if send_local is None:
        send_local = local_markers(broker, node.config.inter_broker_listener_name or "PLAINTEXT")
    coordinator = TransactionCoordinator(
        node,
        node.next_producer_id,
        node_id=node.config.node_id,
        inter_broker_listener=node.config.inter_broker_listener_name,
        send_local=send_local,
        inter_broker_connector=node_connectors(node.config).inter_broker,
    )
    node.txn_coordinator = coordinator
    verifier = CoordinatorTxnVerifier(
        coordinator,
        lambda: node.image,
        node_id=node.config.node_id,
        listener=node.config.inter_broker_listener_name,
        connector=node_connectors(node.config).inter_broker,
    )
    coordinator.on_stop.append(verifier.aclose)
    node.txn_verifier = verifier
    for name, module, args in (
        ("AddPartitionsToTxn", "add_partitions_to_txn", (node, coordinator)),
        ("AddOffsetsToTxn", "add_offsets_to_txn", (node, coordinator)),
        ("EndTxn", "end_txn", (coordinator,)),
        ("DescribeTransactions", "describe_transactions", (coordinator,)),
        ("ListTransactions", "list_transactions", (coordinator,)),
    ):
        broker.register(api_key(name), LazyHandler(_HANDLERS + module, name + "Handler", *args))
    return coordinator
