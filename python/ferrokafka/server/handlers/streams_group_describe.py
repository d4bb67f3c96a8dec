"""StreamsGroupDescribe (API key 89, KIP-1071): a streams group's state, epochs, configured
topology (partition counts resolved, as the coordinator configured it) and members with their
current and target tasks, from the coordinator's map. What the ``kafka-streams-groups`` tool
and ``Admin.describeStreamsGroups`` read.

The topology description of KIP-1331 (StreamsGroupTopologyDescriptionUpdate) is not stored:
a v1 request that asks for it hears NOT_STORED (1).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ferrokafka.groups.streams.assignor import STICKY, MemberTasks, TaskId
from ferrokafka.groups.streams.group import StreamsGroup
from ferrokafka.groups.streams.topology import TopicInfo
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.streams_group_describe import (
    StreamsGroupDescribeRequest,
    StreamsGroupDescribeResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.handlers.describe_groups import GROUP_OPERATIONS, GROUPS_MAX
from ferrokafka.server.handlers.metadata import AUTHORIZED_OPERATIONS_OMITTED

if TYPE_CHECKING:
    from ferrokafka.groups.coordinator import GroupCoordinator

Response = StreamsGroupDescribeResponse
# TopologyDescriptionStatus (StreamsGroupDescribeResponse v1)
NOT_REQUESTED = 0
NOT_STORED = 1


class StreamsGroupDescribeHandler:
    """Answers StreamsGroupDescribe from the coordinator's map."""

    def __init__(self, coordinator: GroupCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: StreamsGroupDescribeRequest
    ) -> StreamsGroupDescribeResponse:
        ops = (
            GROUP_OPERATIONS
            if request.include_authorized_operations
            else AUTHORIZED_OPERATIONS_OMITTED
        )
        status = NOT_STORED if request.include_topology_description else NOT_REQUESTED
        return Response(
            groups=[
                self._describe(group_id, ops, status) for group_id in request.group_ids[:GROUPS_MAX]
            ]
        )

    def _describe(self, group_id: str, ops: int, status: int) -> Response.DescribedGroup:
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
        if not isinstance(group, StreamsGroup):
            return error(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a streams group.")
        return Response.DescribedGroup(
            group_id=group_id,
            group_state=group.state,
            group_epoch=group.group_epoch,
            assignment_epoch=group.assignment_epoch,
            topology=_topology(group),
            authorized_operations=ops,
            topology_description_status=status,
            assignor_name=STICKY,
            members=[
                Response.Member(
                    member_id=m.member_id,
                    member_epoch=m.member_epoch,
                    instance_id=m.instance_id,
                    rack_id=m.rack_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    topology_epoch=m.topology_epoch,
                    process_id=m.process_id,
                    user_endpoint=(
                        Response.Endpoint(host=m.user_endpoint[0], port=m.user_endpoint[1])
                        if m.user_endpoint is not None
                        else None
                    ),
                    client_tags=[Response.KeyValue(key=k, value=v) for k, v in m.client_tags],
                    assignment=_assignment(m.assigned),
                    target_assignment=_assignment(group.target.get(m.member_id, MemberTasks())),
                )
                for m in sorted(group.members.values(), key=lambda m: m.member_id)
            ],
        )


def _task_ids(tasks: Iterable[TaskId]) -> list[Response.TaskIds]:
    by_subtopology: dict[str, list[int]] = {}
    for subtopology, partition in tasks:
        by_subtopology.setdefault(subtopology, []).append(partition)
    return [
        Response.TaskIds(subtopology_id=s, partitions=sorted(p))
        for s, p in sorted(by_subtopology.items())
    ]


def _assignment(tasks: MemberTasks) -> Response.Assignment:
    return Response.Assignment(
        active_tasks=_task_ids(tasks.active),
        standby_tasks=_task_ids(tasks.standby),
        warmup_tasks=_task_ids(tasks.warmup),
    )


def _topic_info(info: TopicInfo, partitions: int) -> Response.TopicInfo:
    return Response.TopicInfo(
        name=info.name,
        partitions=partitions,
        replication_factor=info.replication_factor,
        topic_configs=[Response.KeyValue(key=k, value=v) for k, v in info.configs],
    )


def _topology(group: StreamsGroup) -> Response.Topology | None:
    """The configured topology; its subtopologies are null until the group is ready."""
    if group.topology is None:
        return None
    configured = group.configured
    if configured is None or configured.task_counts is None:
        return Response.Topology(epoch=group.topology.epoch, subtopologies=None)
    counts = configured.task_counts
    return Response.Topology(
        epoch=group.topology.epoch,
        subtopologies=[
            Response.Subtopology(
                subtopology_id=s.subtopology_id,
                source_topics=[
                    t
                    for t in configured.sources.get(s.subtopology_id, ())
                    if t not in {i.name for i in s.repartition_source_topics}
                ],
                repartition_sink_topics=list(s.repartition_sink_topics),
                state_changelog_topics=[
                    _topic_info(i, i.partitions or counts[s.subtopology_id])
                    for i in s.state_changelog_topics
                ],
                repartition_source_topics=[
                    _topic_info(i, counts[s.subtopology_id]) for i in s.repartition_source_topics
                ],
            )
            for s in group.topology.subtopologies
        ],
    )
