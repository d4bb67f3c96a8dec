"""Registration of the group coordinator's handlers (FindCoordinator, the classic group
protocol, offsets and group admin): one module per API beside this one.

:func:`register` also makes the node's :class:`~ferrokafka.groups.coordinator.GroupCoordinator`
(``node.group_coordinator``), which the Broker runs.
"""

from __future__ import annotations

from collections.abc import Callable

from ferrokafka.config import Endpoint
from ferrokafka.groups.classic.protocol import ClassicGroups
from ferrokafka.groups.consumer.service import ConsumerGroups
from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.protocol.messages.consumer_group_describe import ConsumerGroupDescribeRequest
from ferrokafka.protocol.messages.consumer_group_heartbeat import ConsumerGroupHeartbeatRequest
from ferrokafka.protocol.messages.delete_groups import DeleteGroupsRequest
from ferrokafka.protocol.messages.describe_groups import DescribeGroupsRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.heartbeat import HeartbeatRequest
from ferrokafka.protocol.messages.join_group import JoinGroupRequest
from ferrokafka.protocol.messages.leave_group import LeaveGroupRequest
from ferrokafka.protocol.messages.list_groups import ListGroupsRequest
from ferrokafka.protocol.messages.offset_commit import OffsetCommitRequest
from ferrokafka.protocol.messages.offset_delete import OffsetDeleteRequest
from ferrokafka.protocol.messages.offset_fetch import OffsetFetchRequest
from ferrokafka.protocol.messages.sync_group import SyncGroupRequest
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.consumer_group_describe import ConsumerGroupDescribeHandler
from ferrokafka.server.handlers.consumer_group_heartbeat import ConsumerGroupHeartbeatHandler
from ferrokafka.server.handlers.delete_groups import DeleteGroupsHandler
from ferrokafka.server.handlers.describe_groups import DescribeGroupsHandler
from ferrokafka.server.handlers.find_coordinator import FindCoordinatorHandler
from ferrokafka.server.handlers.heartbeat import HeartbeatHandler
from ferrokafka.server.handlers.join_group import JoinGroupHandler
from ferrokafka.server.handlers.leave_group import LeaveGroupHandler
from ferrokafka.server.handlers.list_groups import ListGroupsHandler
from ferrokafka.server.handlers.offset_commit import OffsetCommitHandler
from ferrokafka.server.handlers.offset_delete import OffsetDeleteHandler
from ferrokafka.server.handlers.offset_fetch import OffsetFetchHandler
from ferrokafka.server.handlers.sync_group import SyncGroupHandler
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
    register_classic(broker, node, coordinator)
    consumer_groups = ConsumerGroups(node, coordinator)  # KIP-848 groups and their records
    broker.register(
        ConsumerGroupHeartbeatRequest.API_KEY, ConsumerGroupHeartbeatHandler(consumer_groups)
    )
    broker.register(
        ConsumerGroupDescribeRequest.API_KEY, ConsumerGroupDescribeHandler(node, coordinator)
    )
    return coordinator


def register_classic(broker: Dispatcher, node: Node, coordinator: GroupCoordinator) -> None:
    """The classic group protocol, offsets and group admin APIs."""
    classic = ClassicGroups(coordinator)
    broker.register(JoinGroupRequest.API_KEY, JoinGroupHandler(classic))
    broker.register(SyncGroupRequest.API_KEY, SyncGroupHandler(classic))
    broker.register(HeartbeatRequest.API_KEY, HeartbeatHandler(classic))
    broker.register(LeaveGroupRequest.API_KEY, LeaveGroupHandler(classic))
    broker.register(OffsetCommitRequest.API_KEY, OffsetCommitHandler(node, coordinator, classic))
    broker.register(OffsetFetchRequest.API_KEY, OffsetFetchHandler(node, coordinator))
    broker.register(OffsetDeleteRequest.API_KEY, OffsetDeleteHandler(node, coordinator))
    broker.register(ListGroupsRequest.API_KEY, ListGroupsHandler(coordinator))
    broker.register(DescribeGroupsRequest.API_KEY, DescribeGroupsHandler(coordinator))
    broker.register(DeleteGroupsRequest.API_KEY, DeleteGroupsHandler(coordinator))
