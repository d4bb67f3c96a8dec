"""A streams group's records on ``__consumer_offsets`` (Kafka's formats, KIP-1071): what
changed between two states of a group becomes records (:func:`changes`), and the records read
back at load rebuild the group (:class:`Replayer`); the mechanism is
:mod:`~ferrokafka.groups.member_records`', this module says what the streams records hold.

Per group: StreamsGroupMetadata (group epoch), StreamsGroupTopology (the topology members
declared), StreamsGroupTargetAssignmentMetadata (assignment epoch); per member:
StreamsGroupMemberMetadata (process, endpoint, client), StreamsGroupTargetAssignmentMember
(its target tasks) and StreamsGroupCurrentMemberAssignment (epochs, reconciliation state,
current tasks). A removed member or group is a tombstone of each. The metadata hash of
StreamsGroupMetadata is 0 (ferrokafka re-resolves the topology against the topics at the
first heartbeat after a load instead).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ferrokafka.groups import member_records as mr
from ferrokafka.groups.base import Record
from ferrokafka.groups.member_records import Snapshot
from ferrokafka.groups.records import (
    StreamsGroupCurrentMemberAssignmentKey,
    StreamsGroupCurrentMemberAssignmentValue,
    StreamsGroupMemberMetadataKey,
    StreamsGroupMemberMetadataValue,
    StreamsGroupMetadataKey,
    StreamsGroupMetadataValue,
    StreamsGroupTargetAssignmentMemberKey,
    StreamsGroupTargetAssignmentMemberValue,
    StreamsGroupTargetAssignmentMetadataKey,
    StreamsGroupTargetAssignmentMetadataValue,
    StreamsGroupTopologyKey,
    StreamsGroupTopologyValue,
)
from ferrokafka.groups.streams import topology as t
from ferrokafka.groups.streams.assignor import MemberTasks, TaskId
from ferrokafka.groups.streams.group import (
    MEMBER_STABLE,
    UNRELEASED_TASKS,
    UNREVOKED_TASKS,
    StreamsGroup,
    StreamsMember,
)
from ferrokafka.protocol.schema import Message

# Kafka's MemberState byte values (StreamsGroupCurrentMemberAssignmentValue.state).
STATE_CODES = {UNREVOKED_TASKS: 0, UNRELEASED_TASKS: 1, MEMBER_STABLE: 2}
STATES = {code: state for state, code in STATE_CODES.items()}

CurrentValue = StreamsGroupCurrentMemberAssignmentValue
TargetValue = StreamsGroupTargetAssignmentMemberValue
TopologyValue = StreamsGroupTopologyValue
MemberValue = StreamsGroupMemberMetadataValue


def _task_ids(cls: type, tasks: Iterable[TaskId]) -> list:
    by_subtopology: dict[str, list[int]] = {}
    for subtopology, partition in tasks:
        by_subtopology.setdefault(subtopology, []).append(partition)
    return [cls(subtopology_id=s, partitions=sorted(p)) for s, p in sorted(by_subtopology.items())]


def _tasks(task_ids: list) -> frozenset[TaskId]:
    return frozenset((x.subtopology_id, p) for x in task_ids for p in x.partitions)


def _topology_value(topology: t.Topology) -> TopologyValue:
    def info(i: t.TopicInfo) -> TopologyValue.TopicInfo:
        return TopologyValue.TopicInfo(
            name=i.name,
            partitions=i.partitions,
            replication_factor=i.replication_factor,
            topic_configs=[TopologyValue.TopicConfig(key=k, value=v) for k, v in i.configs],
        )

    return TopologyValue(
        epoch=topology.epoch,
        subtopologies=[
            TopologyValue.Subtopology(
                subtopology_id=s.subtopology_id,
                source_topics=list(s.source_topics),
                source_topic_regex=list(s.source_topic_regex),
                state_changelog_topics=[info(i) for i in s.state_changelog_topics],
                repartition_sink_topics=list(s.repartition_sink_topics),
                repartition_source_topics=[info(i) for i in s.repartition_source_topics],
                copartition_groups=[
                    TopologyValue.CopartitionGroup(
                        source_topics=list(g.source_topics),
                        source_topic_regex=list(g.source_topic_regex),
                        repartition_source_topics=list(g.repartition_source_topics),
                    )
                    for g in s.copartition_groups
                ],
            )
            for s in topology.subtopologies
        ],
    )


def topology_of(value: TopologyValue) -> t.Topology:
    def info(i: TopologyValue.TopicInfo) -> t.TopicInfo:
        return t.TopicInfo(
            i.name,
            i.partitions,
            i.replication_factor,
            tuple((c.key, c.value) for c in i.topic_configs),
        )

    return t.Topology(
        epoch=value.epoch,
        subtopologies=tuple(
            t.Subtopology(
                subtopology_id=s.subtopology_id,
                source_topics=tuple(s.source_topics),
                source_topic_regex=tuple(s.source_topic_regex),
                repartition_sink_topics=tuple(s.repartition_sink_topics),
                repartition_source_topics=tuple(info(i) for i in s.repartition_source_topics),
                state_changelog_topics=tuple(info(i) for i in s.state_changelog_topics),
                copartition_groups=tuple(
                    t.CopartitionGroup(
                        tuple(g.source_topics),
                        tuple(g.source_topic_regex),
                        tuple(g.repartition_source_topics),
                    )
                    for g in s.copartition_groups
                ),
            )
            for s in value.subtopologies
        ),
    )


class StreamsRecords(mr.GroupRecords[StreamsGroup]):
    group_type = StreamsGroup
    metadata_key = StreamsGroupMetadataKey
    member_key = StreamsGroupMemberMetadataKey
    target_metadata_key = StreamsGroupTargetAssignmentMetadataKey
    target_metadata_value = StreamsGroupTargetAssignmentMetadataValue
    target_member_key = StreamsGroupTargetAssignmentMemberKey
    current_key = StreamsGroupCurrentMemberAssignmentKey
    group_keys = (
        StreamsGroupTargetAssignmentMetadataKey,
        StreamsGroupTopologyKey,
        StreamsGroupMetadataKey,
    )

    def group_state(self, group: StreamsGroup) -> t.Topology | None:
        return group.topology

    def group_records(self, before: Snapshot, group: StreamsGroup) -> list[Record]:
        """The group epoch, then the topology when it changed."""
        gid = group.group_id
        out: list[Record] = []
        if not before.exists or before.group_epoch != group.group_epoch:
            value = StreamsGroupMetadataValue(epoch=group.group_epoch, metadata_hash=0)
            out.append(mr.record(StreamsGroupMetadataKey(group_id=gid), value))
        if group.topology is not None and (not before.exists or before.state != group.topology):
            out.append(
                mr.record(StreamsGroupTopologyKey(group_id=gid), _topology_value(group.topology))
            )
        return out

    def metadata_fields(self, x: StreamsMember) -> tuple:
        return (
            x.instance_id,
            x.rack_id,
            x.client_id,
            x.client_host,
            x.rebalance_timeout_ms,
            x.topology_epoch,
            x.process_id,
            x.user_endpoint,
            x.client_tags,
        )

    def member_value(self, x: StreamsMember) -> Message:
        return MemberValue(
            instance_id=x.instance_id,
            rack_id=x.rack_id,
            client_id=x.client_id,
            client_host=x.client_host,
            rebalance_timeout_ms=x.rebalance_timeout_ms,
            topology_epoch=x.topology_epoch,
            process_id=x.process_id,
            user_endpoint=(
                MemberValue.Endpoint(host=x.user_endpoint[0], port=x.user_endpoint[1])
                if x.user_endpoint is not None
                else None
            ),
            client_tags=[MemberValue.KeyValue(key=k, value=v) for k, v in x.client_tags],
        )

    def target_value(self, tasks: MemberTasks) -> Message:
        return TargetValue(
            active_tasks=_task_ids(TargetValue.TaskIds, tasks.active),
            standby_tasks=_task_ids(TargetValue.TaskIds, tasks.standby),
            warmup_tasks=_task_ids(TargetValue.TaskIds, tasks.warmup),
        )

    def current_value(self, x: StreamsMember) -> Message:
        return CurrentValue(
            member_epoch=x.member_epoch,
            previous_member_epoch=x.previous_member_epoch,
            state=STATE_CODES[x.state],
            active_tasks=_task_ids(CurrentValue.TaskIds, x.assigned.active),
            standby_tasks=_task_ids(CurrentValue.TaskIds, x.assigned.standby),
            warmup_tasks=_task_ids(CurrentValue.TaskIds, x.assigned.warmup),
            active_tasks_pending_revocation=_task_ids(CurrentValue.TaskIds, x.pending_revocation),
        )

    def new_member(self, member_id: str) -> StreamsMember:
        return StreamsMember(member_id=member_id)

    def other_record_types(self, replayer: mr.Replayer) -> dict[type, mr.Replay]:
        def topology(key: Message, value: Message | None) -> None:
            assert isinstance(key, StreamsGroupTopologyKey)
            if value is not None:
                assert isinstance(value, TopologyValue)
                replayer.create(key.group_id).topology = topology_of(value)

        return {StreamsGroupTopologyKey: topology}

    def member_from(self, old: StreamsMember, value: Message) -> StreamsMember:
        assert isinstance(value, MemberValue)
        endpoint = value.user_endpoint
        return replace(
            old,
            instance_id=value.instance_id or None,
            rack_id=value.rack_id or None,
            client_id=value.client_id,
            client_host=value.client_host,
            rebalance_timeout_ms=value.rebalance_timeout_ms,
            topology_epoch=value.topology_epoch,
            process_id=value.process_id,
            user_endpoint=(endpoint.host, endpoint.port) if endpoint is not None else None,
            client_tags=tuple((kv.key, kv.value) for kv in value.client_tags),
        )

    def target_from(self, value: Message) -> MemberTasks:
        assert isinstance(value, TargetValue)
        return MemberTasks(
            _tasks(value.active_tasks), _tasks(value.standby_tasks), _tasks(value.warmup_tasks)
        )

    def current_from(self, old: StreamsMember, value: Message) -> StreamsMember:
        assert isinstance(value, CurrentValue)
        return replace(
            old,
            member_epoch=value.member_epoch,
            previous_member_epoch=value.previous_member_epoch,
            state=STATES.get(value.state, MEMBER_STABLE),
            assigned=MemberTasks(
                _tasks(value.active_tasks),
                _tasks(value.standby_tasks),
                _tasks(value.warmup_tasks),
            ),
            pending_revocation=_tasks(value.active_tasks_pending_revocation),
        )


RECORDS = StreamsRecords()


# What the service, the group and the tests use.
snapshot, changes, group_tombstones = RECORDS.snapshot, RECORDS.changes, RECORDS.group_tombstones
Replayer = RECORDS.replayer
