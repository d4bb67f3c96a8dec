"""ConsumerGroupDescribe (API key 69, KIP-848): a consumer group's epochs, assignor and each
member's current and target assignment, as Kafka's Admin ``describeConsumerGroups`` reads them
for groups of the new protocol (it falls back to DescribeGroups for classic groups on the
GROUP_ID_NOT_FOUND this answers for them)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ferrokafka.groups.base import CONSUMER
from ferrokafka.groups.consumer.group import ConsumerGroup
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.consumer_group_describe import (
    ConsumerGroupDescribeRequest,
    ConsumerGroupDescribeResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.handlers.describe_groups import GROUP_OPERATIONS, GROUPS_MAX
from ferrokafka.server.handlers.metadata import AUTHORIZED_OPERATIONS_OMITTED
from ferrokafka.server.node import Node

if TYPE_CHECKING:
    from ferrokafka.groups.coordinator import GroupCoordinator

Response = ConsumerGroupDescribeResponse
MEMBER_TYPE_CONSUMER = 1


class ConsumerGroupDescribeHandler:
    """Answers ConsumerGroupDescribe from the coordinator's map; topic names come from the
    metadata image (a deleted topic's partitions are left out)."""

    def __init__(self, node: Node, coordinator: GroupCoordinator) -> None:
        self.node = node
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: ConsumerGroupDescribeRequest
    ) -> ConsumerGroupDescribeResponse:
        names = {t.topic_id: t.name for t in self.node.image.topics_by_name.values()}
        ops = (
            GROUP_OPERATIONS
            if request.include_authorized_operations
            else AUTHORIZED_OPERATIONS_OMITTED
        )
        return Response(
            groups=[
                self._describe(group_id, names, ops) for group_id in request.group_ids[:GROUPS_MAX]
            ]
        )

    def _describe(
        self, group_id: str, names: Mapping[uuid.UUID, str], ops: int
    ) -> Response.DescribedGroup:
        def error(code: int, message: str | None = None) -> Response.DescribedGroup:
            return Response.DescribedGroup(
                group_id=group_id, error_code=code, error_message=message
            )

        if not group_id:
            return error(ec.INVALID_GROUP_ID)
        code = self.coordinator.error_code(group_id or None)
        if code:
            return error(code)
        group = self.coordinator.get_group(group_id)
        if group is None:
            return error(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} not found.")
        if group.kind != CONSUMER or not isinstance(group, ConsumerGroup):
            return error(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a consumer group.")
        return Response.DescribedGroup(
            group_id=group_id,
            group_state=group.state,
            group_epoch=group.group_epoch,
            assignment_epoch=group.assignment_epoch,
            assignor_name=group.assignor_name,
            authorized_operations=ops,
            members=[
                Response.Member(
                    member_id=member.member_id,
                    instance_id=member.instance_id,
                    rack_id=member.rack_id,
                    member_epoch=member.member_epoch,
                    client_id=member.client_id,
                    client_host=member.client_host,
                    subscribed_topic_names=list(member.subscribed_topic_names),
                    subscribed_topic_regex=member.subscribed_topic_regex,
                    assignment=_assignment(member.assigned, names),
                    target_assignment=_assignment(group.target.get(member.member_id, {}), names),
                    member_type=MEMBER_TYPE_CONSUMER,
                )
                for member in group.members.values()
            ],
        )


def _assignment(
    parts: Mapping[uuid.UUID, frozenset[int]], names: Mapping[uuid.UUID, str]
) -> Response.Assignment:
    return Response.Assignment(
        topic_partitions=[
            Response.TopicPartitions(
                topic_id=topic_id, topic_name=names[topic_id], partitions=sorted(ps)
            )
            for topic_id, ps in sorted(parts.items(), key=str)
            if topic_id in names  # a deleted topic is gone from the description
        ]
    )
