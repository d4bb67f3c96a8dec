"""AlterPartition's validation on the controller (cluster/isr_change.py), in the order of
Kafka's ReplicationControlManager.validateAlterPartitionData, and the record it writes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ferrokafka.cluster import isr_change
from ferrokafka.cluster.image import BrokerRegistration, PartitionImage
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.alter_partition import AlterPartitionRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest

PART = PartitionImage(
    partition=0, replicas=(1, 2, 3), isr=(1, 2, 3), leader=1, leader_epoch=4, partition_epoch=9
)
EPOCHS = {1: 10, 2: 20, 3: 30}


class Image:
    """The part of a MetadataImage validation reads: registrations."""

    def __init__(
        self, fenced: frozenset[int] = frozenset(), shutting: frozenset[int] = frozenset()
    ):
        self.fenced, self.shutting = fenced, shutting

    def broker(self, broker_id: int) -> BrokerRegistration | None:
        if broker_id not in EPOCHS:
            return None
        return BrokerRegistration(
            broker_id,
            uuid.UUID(int=broker_id),
            EPOCHS[broker_id],
            (),
            {},
            None,
            broker_id in self.fenced,
            broker_id in self.shutting,
        )


def data(isr: tuple[int, ...], **fields: Any) -> AlterPartitionRequest.PartitionData:
    values = {"leader_epoch": 4, "partition_epoch": 9, **fields}
    epochs = values.pop("epochs", {b: EPOCHS.get(b, -1) for b in isr})
    return AlterPartitionRequest.PartitionData(
        partition_index=0,
        new_isr_with_epochs=[
            AlterPartitionRequest.BrokerState(broker_id=b, broker_epoch=epochs[b]) for b in isr
        ],
        **values,
    )


@pytest.mark.parametrize(
    ("request_data", "code"),
    [
        (data((1, 2)), ec.NONE),
        (data((1, 2), leader_epoch=5), ec.NOT_CONTROLLER),
        (data((1, 2), partition_epoch=10), ec.NOT_CONTROLLER),
        (data((1, 2), leader_epoch=3), ec.FENCED_LEADER_EPOCH),
        (data((1, 2), partition_epoch=8), ec.INVALID_UPDATE_VERSION),
        (data((1, 4)), ec.INVALID_REQUEST),  # not a replica
        (data((2, 3)), ec.INVALID_REQUEST),  # without the leader
        (data((1, 2), leader_recovery_state=1), ec.INVALID_REQUEST),  # RECOVERED -> RECOVERING
        (data((1, 2), epochs={1: 10, 2: 19}), ec.INELIGIBLE_REPLICA),  # KIP-903
        (data((1, 2), epochs={1: 10, 2: -1}), ec.NONE),  # -1: not checked
    ],
)
def test_validation(request_data: AlterPartitionRequest.PartitionData, code: int) -> None:
    assert isr_change.validate(Image(), 1, PART, request_data) == code  # type: ignore[arg-type]


def test_only_the_leader_and_eligible_brokers() -> None:
    assert isr_change.validate(Image(), 2, PART, data((1, 2))) == ec.INVALID_REQUEST  # type: ignore[arg-type]
    fenced = Image(fenced=frozenset({3}))
    assert isr_change.validate(fenced, 1, PART, data((1, 3))) == ec.INELIGIBLE_REPLICA  # type: ignore[arg-type]
    shutting = Image(shutting=frozenset({3}))
    assert isr_change.validate(shutting, 1, PART, data((1, 3))) == ec.INELIGIBLE_REPLICA  # type: ignore[arg-type]
    assert isr_change.validate(Image(), 1, None, data((1,))) == ec.UNKNOWN_TOPIC_OR_PARTITION  # type: ignore[arg-type]


def alter(controller: Any, topic_id: uuid.UUID, broker_epoch: int, **fields: Any) -> Any:
    request = AlterPartitionRequest(
        broker_id=1,
        broker_epoch=broker_epoch,
        topics=[
            AlterPartitionRequest.TopicData(
                topic_id=topic_id,
                partitions=[
                    AlterPartitionRequest.PartitionData(
                        partition_index=0,
                        new_isr_with_epochs=[
                            AlterPartitionRequest.BrokerState(broker_id=1, broker_epoch=-1)
                        ],
                        **fields,
                    )
                ],
            )
        ],
    )
    return controller.alter_partition(request)


def test_the_controller_answers_alter_partition(controller: Any) -> None:
    created = controller.create_topics(
        CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(name="t", num_partitions=1, replication_factor=1)
            ]
        )
    )
    assert created.topics[0].error_code == ec.NONE
    image = controller.image
    topic = image.topic("t")
    part = topic.partitions[0]
    epoch = image.broker(1).broker_epoch
    stale = alter(controller, topic.topic_id, epoch - 1)
    assert stale.error_code == ec.STALE_BROKER_EPOCH
    unknown = alter(controller, uuid.UUID(int=99), epoch)
    assert unknown.topics[0].partitions[0].error_code == ec.UNKNOWN_TOPIC_ID
    fenced = alter(controller, topic.topic_id, epoch, leader_epoch=part.leader_epoch - 1)
    assert fenced.topics[0].partitions[0].error_code == ec.FENCED_LEADER_EPOCH
    # The ISR it already has: accepted, nothing written, answered with the partition's state.
    offset = controller.image.offset
    same = alter(
        controller,
        topic.topic_id,
        epoch,
        leader_epoch=part.leader_epoch,
        partition_epoch=part.partition_epoch,
    )
    answered = same.topics[0].partitions[0]
    assert (answered.error_code, answered.leader_id, answered.isr) == (ec.NONE, 1, [1])
    assert answered.partition_epoch == part.partition_epoch
    assert controller.image.offset == offset
