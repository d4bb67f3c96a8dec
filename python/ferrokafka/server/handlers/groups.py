"""Registration of the group coordinator's handlers (FindCoordinator, the classic group
protocol, offsets and group admin): one module per API beside this one.

:func:`register` also makes the node's :class:`~ferrokafka.groups.coordinator.GroupCoordinator`
(``node.group_coordinator``), which the Broker runs.
"""

from __future__ import annotations

from collections.abc import Callable

from ferrokafka.config import Endpoint
from ferrokafka.groups.consumer.service import ConsumerGroups
from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.protocol.messages.consumer_group_describe import ConsumerGroupDescribeRequest
from ferrokafka.protocol.messages.consumer_group_heartbeat import ConsumerGroupHeartbeatRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.consumer_group_describe import ConsumerGroupDescribeHandler
from ferrokafka.server.handlers.consumer_group_heartbeat import ConsumerGroupHeartbeatHandler
from ferrokafka.server.handlers.find_coordinator import FindCoordinatorHandler
from ferrokafka.server.node import Node


def register(
    broker: Dispatcher, node: Node, advertised_listeners: Callable[[], list[Endpoint]]
) -> GroupCoordinator:
    coordinator = GroupCoordinator(node)
    node.group_coordinator = coordinator
    broker.register(
        FindCoordinatorRequest.API_KEY,
        FindCoordinatorHandler(node, coordinator, advertised_listeners),
    )
    consumer_groups = ConsumerGroups(node, coordinator)  # KIP-848 groups and their records
    broker.register(
        ConsumerGroupHeartbeatRequest.API_KEY, ConsumerGroupHeartbeatHandler(consumer_groups)
    )
    broker.register(
        ConsumerGroupDescribeRequest.API_KEY, ConsumerGroupDescribeHandler(node, coordinator)
    )
    return coordinator
