"""A share group's records on ``__consumer_offsets`` (Kafka's ShareGroup* formats, record
types 10-15): :func:`changes` turns the difference between two states of a group into
records, :class:`Replayer` rebuilds groups from them at load.

Per group: ShareGroupMetadata (group epoch), ShareGroupTargetAssignmentMetadata (assignment
epoch), ShareGroupStatePartitionMetadata (the share-partitions whose state was initialized);
per member: ShareGroupMemberMetadata, ShareGroupTargetAssignmentMember,
ShareGroupCurrentMemberAssignment. A removed member or group is a tombstone of each. The
metadata hash of ShareGroupMetadata is ours (as the consumer groups'), not Kafka's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ferrokafka.groups.base import Record
from ferrokafka.groups.records import (
    ShareGroupCurrentMemberAssignmentKey,
    ShareGroupCurrentMemberAssignmentValue,
    ShareGroupMemberMetadataKey,
    ShareGroupMemberMetadataValue,
    ShareGroupMetadataKey,
    ShareGroupMetadataValue,
    ShareGroupStatePartitionMetadataKey,
    ShareGroupStatePartitionMetadataValue,
    ShareGroupTargetAssignmentMemberKey,
    ShareGroupTargetAssignmentMemberValue,
    ShareGroupTargetAssignmentMetadataKey,
    ShareGroupTargetAssignmentMetadataValue,
)
from ferrokafka.groups.serde import encode_key, encode_value, record_type_of
from ferrokafka.groups.share.group import (
    ShareGroup,
    ShareGroupConfig,
    ShareMember,
    metadata_hash,
)
from ferrokafka.protocol.schema import Message

# Kafka's MemberState.STABLE: a share member is always stable.
STABLE_STATE = 2
CurrentValue = ShareGroupCurrentMemberAssignmentValue
TargetValue = ShareGroupTargetAssignmentMemberValue
StateValue = ShareGroupStatePartitionMetadataValue


@dataclass(frozen=True)
class Snapshot:
    exists: bool
    group_epoch: int
    assignment_epoch: int
    subscribed_metadata: Mapping[str, tuple[uuid.UUID, int]]
    members: Mapping[str, ShareMember]
    target: Mapping[str, object]
    initialized: Mapping[uuid.UUID, frozenset[int]]


def snapshot(group: ShareGroup, exists: bool = True) -> Snapshot:
    return Snapshot(
        exists,
        group.group_epoch,
        group.assignment_epoch,
        dict(group.subscribed_metadata),
        dict(group.members),
        dict(group.target),
        dict(group.initialized),
    )


def _record(key: Message, value: Message | None) -> Record:
    return encode_key(key), None if value is None else encode_value(value)


def _metadata_hash(group: ShareGroup) -> int:
    return metadata_hash(group.subscribed_metadata)


def _member_tombstones(gid: str, member_id: str) -> list[Record]:
    return [
        _record(ShareGroupCurrentMemberAssignmentKey(group_id=gid, member_id=member_id), None),
        _record(ShareGroupTargetAssignmentMemberKey(group_id=gid, member_id=member_id), None),
        _record(ShareGroupMemberMetadataKey(group_id=gid, member_id=member_id), None),
    ]


def changes(before: Snapshot, group: ShareGroup) -> list[Record]:
    gid = group.group_id
    out: list[Record] = []
    for member_id in before.members.keys() - group.members.keys():
        out += _member_tombstones(gid, member_id)
    for x in group.members.values():
        old = before.members.get(x.member_id)
        if old is None or (
            old.rack_id,
            old.client_id,
            old.client_host,
            old.subscribed_topic_names,
        ) != (
            x.rack_id,
            x.client_id,
            x.client_host,
            x.subscribed_topic_names,
        ):
            out.append(
                _record(
                    ShareGroupMemberMetadataKey(group_id=gid, member_id=x.member_id),
                    ShareGroupMemberMetadataValue(
                        rack_id=x.rack_id,
                        client_id=x.client_id,
                        client_host=x.client_host,
                        subscribed_topic_names=list(x.subscribed_topic_names),
                    ),
                )
            )
    if (
        not before.exists
        or before.group_epoch != group.group_epoch
        or before.subscribed_metadata != group.subscribed_metadata
    ):
        out.append(
            _record(
                ShareGroupMetadataKey(group_id=gid),
                ShareGroupMetadataValue(
                    epoch=group.group_epoch, metadata_hash=_metadata_hash(group)
                ),
            )
        )
    for member_id, parts in group.target.items():
        if before.target.get(member_id) != parts or member_id not in before.members:
            out.append(
                _record(
                    ShareGroupTargetAssignmentMemberKey(group_id=gid, member_id=member_id),
                    TargetValue(
                        topic_partitions=[
                            TargetValue.TopicPartition(topic_id=t, partitions=sorted(ps))
                            for t, ps in sorted(parts.items(), key=str)
                        ]
                    ),
                )
            )
    if before.assignment_epoch != group.assignment_epoch or not before.exists:
        out.append(
            _record(
                ShareGroupTargetAssignmentMetadataKey(group_id=gid),
                ShareGroupTargetAssignmentMetadataValue(assignment_epoch=group.assignment_epoch),
            )
        )
    for x in group.members.values():
        old = before.members.get(x.member_id)
        if old is None or (old.member_epoch, old.previous_member_epoch, old.assigned) != (
            x.member_epoch,
            x.previous_member_epoch,
            x.assigned,
        ):
            out.append(
                _record(
                    ShareGroupCurrentMemberAssignmentKey(group_id=gid, member_id=x.member_id),
                    CurrentValue(
                        member_epoch=x.member_epoch,
                        previous_member_epoch=x.previous_member_epoch,
                        state=STABLE_STATE,
                        assigned_partitions=[
                            CurrentValue.TopicPartitions(topic_id=t, partitions=sorted(ps))
                            for t, ps in sorted(x.assigned.items(), key=str)
                        ],
                    ),
                )
            )
    if before.initialized != group.initialized:
        out.append(state_metadata(group))
    return out


def state_metadata(group: ShareGroup) -> Record:
    return _record(
        ShareGroupStatePartitionMetadataKey(group_id=group.group_id),
        StateValue(
            initialized_topics=[
                StateValue.TopicPartitionsInfo(
                    topic_id=t, topic_name=group.topic_names.get(t, ""), partitions=sorted(ps)
                )
                for t, ps in sorted(group.initialized.items(), key=str)
            ]
        ),
    )


def group_tombstones(group: ShareGroup) -> list[Record]:
    gid = group.group_id
    out: list[Record] = []
    for member_id in group.members:
        out += _member_tombstones(gid, member_id)
    out.append(_record(ShareGroupTargetAssignmentMetadataKey(group_id=gid), None))
    out.append(_record(ShareGroupStatePartitionMetadataKey(group_id=gid), None))
    out.append(_record(ShareGroupMetadataKey(group_id=gid), None))
    return out


class Replayer:
    """Rebuilds share groups from their records at load."""

    def __init__(
        self,
        get_group: Callable[[str], object],
        add_group: Callable[[ShareGroup], None],
        remove_group: Callable[[str], object],
        config: Callable[[str], ShareGroupConfig],
        member_loaded: Callable[[ShareGroup, str], None],
    ) -> None:
        self._get = get_group
        self._add = add_group
        self._remove = remove_group
        self._config = config
        self._member_loaded = member_loaded

    def record_types(self) -> dict[int, Callable[[Message, Message | None], None]]:
        return {
            record_type_of(ShareGroupMetadataKey()): self.group_metadata,
            record_type_of(ShareGroupMemberMetadataKey()): self.member_metadata,
            record_type_of(ShareGroupTargetAssignmentMetadataKey()): self.target_metadata,
            record_type_of(ShareGroupTargetAssignmentMemberKey()): self.target_member,
            record_type_of(ShareGroupCurrentMemberAssignmentKey()): self.current_assignment,
            record_type_of(ShareGroupStatePartitionMetadataKey()): self.state_partitions,
        }

    def _group(self, group_id: str, create: bool) -> ShareGroup | None:
        group = self._get(group_id)
        if isinstance(group, ShareGroup):
            return group
        if not create or group is not None:
            return None
        group = ShareGroup(group_id, self._config(group_id))
        self._add(group)
        return group

    def group_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ShareGroupMetadataKey)
        if value is None:
            group = self._group(key.group_id, create=False)
            if group is not None:
                self._remove(key.group_id)
                group.on_deleted()
            return
        assert isinstance(value, ShareGroupMetadataValue)
        group = self._group(key.group_id, create=True)
        if group is not None:
            group.group_epoch = value.epoch
            group.restored_metadata_hash = value.metadata_hash

    def member_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ShareGroupMemberMetadataKey)
        group = self._group(key.group_id, create=value is not None)
        if group is None:
            return
        if value is None:
            group.restore_member(key.member_id, None)
            return
        assert isinstance(value, ShareGroupMemberMetadataValue)
        old = group.members.get(key.member_id) or ShareMember(key.member_id)
        group.restore_member(
            key.member_id,
            replace(
                old,
                rack_id=value.rack_id,
                client_id=value.client_id,
                client_host=value.client_host,
                subscribed_topic_names=tuple(value.subscribed_topic_names),
            ),
        )
        self._member_loaded(group, key.member_id)

    def target_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ShareGroupTargetAssignmentMetadataKey)
        if value is not None:
            assert isinstance(value, ShareGroupTargetAssignmentMetadataValue)
            group = self._group(key.group_id, create=True)
            if group is not None:
                group.assignment_epoch = value.assignment_epoch

    def target_member(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ShareGroupTargetAssignmentMemberKey)
        group = self._group(key.group_id, create=value is not None)
        if group is None:
            return
        if value is None:
            group.target.pop(key.member_id, None)
            return
        assert isinstance(value, TargetValue)
        group.target[key.member_id] = {
            tp.topic_id: frozenset(tp.partitions) for tp in value.topic_partitions
        }

    def current_assignment(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ShareGroupCurrentMemberAssignmentKey)
        if value is None:
            return
        assert isinstance(value, CurrentValue)
        group = self._group(key.group_id, create=True)
        if group is None:
            return
        old = group.members.get(key.member_id) or ShareMember(key.member_id)
        group.restore_member(
            key.member_id,
            replace(
                old,
                member_epoch=value.member_epoch,
                previous_member_epoch=value.previous_member_epoch,
                assigned={
                    tp.topic_id: frozenset(tp.partitions)
                    for tp in value.assigned_partitions
                    if tp.partitions
                },
            ),
        )

    def state_partitions(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ShareGroupStatePartitionMetadataKey)
        group = self._group(key.group_id, create=False)
        if group is None:
            return
        if value is None:
            group.initialized = {}
            return
        assert isinstance(value, StateValue)
        group.initialized = {t.topic_id: frozenset(t.partitions) for t in value.initialized_topics}
        for t in value.initialized_topics:
            group.topic_names[t.topic_id] = t.topic_name
