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
from ferrokafka.groups.streams.service import StreamsGroups
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers import share
from ferrokafka.server.handlers.lazy import LazyHandler, api_key
from ferrokafka.server.node import Node

_HANDLERS = "ferrokafka.server.handlers."


def _lazy(module: str, attribute: str, *args: object) -> LazyHandler:
    return LazyHandler(_HANDLERS + module, attribute, *args)


def register(
    broker: Dispatcher, node: Node, advertised_listeners: Callable[[], list[Endpoint]]
) -> GroupCoordinator:
    """Make the coordinator and the group services now (the Broker runs the coordinator);
    each API's handler is built on its first request (see ``lazy``)."""
    coordinator = GroupCoordinator(node)
    node.group_coordinator = coordinator
    broker.register(
        api_key("FindCoordinator"),
        _lazy(
            "find_coordinator", "FindCoordinatorHandler", node, coordinator, advertised_listeners
        ),
    )
    register_classic(broker, node, coordinator)
    consumer_groups = ConsumerGroups(node, coordinator)  # KIP-848 groups and their records
    broker.register(
        api_key("ConsumerGroupHeartbeat"),
        _lazy("consumer_group_heartbeat", "ConsumerGroupHeartbeatHandler", consumer_groups),
    )
    broker.register(
        api_key("ConsumerGroupDescribe"),
        _lazy("consumer_group_describe", "ConsumerGroupDescribeHandler", node, coordinator),
    )
    streams_groups = StreamsGroups(node, coordinator)  # KIP-1071 streams groups
    broker.register(
        api_key("StreamsGroupHeartbeat"),
        _lazy("streams_group_heartbeat", "StreamsGroupHeartbeatHandler", streams_groups),
    )
    broker.register(
        api_key("StreamsGroupDescribe"),
        _lazy("streams_group_describe", "StreamsGroupDescribeHandler", coordinator),
    )
    share.register(broker, node, coordinator)  # KIP-932 share groups and their leaders
    return coordinator


def register_classic(broker: Dispatcher, node: Node, coordinator: GroupCoordinator) -> None:
    """The classic group protocol, offsets and group admin APIs."""
    classic = ClassicGroups(coordinator)
    for name, module, args in (
        ("JoinGroup", "join_group", (classic,)),
        ("SyncGroup", "sync_group", (classic,)),
        ("Heartbeat", "heartbeat", (classic,)),
        ("LeaveGroup", "leave_group", (classic,)),
        ("OffsetCommit", "offset_commit", (node, coordinator, classic)),
        ("TxnOffsetCommit", "txn_offset_commit", (node, coordinator, classic)),
        ("OffsetFetch", "offset_fetch", (node, coordinator)),
        ("OffsetDelete", "offset_delete", (node, coordinator)),
        ("ListGroups", "list_groups", (coordinator,)),
        ("DescribeGroups", "describe_groups", (coordinator,)),
        ("DeleteGroups", "delete_groups", (coordinator,)),
    ):
        # A connection's commits apply in the order sent, and its offset fetches see them.
        in_order = name in ("OffsetCommit", "TxnOffsetCommit", "OffsetFetch")
        broker.register(api_key(name), _lazy(module, name + "Handler", *args), in_order=in_order)
