"""Leader and ISR changes when a broker's state changes (sans-io).

Kafka's ``ReplicationControlManager.generateLeaderAndIsrUpdates`` with its
``PartitionChangeBuilder``, for eligible leader replicas (ELR, KIP-966) off, the only mode
this controller runs in:

* a broker that is fenced, goes into controlled shutdown or is unregistered
  (``broker_to_remove``) leaves the ISR of every partition whose ISR holds it, unless it is
  the last member: an ISR never becomes empty, so the last replica stays in it (and, fenced,
  cannot lead: the partition is leaderless, leader -1);
* a partition whose leader is no longer acceptable gets the first replica, in replica order,
  that is in the new ISR and acceptable (active: unfenced and not shutting down), else none;
* a broker being unfenced (``broker_to_add``) counts as acceptable although the image still
  shows it fenced (the records that unfence it are in the same batch), so a leaderless
  partition whose ISR holds it gets it back as leader;
* a topic with ``unclean.leader.election.enable`` may elect a replica from outside the ISR;
  the ISR is then that leader alone and the partition is marked RECOVERING.

Each change is one PartitionChangeRecord; a partition that does not change gets none. With
metadata.version 3.6 and later an ISR shrink alone does not bump the leader epoch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator

from ferrokafka.cluster.image import MetadataImage, PartitionImage
from ferrokafka.cluster.records import PartitionChangeRecord

# Kafka's LeaderConstants.NO_LEADER; also "no broker" for broker_to_remove / broker_to_add.
NO_LEADER = -1
# Kafka's LeaderRecoveryState.RECOVERING: the ISR is the leader alone after an unclean
# election until the leader says it recovered.
RECOVERING = 1

PartitionRef = tuple[uuid.UUID, int]


def partitions_with_broker_in_isr(image: MetadataImage, broker_id: int) -> Iterator[PartitionRef]:
    """Kafka's ``BrokersToIsrs.partitionsWithBrokerInIsr``, in topic-name order."""
    for topic in image.topics_by_name.values():
        for index, part in sorted(topic.partitions.items()):
            if broker_id in part.isr:
                yield topic.topic_id, index


def partitions_without_leader(image: MetadataImage) -> Iterator[PartitionRef]:
    """Kafka's ``BrokersToIsrs.partitionsWithNoLeader``."""
    for topic in image.topics_by_name.values():
        for index, part in sorted(topic.partitions.items()):
            if part.leader == NO_LEADER:
                yield topic.topic_id, index


def has_leaderships(image: MetadataImage, broker_id: int) -> bool:
    """Does ``broker_id`` lead any partition (Kafka's ``BrokersToIsrs.hasLeaderships``)?"""
    return any(
        part.leader == broker_id
        for topic in image.topics_by_name.values()
        for part in topic.partitions.values()
    )


def leader_and_isr_updates(
    image: MetadataImage,
    partitions: Iterable[PartitionRef],
    *,
    broker_to_remove: int = NO_LEADER,
    broker_to_add: int = NO_LEADER,
    unclean_allowed: Callable[[str], bool] = lambda _topic: False,
) -> list[PartitionChangeRecord]:
    """The PartitionChangeRecords for ``partitions`` after ``broker_to_remove`` left (or
    ``broker_to_add`` joined) the brokers that may lead; ``unclean_allowed(topic)`` says
    whether the topic allows an unclean leader election."""

    def acceptable(replica: int) -> bool:
        if replica == broker_to_remove:
            return False
        if replica == broker_to_add:
            return True
        broker = image.broker(replica)
        return broker is not None and broker.is_active

    records = []
    for topic_id, index in partitions:
        topic = image.topic_by_id(topic_id)
        assert topic is not None, topic_id
        part = topic.partitions[index]
        # Only the removed broker leaves the ISR (Kafka's Replicas.copyWithout): another
        # fenced member stays in it, it just cannot lead.
        target_isr = [r for r in part.isr if r != broker_to_remove]
        record = _partition_change(
            topic_id, part, target_isr, acceptable, unclean_allowed(topic.name)
        )
        if record is not None:
            records.append(record)
    return records


def _partition_change(
    topic_id: uuid.UUID,
    part: PartitionImage,
    target_isr: list[int],
    acceptable: Callable[[int], bool],
    unclean: bool,
) -> PartitionChangeRecord | None:
    record = PartitionChangeRecord(topic_id=topic_id, partition_id=part.partition)
    leader, was_unclean = _elect(part, target_isr, acceptable, unclean)
    if leader != part.leader:
        record.leader = leader
        if was_unclean:
            record.isr = [leader]
            if part.leader_recovery_state != RECOVERING:
                record.leader_recovery_state = RECOVERING
    # ELR off: any ELR left from before is cleared.
    if part.elr:
        record.eligible_leader_replicas = []
    # An ISR never becomes empty with ELR off: the last member stays.
    if record.isr is None and target_isr and target_isr != list(part.isr):
        record.isr = target_isr
    if _is_no_op(record):
        return None
    return record


def _elect(
    part: PartitionImage,
    target_isr: list[int],
    acceptable: Callable[[int], bool],
    unclean: bool,
) -> tuple[int, bool]:
    """Kafka's ``electAnyLeader``: keep a leader that is still valid, else the first valid
    replica, else (unclean elections allowed) the first acceptable replica."""

    def valid(replica: int) -> bool:
        return replica in target_isr and acceptable(replica)

    if valid(part.leader):
        return part.leader, False
    for replica in part.replicas:
        if valid(replica):
            return replica, False
    if unclean:
        for replica in part.replicas:
            if acceptable(replica):
                return replica, True
    return NO_LEADER, False


def _is_no_op(record: PartitionChangeRecord) -> bool:
    """Kafka's ``PartitionChangeBuilder.changeRecordIsNoOp`` for the fields set here."""
    return (
        record.isr is None
        and record.leader == -2
        and record.leader_recovery_state == -1
        and record.eligible_leader_replicas is None
    )
