"""ShareGroupDescribe (API key 77, KIP-932): a share group's epochs, assignor and members
with their assignments, as ``kafka-share-groups --describe`` and the Admin client read them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.groups.share.group import ASSIGNOR_NAME, ShareGroup, TopicAssignment
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.share_group_describe import (
    ShareGroupDescribeRequest,
    ShareGroupDescribeResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.handlers.describe_groups import GROUP_OPERATIONS, GROUPS_MAX
from ferrokafka.server.handlers.metadata import AUTHORIZED_OPERATIONS_OMITTED
from ferrokafka.server.handlers.share_settings import share_enabled
from ferrokafka.server.node import Node

Response = ShareGroupDescribeResponse


class ShareGroupDescribeHandler:
    def __init__(self, node: Node, coordinator: GroupCoordinator) -> None:
        self.node = node
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: ShareGroupDescribeRequest
    ) -> ShareGroupDescribeResponse:
        if not share_enabled(self.node):
            return Response(
                groups=[
                    Response.DescribedGroup(group_id=g, error_code=ec.UNSUPPORTED_VERSION)
                    for g in request.group_ids[:GROUPS_MAX]
                ]
            )
        names = {t.topic_id: t.name for t in self.node.image.topics_by_name.values()}
        ops = (
            GROUP_OPERATIONS
            if request.include_authorized_operations
            else AUTHORIZED_OPERATIONS_OMITTED
        )
        return Response(
            groups=[self._describe(g, names, ops) for g in request.group_ids[:GROUPS_MAX]]
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
        code = self.coordinator.error_code(group_id)
        if code:
            return error(code)
        group = self.coordinator.get_group(group_id)
        if group is None:
            return error(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} not found.")
        if not isinstance(group, ShareGroup):
            return error(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a share group.")
        return Response.DescribedGroup(
            group_id=group_id,
            group_state=group.state,
            group_epoch=group.group_epoch,
            assignment_epoch=group.assignment_epoch,
            assignor_name=ASSIGNOR_NAME,
            authorized_operations=ops,
            members=[
                Response.Member(
                    member_id=x.member_id,
                    rack_id=x.rack_id,
                    member_epoch=x.member_epoch,
                    client_id=x.client_id,
                    client_host=x.client_host,
                    subscribed_topic_names=list(x.subscribed_topic_names),
                    assignment=_assignment(x.assigned, names),
                )
                for x in group.members.values()
            ],
        )


def _assignment(parts: TopicAssignment, names: Mapping[uuid.UUID, str]) -> Response.Assignment:
    return Response.Assignment(
        topic_partitions=[
            Response.TopicPartitions(topic_id=t, topic_name=names[t], partitions=sorted(ps))
            for t, ps in sorted(parts.items(), key=str)
            if t in names
        ]
    )
