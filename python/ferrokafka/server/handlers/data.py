"""Registration of the data-path handlers (Produce, Fetch, ListOffsets, DeleteRecords,
InitProducerId, OffsetForLeaderEpoch, DescribeProducers, WriteTxnMarkers):
one module per API beside this one."""

from __future__ import annotations

from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.lazy import LazyHandler, api_key
from ferrokafka.server.node import Node

_HANDLERS = "ferrokafka.server.handlers."
# Applied one at a time per connection, in arrival order (see dispatcher): a producer's
# pipelined requests append to each partition in the order it sent them.
IN_ORDER = frozenset({"Produce"})


def register(broker: Dispatcher, node: Node) -> None:
    """Register every data-path API on the broker listeners' dispatcher; each handler is
    built on its API's first request (see ``lazy``)."""
    for name, module in (
        ("Produce", "produce"),
        ("Fetch", "fetch"),
        ("ListOffsets", "list_offsets"),
        ("DeleteRecords", "delete_records"),
        ("InitProducerId", "init_producer_id"),
        ("OffsetForLeaderEpoch", "offset_for_leader_epoch"),
        ("DescribeProducers", "describe_producers"),
        ("WriteTxnMarkers", "write_txn_markers"),
    ):
        broker.register(
            api_key(name),
            LazyHandler(_HANDLERS + module, name + "Handler", node),
            in_order=name in IN_ORDER,
        )
