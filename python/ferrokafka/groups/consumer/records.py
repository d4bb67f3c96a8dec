"""A consumer group's records on ``__consumer_offsets`` (Kafka's formats): what changed
between two states of a group becomes records (:func:`changes`), and the records read back at
load rebuild the group (:class:`Replayer`).

Per group: ConsumerGroupMetadata (group epoch), ConsumerGroupTargetAssignmentMetadata
(assignment epoch); per member: ConsumerGroupMemberMetadata (subscription, client),
ConsumerGroupTargetAssignmentMember (its target partitions) and
ConsumerGroupCurrentMemberAssignment (epochs, reconciliation state, current partitions). A
removed member or group is a tombstone of each. ConsumerGroupPartitionMetadata is not written,
as Kafka 4.x no longer does: the metadata hash in ConsumerGroupMetadata stands for it (ours is
a SHA-256 of the subscribed topics' names, ids and partition counts, not Kafka's hash).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ferrokafka.groups.base import Record
from ferrokafka.groups.consumer import member as m
from ferrokafka.groups.consumer.group import ConsumerGroup, GroupConfig, metadata_hash
from ferrokafka.groups.records import (
    ConsumerGroupCurrentMemberAssignmentKey,
    ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupMemberMetadataKey,
    ConsumerGroupMemberMetadataValue,
    ConsumerGroupMetadataKey,
    ConsumerGroupMetadataValue,
    ConsumerGroupTargetAssignmentMemberKey,
    ConsumerGroupTargetAssignmentMemberValue,
    ConsumerGroupTargetAssignmentMetadataKey,
    ConsumerGroupTargetAssignmentMetadataValue,
)
from ferrokafka.groups.serde import encode_key, encode_value, record_type_of
from ferrokafka.protocol.schema import Message

# Kafka's MemberState byte values in ConsumerGroupCurrentMemberAssignmentValue.state.
STATE_CODES = {m.UNREVOKED_PARTITIONS: 0, m.UNRELEASED_PARTITIONS: 1, m.STABLE: 2}
STATES = {code: state for state, code in STATE_CODES.items()}

CurrentValue = ConsumerGroupCurrentMemberAssignmentValue
TargetValue = ConsumerGroupTargetAssignmentMemberValue


@dataclass(frozen=True)
class Snapshot:
    """What records are derived from, taken before a change."""

    exists: bool
    group_epoch: int
    subscribed_metadata: Mapping[str, tuple[uuid.UUID, int]]
    assignment_epoch: int
    members: Mapping[str, m.ConsumerMember]
    target: Mapping[str, m.TopicAssignment]


def snapshot(group: ConsumerGroup, exists: bool = True) -> Snapshot:
    """Members are immutable, so copying the maps is a full copy."""
    return Snapshot(
        exists=exists,
        group_epoch=group.group_epoch,
        subscribed_metadata=group.subscribed_metadata,
        assignment_epoch=group.assignment_epoch,
        members=dict(group.members),
        target=dict(group.target),
    )


def _record(key: Message, value: Message | None) -> Record:
    return encode_key(key), None if value is None else encode_value(value)


def _metadata_fields(x: m.ConsumerMember) -> tuple:
    return (
        x.instance_id,
        x.rack_id,
        x.client_id,
        x.client_host,
        x.subscribed_topic_names,
        x.subscribed_topic_regex,
        x.rebalance_timeout_ms,
        x.server_assignor,
    )


def _current_fields(x: m.ConsumerMember) -> tuple:
    return (x.member_epoch, x.previous_member_epoch, x.state, x.assigned, x.pending_revocation)


def changes(before: Snapshot, group: ConsumerGroup) -> list[Record]:
    """The records that take the log from ``before`` to the group's present state, in the
    order Kafka writes them (member, group epoch, target assignment, current assignment)."""
    gid = group.group_id
    out: list[Record] = []
    for member_id in before.members.keys() - group.members.keys():
        out += [
            _record(
                ConsumerGroupCurrentMemberAssignmentKey(group_id=gid, member_id=member_id), None
            ),
            _record(
                ConsumerGroupTargetAssignmentMemberKey(group_id=gid, member_id=member_id), None
            ),
            _record(ConsumerGroupMemberMetadataKey(group_id=gid, member_id=member_id), None),
        ]
    # Members are immutable: one that is the same object as before has not changed.
    for x in group.members.values():
        old = before.members.get(x.member_id)
        if old is x:
            continue
        if old is None or _metadata_fields(old) != _metadata_fields(x):
            out.append(
                _record(
                    ConsumerGroupMemberMetadataKey(group_id=gid, member_id=x.member_id),
                    ConsumerGroupMemberMetadataValue(
                        instance_id=x.instance_id,
                        rack_id=x.rack_id,
                        client_id=x.client_id,
                        client_host=x.client_host,
                        subscribed_topic_names=list(x.subscribed_topic_names),
                        subscribed_topic_regex=x.subscribed_topic_regex,
                        rebalance_timeout_ms=x.rebalance_timeout_ms,
                        server_assignor=x.server_assignor,
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
                ConsumerGroupMetadataKey(group_id=gid),
                ConsumerGroupMetadataValue(
                    epoch=group.group_epoch, metadata_hash=metadata_hash(group)
                ),
            )
        )
    # Every target that changed, also without a new assignment epoch (a static member that
    # came back under a new member id takes over its predecessor's target).
    for member_id, parts in group.target.items():
        if before.target.get(member_id) is parts and member_id in before.members:
            continue
        if before.target.get(member_id) != parts or member_id not in before.members:
            out.append(
                _record(
                    ConsumerGroupTargetAssignmentMemberKey(group_id=gid, member_id=member_id),
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
                ConsumerGroupTargetAssignmentMetadataKey(group_id=gid),
                ConsumerGroupTargetAssignmentMetadataValue(assignment_epoch=group.assignment_epoch),
            )
        )
    for x in group.members.values():
        old = before.members.get(x.member_id)
        if old is x:
            continue
        if old is None or _current_fields(old) != _current_fields(x):
            out.append(
                _record(
                    ConsumerGroupCurrentMemberAssignmentKey(group_id=gid, member_id=x.member_id),
                    CurrentValue(
                        member_epoch=x.member_epoch,
                        previous_member_epoch=x.previous_member_epoch,
                        state=STATE_CODES[x.state],
                        assigned_partitions=_current_parts(x.assigned),
                        partitions_pending_revocation=_current_parts(x.pending_revocation),
                    ),
                )
            )
    return out


def _current_parts(parts: m.TopicAssignment) -> list:
    return [
        CurrentValue.TopicPartitions(topic_id=t, partitions=sorted(ps))
        for t, ps in sorted(parts.items(), key=str)
    ]


def group_tombstones(group: ConsumerGroup) -> list[Record]:
    gid = group.group_id
    out: list[Record] = []
    for member_id in group.members:
        out += [
            _record(
                ConsumerGroupCurrentMemberAssignmentKey(group_id=gid, member_id=member_id), None
            ),
            _record(
                ConsumerGroupTargetAssignmentMemberKey(group_id=gid, member_id=member_id), None
            ),
            _record(ConsumerGroupMemberMetadataKey(group_id=gid, member_id=member_id), None),
        ]
    out.append(_record(ConsumerGroupTargetAssignmentMetadataKey(group_id=gid), None))
    out.append(_record(ConsumerGroupMetadataKey(group_id=gid), None))
    return out


class Replayer:
    """Rebuilds consumer groups from their records at load, through the coordinator's map.

    ``get_group``/``add_group``/``remove_group`` are the coordinator's; ``config`` gives the
    group config of a new group; ``member_loaded`` hears of every member put back (to start
    its session timer).
    """

    def __init__(
        self,
        get_group: Callable[[str], object],
        add_group: Callable[[ConsumerGroup], None],
        remove_group: Callable[[str], object],
        config: Callable[[], GroupConfig],
        member_loaded: Callable[[ConsumerGroup, str], None] = lambda group, member_id: None,
    ) -> None:
        self._get = get_group
        self._add = add_group
        self._remove = remove_group
        self._config = config
        self._member_loaded = member_loaded

    def record_types(self) -> dict[int, Callable[[Message, Message | None], None]]:
        return {
            record_type_of(ConsumerGroupMetadataKey()): self.group_metadata,
            record_type_of(ConsumerGroupMemberMetadataKey()): self.member_metadata,
            record_type_of(ConsumerGroupTargetAssignmentMetadataKey()): self.target_metadata,
            record_type_of(ConsumerGroupTargetAssignmentMemberKey()): self.target_member,
            record_type_of(ConsumerGroupCurrentMemberAssignmentKey()): self.current_assignment,
        }

    def _group(self, group_id: str, create: bool) -> ConsumerGroup | None:
        group = self._get(group_id)
        if isinstance(group, ConsumerGroup):
            return group
        if group is not None:
            if not create:
                return None
            # A consumer group record after a classic group's: the group was converted.
            self._remove(group_id)
        if not create:
            return None
        group = ConsumerGroup(group_id, self._config())
        self._add(group)
        return group

    def _create(self, group_id: str) -> ConsumerGroup:
        group = self._group(group_id, create=True)
        assert group is not None
        return group

    def group_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ConsumerGroupMetadataKey)
        if value is None:
            group = self._group(key.group_id, create=False)
            if group is not None:
                self._remove(key.group_id)
                group.on_deleted()
            return
        assert isinstance(value, ConsumerGroupMetadataValue)
        group = self._create(key.group_id)
        group.group_epoch = value.epoch
        group.restored_metadata_hash = value.metadata_hash

    def member_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ConsumerGroupMemberMetadataKey)
        if value is None:
            existing = self._group(key.group_id, create=False)
            if existing is not None:
                existing.restore_member(key.member_id, None)
            return
        assert isinstance(value, ConsumerGroupMemberMetadataValue)
        group = self._create(key.group_id)
        old = group.members.get(key.member_id) or m.ConsumerMember(member_id=key.member_id)
        group.restore_member(
            key.member_id,
            replace(
                old,
                instance_id=value.instance_id,
                rack_id=value.rack_id,
                client_id=value.client_id,
                client_host=value.client_host,
                subscribed_topic_names=tuple(value.subscribed_topic_names),
                subscribed_topic_regex=value.subscribed_topic_regex or None,
                rebalance_timeout_ms=value.rebalance_timeout_ms,
                server_assignor=value.server_assignor or None,
            ),
        )
        self._member_loaded(group, key.member_id)

    def target_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ConsumerGroupTargetAssignmentMetadataKey)
        if value is not None:
            assert isinstance(value, ConsumerGroupTargetAssignmentMetadataValue)
            self._create(key.group_id).assignment_epoch = value.assignment_epoch

    def target_member(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ConsumerGroupTargetAssignmentMemberKey)
        if value is None:
            existing = self._group(key.group_id, create=False)
            if existing is not None:
                existing.target.pop(key.member_id, None)
            return
        assert isinstance(value, TargetValue)
        self._create(key.group_id).target[key.member_id] = {
            tp.topic_id: frozenset(tp.partitions) for tp in value.topic_partitions
        }

    def current_assignment(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, ConsumerGroupCurrentMemberAssignmentKey)
        if value is None:
            return  # the member's metadata tombstone that follows removes it
        assert isinstance(value, CurrentValue)
        group = self._create(key.group_id)
        old = group.members.get(key.member_id) or m.ConsumerMember(member_id=key.member_id)
        group.restore_member(
            key.member_id,
            replace(
                old,
                member_epoch=value.member_epoch,
                previous_member_epoch=value.previous_member_epoch,
                state=STATES.get(value.state, m.STABLE),
                assigned=_parts(value.assigned_partitions),
                pending_revocation=_parts(value.partitions_pending_revocation),
            ),
        )


def _parts(topic_partitions: list) -> dict[uuid.UUID, frozenset[int]]:
    return {tp.topic_id: frozenset(tp.partitions) for tp in topic_partitions if tp.partitions}
