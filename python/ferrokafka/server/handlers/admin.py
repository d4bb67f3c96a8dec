"""Registration of the handlers that read or change cluster metadata (Metadata, CreateTopics,
DeleteTopics, CreatePartitions, configs, DescribeCluster): one module per API beside this one."""

from __future__ import annotations

from collections.abc import Callable

from ferrokafka.config import Endpoint
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.node import Node


def register(
    broker: Dispatcher, node: Node, advertised_listeners: Callable[[], list[Endpoint]]
) -> None:
    """Register every metadata API on the broker listeners' dispatcher."""
