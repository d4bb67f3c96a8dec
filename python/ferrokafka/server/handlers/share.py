"""Registration of the share group APIs (KIP-932): ShareGroupHeartbeat and ShareGroupDescribe
on the group coordinator, ShareFetch and ShareAcknowledge on the share-partition leaders
(``node.share_partitions``, a :class:`~ferrokafka.share.manager.SharePartitionManager` whose
lock timers the Broker runs). Members leaving their group (or fenced) release the records they
hold and lose their share sessions."""

from __future__ import annotations

import uuid

from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.groups.share.offsets import ShareGroupOffsets, StateSummary
from ferrokafka.groups.share.service import ShareGroups, topics_of
from ferrokafka.partition import Partition
from ferrokafka.protocol import error_codes as ec
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.lazy import LazyHandler, api_key
from ferrokafka.server.handlers.share_dead_letter import DeadLetterQueues
from ferrokafka.server.handlers.share_latest_offset import LatestOffsets
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
        dead_letter=DeadLetterQueues(node),
    )
    node.share_partitions = manager
    node.replicas.add_all_leadership_listener(manager.on_leadership)
    groups = ShareGroups(node, coordinator, initialize_state, delete_state)
    offsets = _offsets(node, manager, groups)

    broker.on_connection_closed(manager.connection_closed)
    for name, module, args in (
        ("ShareGroupHeartbeat", "share_group_heartbeat", (node, groups)),
        ("ShareGroupDescribe", "share_group_describe", (node, coordinator)),
        ("ShareFetch", "share_fetch", (node, manager)),
        ("ShareAcknowledge", "share_acknowledge", (node, manager)),
        ("DescribeShareGroupOffsets", "share_group_offsets", (node, offsets)),
        ("AlterShareGroupOffsets", "share_group_offsets", (node, offsets)),
        ("DeleteShareGroupOffsets", "share_group_offsets", (node, offsets)),
    ):
        broker.register(api_key(name), LazyHandler(_HANDLERS + module, name + "Handler", *args))


def _offsets(node: Node, manager: SharePartitionManager, groups: ShareGroups) -> ShareGroupOffsets:
    """The offset admin operations on the node's persister. An alter initializes the state
    with a state epoch above the stored one (Kafka uses the group epoch; this also fences a
    share-partition leader that loaded the state before, wherever it runs) after dropping
    this broker's cached share-partition, which then reloads the new start offset."""

    async def read_summary(group_id: str, topic_id: uuid.UUID, partition: int) -> StateSummary:
        s = await node.share_persister.read_summary(
            SharePartitionKey(group_id, topic_id, partition), -1
        )
        return StateSummary(
            s.error_code, s.start_offset, s.leader_epoch, s.state_epoch, s.delivery_complete_count
        )

    async def initialize_at(
        group_id: str, topic_id: uuid.UUID, partition: int, group_epoch: int, start_offset: int
    ) -> int:
        key = SharePartitionKey(group_id, topic_id, partition)
        current = await node.share_persister.read_summary(key, -1)
        state_epoch = group_epoch
        if current.error_code == ec.NONE:
            state_epoch = max(group_epoch, current.state_epoch + 1)
        manager.forget_partition(key)
        return await node.share_persister.initialize(key, state_epoch, start_offset)

    async def delete_state(group_id: str, topic_id: uuid.UUID, partition: int) -> int:
        key = SharePartitionKey(group_id, topic_id, partition)
        manager.forget_partition(key)
        return await node.share_persister.delete(key)

    return ShareGroupOffsets(
        groups,
        lambda: topics_of(node),
        read_summary,
        initialize_at,
        delete_state,
        LatestOffsets(node),
    )


def _leader(node: Node, topic_id: uuid.UUID, index: int) -> Partition | None:
    found = node.replicas.leader_partition_by_id_or_error(topic_id, index)
    return found if isinstance(found, Partition) else None
