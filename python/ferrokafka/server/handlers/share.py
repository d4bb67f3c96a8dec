"""Registration of the share group APIs (KIP-932): ShareGroupHeartbeat and ShareGroupDescribe
on the group coordinator, ShareFetch and ShareAcknowledge on the share-partition leaders
(``node.share_partitions``, a :class:`~ferrokafka.share.manager.SharePartitionManager` whose
lock timers the Broker runs). Members leaving their group (or fenced) release the records they
hold and lose their share sessions."""

from __future__ import annotations

import uuid

from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.groups.share.service import ShareGroups
from ferrokafka.partition import Partition
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.lazy import LazyHandler, api_key
from ferrokafka.server.handlers.share_settings import share_settings
from ferrokafka.server.node import Node
from ferrokafka.share.manager import SharePartitionManager
from ferrokafka.share.persister import NOT_INITIALIZED, SharePartitionKey

_HANDLERS = "ferrokafka.server.handlers."


def register(broker: Dispatcher, node: Node, coordinator: GroupCoordinator) -> None:
    async def initialize_state(group_id: str, topic_id: uuid.UUID, partition: int) -> int:
        key = SharePartitionKey(group_id, topic_id, partition)
        return await node.share_persister.initialize(key, 0, NOT_INITIALIZED)

    async def delete_state(group_id: str, topic_id: uuid.UUID, partition: int) -> int:
        manager.forget_partition(SharePartitionKey(group_id, topic_id, partition))
        return await node.share_persister.delete(SharePartitionKey(group_id, topic_id, partition))

    manager = SharePartitionManager(
        persister=lambda: node.share_persister,
        settings=lambda group_id: share_settings(node, group_id),
        wake=node.replicas.purgatory.wake,
        now_ms=node.wall_clock.now_ms,
        max_sessions=int(node.broker_config()["group.share.max.share.sessions"]),
        find=lambda topic_id, index: _leader(node, topic_id, index),
    )
    node.share_partitions = manager
    groups = ShareGroups(node, coordinator, initialize_state, delete_state)

    broker.on_connection_closed(manager.connection_closed)
    for name, module, args in (
        ("ShareGroupHeartbeat", "share_group_heartbeat", (node, groups)),
        ("ShareGroupDescribe", "share_group_describe", (node, coordinator)),
        ("ShareFetch", "share_fetch", (node, manager)),
        ("ShareAcknowledge", "share_acknowledge", (node, manager)),
    ):
        broker.register(api_key(name), LazyHandler(_HANDLERS + module, name + "Handler", *args))


def _leader(node: Node, topic_id: uuid.UUID, index: int) -> Partition | None:
    found = node.replicas.leader_partition_by_id_or_error(topic_id, index)
    return found if isinstance(found, Partition) else None
