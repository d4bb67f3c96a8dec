"""StreamsGroupHeartbeat (API key 88, KIP-1071): join, heartbeat and leave of a streams group
(``group.protocol=streams`` in Kafka Streams). The group's rules live in
:mod:`ferrokafka.groups.streams.group`; this module checks the request's shape (INVALID_REQUEST
with Kafka's messages), translates the topology and tasks, and hands it to
:class:`~ferrokafka.groups.streams.service.StreamsGroups`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ferrokafka.groups.streams import topology as t
from ferrokafka.groups.streams.assignor import MemberTasks, TaskId
from ferrokafka.groups.streams.group import (
    JOIN_EPOCH,
    LEAVE_EPOCH,
    LEAVE_STATIC_EPOCH,
    Heartbeat,
    HeartbeatError,
    StreamsGroup,
)
from ferrokafka.groups.streams.service import StreamsGroups
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.streams_group_heartbeat import (
    StreamsGroupHeartbeatRequest,
    StreamsGroupHeartbeatResponse,
)
from ferrokafka.server.dispatcher import RequestContext

Request = StreamsGroupHeartbeatRequest
Response = StreamsGroupHeartbeatResponse
# Tasks one heartbeat may list: far above any real application, bounds the work.
TASKS_MAX = 1_000_000
_JAVA_WHITESPACE = "".join(map(chr, range(33)))


class StreamsGroupHeartbeatHandler:
    """Answers StreamsGroupHeartbeat with the node's streams groups."""

    def __init__(self, groups: StreamsGroups) -> None:
        self.groups = groups

    async def __call__(self, ctx: RequestContext, request: Request) -> Response:
        try:
            invalid = _invalid(request)
            if invalid is not None:
                raise HeartbeatError(ec.INVALID_REQUEST, invalid)
            code = self.groups.coordinator.error_code(request.group_id or None)
            if code:
                raise HeartbeatError(code)
            result = await self.groups.heartbeat(request.group_id, _heartbeat(request, ctx))
        except HeartbeatError as err:
            return Response(error_code=err.code, error_message=err.message)
        config = self.groups.group_config(request.group_id)
        response = Response(
            member_id=result.member_id,
            member_epoch=result.member_epoch,
            heartbeat_interval_ms=result.heartbeat_interval_ms,
            acceptable_recovery_lag=config.acceptable_recovery_lag,
            task_offset_interval_ms=config.task_offset_interval_ms,
            status=[
                Response.Status(status_code=s.code, status_detail=s.detail) for s in result.statuses
            ],
        )
        if ctx.api_version == 0:  # v0 has the int32 field only
            response.acceptable_recovery_lag_legacy = min(config.acceptable_recovery_lag, 2**31 - 1)
        if result.assignment is not None:
            response.active_tasks = _task_ids(result.assignment.active)
            response.standby_tasks = _task_ids(result.assignment.standby)
            response.warmup_tasks = _task_ids(result.assignment.warmup)
        group = self.groups.coordinator.get_group(request.group_id)
        if (
            isinstance(group, StreamsGroup)
            and request.member_epoch not in (LEAVE_EPOCH, LEAVE_STATIC_EPOCH)
            and request.endpoint_information_epoch != group.endpoint_epoch
        ):
            response.endpoint_information_epoch = group.endpoint_epoch
            response.partitions_by_user_endpoint = _endpoints(group)
        else:
            response.endpoint_information_epoch = request.endpoint_information_epoch
        return response


def _task_ids(tasks: Iterable[TaskId]) -> list[Response.TaskIds]:
    by_subtopology: dict[str, list[int]] = {}
    for subtopology, partition in tasks:
        by_subtopology.setdefault(subtopology, []).append(partition)
    return [
        Response.TaskIds(subtopology_id=s, partitions=sorted(p))
        for s, p in sorted(by_subtopology.items())
    ]


def _endpoints(group: StreamsGroup) -> list[Response.EndpointToPartitions]:
    """For interactive queries: each member with an endpoint and the source partitions of its
    tasks."""
    sources = group.configured.sources if group.configured else {}
    out = []
    for member in sorted(group.members.values(), key=lambda m: m.member_id):
        if member.user_endpoint is None:
            continue
        host, port = member.user_endpoint
        out.append(
            Response.EndpointToPartitions(
                user_endpoint=Response.Endpoint(host=host, port=port),
                active_partitions=_partitions(member.assigned.active, sources),
                standby_partitions=_partitions(
                    member.assigned.standby | member.assigned.warmup, sources
                ),
            )
        )
    return out


def _partitions(
    tasks: Iterable[TaskId], sources: Mapping[str, tuple[str, ...]]
) -> list[Response.TopicPartition]:
    by_topic: dict[str, set[int]] = {}
    for subtopology, partition in tasks:
        for topic in sources.get(subtopology, ()):
            by_topic.setdefault(topic, set()).add(partition)
    return [
        Response.TopicPartition(topic=k, partitions=sorted(v)) for k, v in sorted(by_topic.items())
    ]


def _invalid(request: Request) -> str | None:
    """Kafka's throwIfStreamsGroupHeartbeatRequestIsInvalid, in its order and words."""
    if _blank(request.member_id) or not request.member_id:
        return "MemberId can't be empty."
    if _blank(request.group_id) or not request.group_id:
        return "GroupId can't be empty."
    if _blank(request.instance_id):
        return "InstanceId can't be empty."
    if _blank(request.rack_id):
        return "RackId can't be empty."
    epoch = request.member_epoch
    if epoch == JOIN_EPOCH:
        if request.rebalance_timeout_ms == -1:
            return "RebalanceTimeoutMs must be provided in first request."
        if request.topology is None:
            return "Topology must be non-empty when (re-)joining."
        if request.active_tasks is None or request.active_tasks:
            return "ActiveTasks must be empty when (re-)joining."
        if request.standby_tasks is None or request.standby_tasks:
            return "StandbyTasks must be empty when (re-)joining."
        if request.warmup_tasks is None or request.warmup_tasks:
            return "WarmupTasks must be empty when (re-)joining."
        if not request.process_id:
            return "ProcessId must be set when (re-)joining."
    elif epoch == LEAVE_STATIC_EPOCH:
        if request.instance_id is None:
            return "InstanceId can't be null."
    elif epoch < LEAVE_STATIC_EPOCH:
        return f"MemberEpoch is {epoch}, but must be greater than or equal to -2."
    listed = sum(
        len(x.partitions)
        for tasks in (request.active_tasks, request.standby_tasks, request.warmup_tasks)
        for x in tasks or ()
    )
    if listed > TASKS_MAX:
        return f"More than {TASKS_MAX} tasks."
    if request.topology is not None:
        return _invalid_topology(request.topology)
    return None


def _invalid_topology(topology: Request.Topology) -> str | None:
    """What the topology's shape cannot be: too big, duplicate ids, indexes of copartition
    groups outside their lists, negative partition counts."""
    if len(topology.subtopologies) > t.SUBTOPOLOGIES_MAX:
        return f"More than {t.SUBTOPOLOGIES_MAX} subtopologies."
    ids = [s.subtopology_id for s in topology.subtopologies]
    if len(set(ids)) != len(ids):
        return "Subtopology ids must be unique."
    for s in topology.subtopologies:
        infos = [*s.repartition_source_topics, *s.state_changelog_topics]
        topics = len(s.source_topics) + len(s.source_topic_regex) + len(infos)
        if topics > t.TOPICS_PER_SUBTOPOLOGY_MAX:
            limit = t.TOPICS_PER_SUBTOPOLOGY_MAX
            return f"More than {limit} topics in subtopology {s.subtopology_id}."
        if any(i.partitions < 0 for i in infos):
            return f"Subtopology {s.subtopology_id} has an internal topic with negative partitions."
        for g in s.copartition_groups:
            for indexes, bound in (
                (g.source_topics, len(s.source_topics)),
                (g.source_topic_regex, len(s.source_topic_regex)),
                (g.repartition_source_topics, len(s.repartition_source_topics)),
            ):
                if any(not 0 <= i < bound for i in indexes):
                    return (
                        f"Subtopology {s.subtopology_id} has a copartition group with an "
                        "index outside its topics."
                    )
    return None


def _blank(value: str | None) -> bool:
    return value is not None and not value.strip(_JAVA_WHITESPACE)


def _tasks(tasks: list[Request.TaskIds] | None) -> frozenset[TaskId] | None:
    if tasks is None:
        return None
    return frozenset((x.subtopology_id, p) for x in tasks for p in x.partitions)


def _topic_info(info: Request.TopicInfo) -> t.TopicInfo:
    return t.TopicInfo(
        name=info.name,
        partitions=info.partitions,
        replication_factor=info.replication_factor,
        configs=tuple((kv.key, kv.value) for kv in info.topic_configs),
    )


def _topology(topology: Request.Topology | None) -> t.Topology | None:
    if topology is None:
        return None
    return t.Topology(
        epoch=topology.epoch,
        subtopologies=tuple(
            t.Subtopology(
                subtopology_id=s.subtopology_id,
                source_topics=tuple(s.source_topics),
                source_topic_regex=tuple(s.source_topic_regex),
                repartition_sink_topics=tuple(s.repartition_sink_topics),
                repartition_source_topics=tuple(map(_topic_info, s.repartition_source_topics)),
                state_changelog_topics=tuple(map(_topic_info, s.state_changelog_topics)),
                copartition_groups=tuple(
                    t.CopartitionGroup(
                        tuple(g.source_topics),
                        tuple(g.source_topic_regex),
                        tuple(g.repartition_source_topics),
                    )
                    for g in s.copartition_groups
                ),
            )
            for s in topology.subtopologies
        ),
    )


def _heartbeat(request: Request, ctx: RequestContext) -> Heartbeat:
    endpoint = request.user_endpoint
    return Heartbeat(
        member_id=request.member_id,
        member_epoch=request.member_epoch,
        instance_id=request.instance_id,
        rack_id=request.rack_id,
        rebalance_timeout_ms=request.rebalance_timeout_ms,
        topology=_topology(request.topology),
        process_id=request.process_id,
        user_endpoint=(endpoint.host, endpoint.port) if endpoint is not None else None,
        client_tags=(
            tuple((kv.key, kv.value) for kv in request.client_tags)
            if request.client_tags is not None
            else None
        ),
        active=_tasks(request.active_tasks),
        standby=_tasks(request.standby_tasks),
        warmup=_tasks(request.warmup_tasks),
        shutdown_application=request.shutdown_application,
        client_id=ctx.client_id or "",
        client_host="/" + str(ctx.client_address[0]) if ctx.client_address else "",
    )


__all__ = ["MemberTasks", "StreamsGroupHeartbeatHandler"]
