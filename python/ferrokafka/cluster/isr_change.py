"""AlterPartition (API 56) on the controller: a partition leader's ISR change (sans-io; Kafka's
``ReplicationControlManager.alterPartition`` and ``validateAlterPartitionData``).

The request's broker epoch must be the leader's registered one (else STALE_BROKER_EPOCH for the
whole request). Per partition, in Kafka's order: an unknown partition; a leader or partition
epoch ahead of the controller's (NOT_CONTROLLER: this controller is likely behind); an older
leader epoch (FENCED_LEADER_EPOCH); a sender that is not the leader (INVALID_REQUEST); an older
partition epoch (INVALID_UPDATE_VERSION); an ISR with replicas outside the assignment, or
without the leader (INVALID_REQUEST); RECOVERING with more than the leader, or back from
RECOVERED (INVALID_REQUEST); a new ISR member not registered, fenced, shutting down, or whose
broker epoch (KIP-903, v3) is not its registration's (INELIGIBLE_REPLICA). A valid change is one
PartitionChangeRecord (the image bumps the partition epoch); the answer is the partition as it
is once the record applies.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from ferrokafka.cluster.elr import ElrMinIsr, elr_off
from ferrokafka.cluster.image import MetadataImage, PartitionImage
from ferrokafka.cluster.partition_change import NO_LEADER_CHANGE, build_change
from ferrokafka.cluster.records import PartitionChangeRecord
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.alter_partition import (
    AlterPartitionRequest,
    AlterPartitionResponse,
)

RECOVERED = 0
RECOVERING = 1
NO_BROKER_EPOCH = -1
# Raised by the caller's broker-epoch check (cluster_control.check_broker_epoch).
CheckBrokerEpoch = Callable[[MetadataImage, int, int], None]


def new_isr_of(
    data: AlterPartitionRequest.PartitionData,
) -> list[AlterPartitionRequest.BrokerState]:
    """The new ISR with broker epochs (v3), or the plain ids of v2 with epoch -1."""
    if data.new_isr_with_epochs:
        return list(data.new_isr_with_epochs)
    return [AlterPartitionRequest.BrokerState(broker_id=b, broker_epoch=-1) for b in data.new_isr]


def validate(
    image: MetadataImage,
    broker_id: int,
    part: PartitionImage | None,
    data: AlterPartitionRequest.PartitionData,
) -> int:
    """Kafka's ``validateAlterPartitionData``: the error code for one partition, or NONE."""
    if part is None:
        return ec.UNKNOWN_TOPIC_OR_PARTITION
    if data.leader_epoch > part.leader_epoch or data.partition_epoch > part.partition_epoch:
        return ec.NOT_CONTROLLER
    if data.leader_epoch < part.leader_epoch:
        return ec.FENCED_LEADER_EPOCH
    if broker_id != part.leader:
        return ec.INVALID_REQUEST
    if data.partition_epoch < part.partition_epoch:
        return ec.INVALID_UPDATE_VERSION
    new_isr = [b.broker_id for b in new_isr_of(data)]
    if len(set(new_isr)) != len(new_isr) or not set(new_isr) <= set(part.replicas):
        return ec.INVALID_REQUEST
    if part.leader not in new_isr:
        return ec.INVALID_REQUEST
    if data.leader_recovery_state == RECOVERING and len(new_isr) > 1:
        return ec.INVALID_REQUEST
    if part.leader_recovery_state == RECOVERED and data.leader_recovery_state == RECOVERING:
        return ec.INVALID_REQUEST
    for state in new_isr_of(data):
        broker = image.broker(state.broker_id)
        if (
            broker is None
            or broker.fenced
            or broker.in_controlled_shutdown
            or state.broker_epoch not in (NO_BROKER_EPOCH, broker.broker_epoch)
        ):
            return ec.INELIGIBLE_REPLICA
    return ec.NONE


def alter_partition(
    image: MetadataImage,
    request: AlterPartitionRequest,
    check_broker_epoch: CheckBrokerEpoch,
    min_isr: ElrMinIsr = elr_off,
) -> tuple[list[PartitionChangeRecord], AlterPartitionResponse]:
    """The records for ``request`` and its answer before they apply (see :func:`answer`);
    ``check_broker_epoch`` raises for a stale sender; ``min_isr(topic)``: the topic's
    effective min.insync.replicas with eligible leader replicas on (an ISR that shrinks
    below it moves the members that leave into the ELR)."""
    check_broker_epoch(image, request.broker_id, request.broker_epoch)
    records: list[PartitionChangeRecord] = []
    response = AlterPartitionResponse()
    for topic_data in request.topics:
        topic = image.topic_by_id(topic_data.topic_id)
        out = AlterPartitionResponse.TopicData(topic_id=topic_data.topic_id)
        response.topics.append(out)
        for data in topic_data.partitions:
            if topic is None:
                out.partitions.append(_error(data.partition_index, ec.UNKNOWN_TOPIC_ID))
                continue
            part = topic.partitions.get(data.partition_index)
            code = validate(image, request.broker_id, part, data)
            if code != ec.NONE:
                out.partitions.append(_error(data.partition_index, code))
                continue
            assert part is not None
            record = _change(image, topic.topic_id, part, data, min_isr(topic.name))
            if record is not None:
                records.append(record)
            if record is not None and record.leader not in (NO_LEADER_CHANGE, request.broker_id):
                # The change completed a reassignment that moved the leader off this broker
                # (Kafka answers NEW_LEADER_ELECTED: the sender learns it from the metadata).
                out.partitions.append(_error(data.partition_index, ec.NEW_LEADER_ELECTED))
                continue
            out.partitions.append(
                AlterPartitionResponse.PartitionData(partition_index=data.partition_index)
            )
    return records, response


def answer(image: MetadataImage, response: AlterPartitionResponse) -> AlterPartitionResponse:
    """Fill the accepted partitions of ``response`` with their state in ``image`` (the one
    after the records applied)."""
    for topic_data in response.topics:
        topic = image.topic_by_id(topic_data.topic_id)
        for data in topic_data.partitions:
            if data.error_code != ec.NONE or topic is None:
                continue
            part = topic.partitions[data.partition_index]
            data.leader_id = part.leader
            data.leader_epoch = part.leader_epoch
            data.isr = list(part.isr)
            data.leader_recovery_state = part.leader_recovery_state
            data.partition_epoch = part.partition_epoch
    return response


def _change(
    image: MetadataImage,
    topic_id: uuid.UUID,
    part: PartitionImage,
    data: AlterPartitionRequest.PartitionData,
    min_isr: int | None,
) -> PartitionChangeRecord | None:
    """The ISR change, which also completes a reassignment whose target replicas are all in
    the new ISR (:mod:`partition_change`)."""
    return build_change(
        image,
        topic_id,
        part,
        isr=[b.broker_id for b in new_isr_of(data)],
        recovery_state=data.leader_recovery_state,
        min_isr=min_isr,
    )


def _error(index: int, code: int) -> AlterPartitionResponse.PartitionData:
    return AlterPartitionResponse.PartitionData(partition_index=index, error_code=code)
