"""Registration of the data-path handlers (Produce, Fetch, ListOffsets, DeleteRecords, ...):
one module per API beside this one."""

from __future__ import annotations

from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.node import Node


def register(broker: Dispatcher, node: Node) -> None:
    """Register every data-path API on the broker listeners' dispatcher."""
