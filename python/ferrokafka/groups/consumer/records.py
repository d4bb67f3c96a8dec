"""A consumer group's records on ``__consumer_offsets`` (Kafka's formats): what changed
between two states of a group becomes records (:func:`changes`), and the records read back at
load rebuild the group (:class:`Replayer`); the mechanism is
:mod:`~ferrokafka.groups.member_records`', this module says what the consumer records hold.

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
from collections.abc import Mapping
from dataclasses import replace

from ferrokafka.groups import member_records as mr
from ferrokafka.groups.base import Record
from ferrokafka.groups.consumer import member as m
from ferrokafka.groups.consumer.group import ConsumerGroup, metadata_hash
from ferrokafka.groups.member_records import Snapshot
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
from ferrokafka.protocol.schema import Message

# Kafka's MemberState byte values in ConsumerGroupCurrentMemberAssignmentValue.state.
STATE_CODES = {m.UNREVOKED_PARTITIONS: 0, m.UNRELEASED_PARTITIONS: 1, m.STABLE: 2}
STATES = {code: state for state, code in STATE_CODES.items()}

CurrentValue = ConsumerGroupCurrentMemberAssignmentValue
TargetValue = ConsumerGroupTargetAssignmentMemberValue


class ConsumerRecords(mr.GroupRecords[ConsumerGroup]):
    group_type = ConsumerGroup
    metadata_key = ConsumerGroupMetadataKey
    member_key = ConsumerGroupMemberMetadataKey
    target_metadata_key = ConsumerGroupTargetAssignmentMetadataKey
    target_metadata_value = ConsumerGroupTargetAssignmentMetadataValue
    target_member_key = ConsumerGroupTargetAssignmentMemberKey
    current_key = ConsumerGroupCurrentMemberAssignmentKey
    group_keys = (ConsumerGroupTargetAssignmentMetadataKey, ConsumerGroupMetadataKey)

    def group_state(self, group: ConsumerGroup) -> Mapping[str, tuple[uuid.UUID, int]]:
        return group.subscribed_metadata

    def group_records(self, before: Snapshot, group: ConsumerGroup) -> list[Record]:
        if before.exists and before.group_epoch == group.group_epoch:
            if before.state == group.subscribed_metadata:
                return []
        value = ConsumerGroupMetadataValue(
            epoch=group.group_epoch, metadata_hash=metadata_hash(group)
        )
        return [mr.record(ConsumerGroupMetadataKey(group_id=group.group_id), value)]

    def metadata_fields(self, x: m.ConsumerMember) -> tuple:
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

    def member_value(self, x: m.ConsumerMember) -> Message:
        return ConsumerGroupMemberMetadataValue(
            instance_id=x.instance_id,
            rack_id=x.rack_id,
            client_id=x.client_id,
            client_host=x.client_host,
            subscribed_topic_names=list(x.subscribed_topic_names),
            subscribed_topic_regex=x.subscribed_topic_regex,
            rebalance_timeout_ms=x.rebalance_timeout_ms,
            server_assignor=x.server_assignor,
        )

    def target_value(self, target: m.TopicAssignment) -> Message:
        return TargetValue(
            topic_partitions=[
                TargetValue.TopicPartition(topic_id=t, partitions=sorted(ps))
                for t, ps in sorted(target.items(), key=str)
            ]
        )

    def current_value(self, x: m.ConsumerMember) -> Message:
        return CurrentValue(
            member_epoch=x.member_epoch,
            previous_member_epoch=x.previous_member_epoch,
            state=STATE_CODES[x.state],
            assigned_partitions=_current_parts(x.assigned),
            partitions_pending_revocation=_current_parts(x.pending_revocation),
        )

    def new_member(self, member_id: str) -> m.ConsumerMember:
        return m.ConsumerMember(member_id=member_id)

    def restore_group(self, group: ConsumerGroup, value: Message) -> None:
        assert isinstance(value, ConsumerGroupMetadataValue)
        group.group_epoch = value.epoch
        group.restored_metadata_hash = value.metadata_hash

    def member_from(self, old: m.ConsumerMember, value: Message) -> m.ConsumerMember:
        assert isinstance(value, ConsumerGroupMemberMetadataValue)
        return replace(
            old,
            instance_id=value.instance_id,
            rack_id=value.rack_id,
            client_id=value.client_id,
            client_host=value.client_host,
            subscribed_topic_names=tuple(value.subscribed_topic_names),
            subscribed_topic_regex=value.subscribed_topic_regex or None,
            rebalance_timeout_ms=value.rebalance_timeout_ms,
            server_assignor=value.server_assignor or None,
        )

    def target_from(self, value: Message) -> m.TopicAssignment:
        assert isinstance(value, TargetValue)
        return {tp.topic_id: frozenset(tp.partitions) for tp in value.topic_partitions}

    def current_from(self, old: m.ConsumerMember, value: Message) -> m.ConsumerMember:
        assert isinstance(value, CurrentValue)
        return replace(
            old,
            member_epoch=value.member_epoch,
            previous_member_epoch=value.previous_member_epoch,
            state=STATES.get(value.state, m.STABLE),
            assigned=_parts(value.assigned_partitions),
            pending_revocation=_parts(value.partitions_pending_revocation),
        )


RECORDS = ConsumerRecords()


# What the service, the group and the tests use.
snapshot, changes, group_tombstones = RECORDS.snapshot, RECORDS.changes, RECORDS.group_tombstones
Replayer = RECORDS.replayer


def _current_parts(parts: m.TopicAssignment) -> list:
    return [
        CurrentValue.TopicPartitions(topic_id=t, partitions=sorted(ps))
        for t, ps in sorted(parts.items(), key=str)
    ]


def _parts(topic_partitions: list) -> dict[uuid.UUID, frozenset[int]]:
    return {tp.topic_id: frozenset(tp.partitions) for tp in topic_partitions if tp.partitions}
