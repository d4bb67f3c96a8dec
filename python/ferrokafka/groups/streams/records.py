"""A streams group's records on ``__consumer_offsets`` (Kafka's formats, KIP-1071): what
changed between two states of a group becomes records (:func:`changes`), and the records read
back at load rebuild the group (:class:`Replayer`).

Per group: StreamsGroupMetadata (group epoch), StreamsGroupTopology (the topology members
declared), StreamsGroupTargetAssignmentMetadata (assignment epoch); per member:
StreamsGroupMemberMetadata (process, endpoint, client), StreamsGroupTargetAssignmentMember
(its target tasks) and StreamsGroupCurrentMemberAssignment (epochs, reconciliation state,
current tasks). A removed member or group is a tombstone of each. The metadata hash of
StreamsGroupMetadata is 0 (ferrokafka re-resolves the topology against the topics at the
first heartbeat after a load instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from ferrokafka.groups.base import Record
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
from ferrokafka.groups.serde import encode_key, encode_value, record_type_of
from ferrokafka.groups.streams import topology as t
from ferrokafka.groups.streams.assignor import MemberTasks, TaskId
from ferrokafka.groups.streams.group import (
    MEMBER_STABLE,
    UNRELEASED_TASKS,
    UNREVOKED_TASKS,
    GroupConfig,
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


@dataclass(frozen=True)
class Snapshot:
    exists: bool
    group_epoch: int
    assignment_epoch: int
    topology: t.Topology | None
    members: Mapping[str, StreamsMember]
    target: Mapping[str, MemberTasks]


def snapshot(group: StreamsGroup, exists: bool = True) -> Snapshot:
    return Snapshot(
        exists=exists,
        group_epoch=group.group_epoch,
        assignment_epoch=group.assignment_epoch,
        topology=group.topology,
        members=dict(group.members),
        target=dict(group.target),
    )


def _record(key: Message, value: Message | None) -> Record:
    return encode_key(key), None if value is None else encode_value(value)


def _member_tombstones(gid: str, member_id: str) -> list[Record]:
    return [
        _record(StreamsGroupCurrentMemberAssignmentKey(group_id=gid, member_id=member_id), None),
        _record(StreamsGroupTargetAssignmentMemberKey(group_id=gid, member_id=member_id), None),
        _record(StreamsGroupMemberMetadataKey(group_id=gid, member_id=member_id), None),
    ]


def _metadata_fields(x: StreamsMember) -> tuple:
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


def _current_fields(x: StreamsMember) -> tuple:
    return (x.member_epoch, x.previous_member_epoch, x.state, x.assigned, x.pending_revocation)


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


def changes(before: Snapshot, group: StreamsGroup) -> list[Record]:
    """The records that take the log from ``before`` to the group's present state, in the
    order Kafka writes them (members, group epoch, topology, targets, current assignments)."""
    gid = group.group_id
    out: list[Record] = []
    for member_id in before.members.keys() - group.members.keys():
        out += _member_tombstones(gid, member_id)
    for x in group.members.values():
        old = before.members.get(x.member_id)
        if old is x:
            continue
        if old is None or _metadata_fields(old) != _metadata_fields(x):
            out.append(
                _record(
                    StreamsGroupMemberMetadataKey(group_id=gid, member_id=x.member_id),
                    MemberValue(
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
                        client_tags=[
                            MemberValue.KeyValue(key=k, value=v) for k, v in x.client_tags
                        ],
                    ),
                )
            )
    if not before.exists or before.group_epoch != group.group_epoch:
        out.append(
            _record(
                StreamsGroupMetadataKey(group_id=gid),
                StreamsGroupMetadataValue(epoch=group.group_epoch, metadata_hash=0),
            )
        )
    if group.topology is not None and (not before.exists or before.topology != group.topology):
        out.append(_record(StreamsGroupTopologyKey(group_id=gid), _topology_value(group.topology)))
    for member_id, tasks in group.target.items():
        if before.target.get(member_id) == tasks and member_id in before.members:
            continue
        out.append(
            _record(
                StreamsGroupTargetAssignmentMemberKey(group_id=gid, member_id=member_id),
                TargetValue(
                    active_tasks=_task_ids(TargetValue.TaskIds, tasks.active),
                    standby_tasks=_task_ids(TargetValue.TaskIds, tasks.standby),
                    warmup_tasks=_task_ids(TargetValue.TaskIds, tasks.warmup),
                ),
            )
        )
    if before.assignment_epoch != group.assignment_epoch or not before.exists:
        out.append(
            _record(
                StreamsGroupTargetAssignmentMetadataKey(group_id=gid),
                StreamsGroupTargetAssignmentMetadataValue(assignment_epoch=group.assignment_epoch),
            )
        )
    for x in group.members.values():
        old = before.members.get(x.member_id)
        if old is x or (old is not None and _current_fields(old) == _current_fields(x)):
            continue
        out.append(
            _record(
                StreamsGroupCurrentMemberAssignmentKey(group_id=gid, member_id=x.member_id),
                CurrentValue(
                    member_epoch=x.member_epoch,
                    previous_member_epoch=x.previous_member_epoch,
                    state=STATE_CODES[x.state],
                    active_tasks=_task_ids(CurrentValue.TaskIds, x.assigned.active),
                    standby_tasks=_task_ids(CurrentValue.TaskIds, x.assigned.standby),
                    warmup_tasks=_task_ids(CurrentValue.TaskIds, x.assigned.warmup),
                    active_tasks_pending_revocation=_task_ids(
                        CurrentValue.TaskIds, x.pending_revocation
                    ),
                ),
            )
        )
    return out


def group_tombstones(group: StreamsGroup) -> list[Record]:
    gid = group.group_id
    out: list[Record] = []
    for member_id in group.members:
        out += _member_tombstones(gid, member_id)
    out.append(_record(StreamsGroupTargetAssignmentMetadataKey(group_id=gid), None))
    out.append(_record(StreamsGroupTopologyKey(group_id=gid), None))
    out.append(_record(StreamsGroupMetadataKey(group_id=gid), None))
    return out


class Replayer:
    """Rebuilds streams groups from their records at load, through the coordinator's map;
    ``member_loaded`` hears of every member put back (to start its session timer)."""

    def __init__(
        self,
        get_group: Callable[[str], object],
        add_group: Callable[[StreamsGroup], None],
        remove_group: Callable[[str], object],
        config: Callable[[str], GroupConfig],
        member_loaded: Callable[[StreamsGroup, str], None],
    ) -> None:
        self._get = get_group
        self._add = add_group
        self._remove = remove_group
        self._config = config
        self._member_loaded = member_loaded

    def record_types(self) -> dict[int, Callable[[Message, Message | None], None]]:
        return {
            record_type_of(StreamsGroupMetadataKey()): self.group_metadata,
            record_type_of(StreamsGroupTopologyKey()): self.topology,
            record_type_of(StreamsGroupMemberMetadataKey()): self.member_metadata,
            record_type_of(StreamsGroupTargetAssignmentMetadataKey()): self.target_metadata,
            record_type_of(StreamsGroupTargetAssignmentMemberKey()): self.target_member,
            record_type_of(StreamsGroupCurrentMemberAssignmentKey()): self.current_assignment,
        }

    def _group(self, group_id: str, create: bool) -> StreamsGroup | None:
        group = self._get(group_id)
        if isinstance(group, StreamsGroup):
            return group
        if not create:
            return None
        if group is not None:
            self._remove(group_id)  # a streams group's record after another kind's
        new = StreamsGroup(group_id, self._config(group_id))
        self._add(new)
        return new

    def _create(self, group_id: str) -> StreamsGroup:
        group = self._group(group_id, create=True)
        assert group is not None
        return group

    def group_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, StreamsGroupMetadataKey)
        if value is None:
            group = self._group(key.group_id, create=False)
            if group is not None:
                self._remove(key.group_id)
                group.on_deleted()
            return
        assert isinstance(value, StreamsGroupMetadataValue)
        self._create(key.group_id).group_epoch = value.epoch

    def topology(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, StreamsGroupTopologyKey)
        if value is not None:
            assert isinstance(value, TopologyValue)
            self._create(key.group_id).topology = topology_of(value)

    def member_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, StreamsGroupMemberMetadataKey)
        if value is None:
            existing = self._group(key.group_id, create=False)
            if existing is not None:
                existing.restore_member(key.member_id, None)
            return
        assert isinstance(value, MemberValue)
        group = self._create(key.group_id)
        old = group.members.get(key.member_id) or StreamsMember(member_id=key.member_id)
        endpoint = value.user_endpoint
        group.restore_member(
            key.member_id,
            replace(
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
            ),
        )
        self._member_loaded(group, key.member_id)

    def target_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, StreamsGroupTargetAssignmentMetadataKey)
        if value is not None:
            assert isinstance(value, StreamsGroupTargetAssignmentMetadataValue)
            self._create(key.group_id).assignment_epoch = value.assignment_epoch

    def target_member(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, StreamsGroupTargetAssignmentMemberKey)
        if value is None:
            existing = self._group(key.group_id, create=False)
            if existing is not None:
                existing.target.pop(key.member_id, None)
            return
        assert isinstance(value, TargetValue)
        self._create(key.group_id).target[key.member_id] = MemberTasks(
            _tasks(value.active_tasks), _tasks(value.standby_tasks), _tasks(value.warmup_tasks)
        )

    def current_assignment(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, StreamsGroupCurrentMemberAssignmentKey)
        if value is None:
            return  # the member's metadata tombstone that follows removes it
        assert isinstance(value, CurrentValue)
        group = self._create(key.group_id)
        old = group.members.get(key.member_id) or StreamsMember(member_id=key.member_id)
        group.restore_member(
            key.member_id,
            replace(
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
            ),
        )
