"""OffsetDelete (key 47, v0): drop a group's committed offsets of some partitions, refused for
topics the group's members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC)."""

from __future__ import annotations

from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.groups.offsets import offset_tombstone
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.offset_delete import OffsetDeleteRequest, OffsetDeleteResponse
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node


class OffsetDeleteHandler:
    def __init__(self, node: Node, coordinator: GroupCoordinator) -> None:
        self.node = node
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: OffsetDeleteRequest
    ) -> OffsetDeleteResponse:
        code = self.coordinator.error_code(request.group_id or None)
        group = self.coordinator.get_group(request.group_id) if code == ec.NONE else None
        if code == ec.NONE and (group is None or group.state == "Dead"):
            code = ec.GROUP_ID_NOT_FOUND
        subscribed: frozenset[str] = frozenset()
        if group is not None and code == ec.NONE and not group.is_empty():
            topics = group.subscribed_topics()
            if topics is None:
                code = ec.NON_EMPTY_GROUP
            else:
                subscribed = topics
        if code != ec.NONE:
            return OffsetDeleteResponse(error_code=code)
        results = []
        doomed: list[tuple[str, int]] = []
        for topic in request.topics:
            if topic.name in subscribed:
                part_code = ec.GROUP_SUBSCRIBED_TO_TOPIC
            elif topic.name not in self.node.image.topics_by_name:
                part_code = ec.UNKNOWN_TOPIC_OR_PARTITION
            else:
                part_code = ec.NONE
            for part in topic.partitions:
                # Kafka writes the tombstone for a committed offset or a pending one.
                store = self.coordinator.offsets
                index = part.partition_index
                if part_code == ec.NONE and (
                    store.get(request.group_id, topic.name, index)
                    or store.has_pending(request.group_id, topic.name, index)
                ):
                    doomed.append((topic.name, index))
            results.append((topic, part_code))

        def apply() -> None:
            for name, index in doomed:
                self.coordinator.offsets.remove(request.group_id, name, index)

        records = [offset_tombstone(request.group_id, name, index) for name, index in doomed]
        write_code = await self.coordinator.write(request.group_id, records, apply)
        if write_code != ec.NONE:
            return OffsetDeleteResponse(error_code=ec.COORDINATOR_NOT_AVAILABLE)
        return OffsetDeleteResponse(
            error_code=ec.NONE,
            topics=[
                OffsetDeleteResponse.OffsetDeleteResponseTopic(
                    name=topic.name,
                    partitions=[
                        OffsetDeleteResponse.OffsetDeleteResponsePartition(
                            partition_index=p.partition_index, error_code=part_code
                        )
                        for p in topic.partitions
                    ],
                )
                for topic, part_code in results
            ],
        )
