"""The share-group offset admin APIs (KIP-932, Kafka 4.4): DescribeShareGroupOffsets (90,
v0-1; v1 adds the lag), AlterShareGroupOffsets (91, v0) and DeleteShareGroupOffsets (92, v0),
as ``kafka-share-groups --describe``, ``--reset-offsets`` and ``--delete-offsets`` send them.
Wire <-> :class:`~ferrokafka.groups.share.offsets.ShareGroupOffsets`.

While the cluster's share.version is below 1 every group (or the request) is answered
UNSUPPORTED_VERSION, as Kafka's KafkaApis does. Describe with a null topic list describes
every initialized share-partition of the group; an empty list answers the group with no
topics.
"""

from __future__ import annotations

from ferrokafka.groups.share.offsets import GroupResult, ShareGroupOffsets
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.alter_share_group_offsets import (
    AlterShareGroupOffsetsRequest,
    AlterShareGroupOffsetsResponse,
)
from ferrokafka.protocol.messages.delete_share_group_offsets import (
    DeleteShareGroupOffsetsRequest,
    DeleteShareGroupOffsetsResponse,
)
from ferrokafka.protocol.messages.describe_share_group_offsets import (
    DescribeShareGroupOffsetsRequest,
    DescribeShareGroupOffsetsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.handlers.describe_groups import GROUPS_MAX
from ferrokafka.server.handlers.share_settings import share_enabled
from ferrokafka.server.node import Node

Describe = DescribeShareGroupOffsetsResponse
Alter = AlterShareGroupOffsetsResponse
Delete = DeleteShareGroupOffsetsResponse


class DescribeShareGroupOffsetsHandler:
    def __init__(self, node: Node, offsets: ShareGroupOffsets) -> None:
        self.node = node
        self.offsets = offsets

    async def __call__(
        self, ctx: RequestContext, request: DescribeShareGroupOffsetsRequest
    ) -> DescribeShareGroupOffsetsResponse:
        groups = request.groups[:GROUPS_MAX]
        if not share_enabled(self.node):
            return Describe(
                groups=[
                    Describe.DescribeShareGroupOffsetsResponseGroup(
                        group_id=g.group_id, error_code=ec.UNSUPPORTED_VERSION
                    )
                    for g in groups
                ]
            )
        out = []
        for g in groups:
            if g.topics is not None and not g.topics:
                out.append(Describe.DescribeShareGroupOffsetsResponseGroup(group_id=g.group_id))
                continue
            wanted = (
                None if g.topics is None else [(t.topic_name, list(t.partitions)) for t in g.topics]
            )
            out.append(_described(g.group_id, await self.offsets.describe(g.group_id, wanted)))
        return Describe(groups=out)


def _described(
    group_id: str, result: GroupResult
) -> Describe.DescribeShareGroupOffsetsResponseGroup:
    return Describe.DescribeShareGroupOffsetsResponseGroup(
        group_id=group_id,
        error_code=result.error_code,
        error_message=result.error_message,
        topics=[
            Describe.DescribeShareGroupOffsetsResponseTopic(
                topic_name=t.name,
                topic_id=t.topic_id,
                partitions=[
                    Describe.DescribeShareGroupOffsetsResponsePartition(
                        partition_index=p.partition,
                        start_offset=p.start_offset,
                        leader_epoch=p.leader_epoch,
                        lag=p.lag,
                        error_code=p.error_code,
                        error_message=p.error_message,
                    )
                    for p in t.partitions
                ],
            )
            for t in result.topics
        ],
    )


class AlterShareGroupOffsetsHandler:
    def __init__(self, node: Node, offsets: ShareGroupOffsets) -> None:
        self.node = node
        self.offsets = offsets

    async def __call__(
        self, ctx: RequestContext, request: AlterShareGroupOffsetsRequest
    ) -> AlterShareGroupOffsetsResponse:
        if not share_enabled(self.node):
            return Alter(error_code=ec.UNSUPPORTED_VERSION)
        wanted = [
            (t.topic_name, [(p.partition_index, p.start_offset) for p in t.partitions])
            for t in request.topics
        ]
        result = await self.offsets.alter(request.group_id, wanted)
        return Alter(
            error_code=result.error_code,
            error_message=result.error_message,
            responses=[
                Alter.AlterShareGroupOffsetsResponseTopic(
                    topic_name=t.name,
                    topic_id=t.topic_id,
                    partitions=[
                        Alter.AlterShareGroupOffsetsResponsePartition(
                            partition_index=p.partition,
                            error_code=p.error_code,
                            error_message=p.error_message,
                        )
                        for p in t.partitions
                    ],
                )
                for t in result.topics
            ],
        )


class DeleteShareGroupOffsetsHandler:
    def __init__(self, node: Node, offsets: ShareGroupOffsets) -> None:
        self.node = node
        self.offsets = offsets

    async def __call__(
        self, ctx: RequestContext, request: DeleteShareGroupOffsetsRequest
    ) -> DeleteShareGroupOffsetsResponse:
        if not share_enabled(self.node):
            return Delete(error_code=ec.UNSUPPORTED_VERSION)
        result = await self.offsets.delete(request.group_id, [t.topic_name for t in request.topics])
        return Delete(
            error_code=result.error_code,
            error_message=result.error_message,
            responses=[
                Delete.DeleteShareGroupOffsetsResponseTopic(
                    topic_name=t.name,
                    topic_id=t.topic_id,
                    error_code=t.error_code,
                    error_message=t.error_message,
                )
                for t in result.topics
            ],
        )
