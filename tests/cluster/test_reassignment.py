"""Partition reassignment on the controller (cluster/reassignment.py, partition_change.py), as
Kafka's ReplicationControlManager: the records of each stage, completion through AlterPartition,
cancellation, ListPartitionReassignments, and the error codes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from ferrokafka.cluster import Controller, reassignment
from ferrokafka.cluster.image import BrokerEndpoint, PartitionImage
from ferrokafka.cluster.partition_change import build_change
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.error_responses import error_response, is_error_response
from ferrokafka.protocol.messages.alter_partition import AlterPartitionRequest
from ferrokafka.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest as Alter,
)
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest as List,
)

BROKERS = (1, 2, 3, 4)


@pytest.fixture
def cluster(controller: Controller) -> Controller:
    """Brokers 1-4 registered and unfenced; topic t with partition 0 on [1, 2], 1 on [2, 1]."""
    for broker_id in BROKERS[1:]:
        endpoint = BrokerEndpoint("PLAINTEXT", "localhost", 9000 + broker_id, 0)
        controller.register_broker([endpoint], broker_id=broker_id)
    created = controller.create_topics(
        CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name="t",
                    num_partitions=-1,
                    replication_factor=-1,
                    assignments=[
                        CreateTopicsRequest.CreatableReplicaAssignment(
                            partition_index=0, broker_ids=[1, 2]
                        ),
                        CreateTopicsRequest.CreatableReplicaAssignment(
                            partition_index=1, broker_ids=[2, 1]
                        ),
                    ],
                )
            ]
        )
    )
    assert created.topics[0].error_code == ec.NONE, created
    return controller


def reassign(controller: Controller, *targets: tuple[str, int, list[int] | None], **kw: Any):
    by_topic: dict[str, list[Alter.ReassignablePartition]] = {}
    for name, index, replicas in targets:
        by_topic.setdefault(name, []).append(
            Alter.ReassignablePartition(partition_index=index, replicas=replicas)
        )
    request = Alter(
        topics=[Alter.ReassignableTopic(name=n, partitions=p) for n, p in by_topic.items()], **kw
    )
    response = controller.alter_partition_reassignments(request)
    return [(p.error_code, p.error_message) for t in response.responses for p in t.partitions]


def part(controller: Controller, index: int = 0) -> PartitionImage:
    found = controller.image.partition("t", index)
    assert found is not None
    return found


def listed(controller: Controller, topics: list[List.ListPartitionReassignmentsTopics] | None):
    response = controller.list_partition_reassignments(List(topics=topics))
    assert response.error_code == ec.NONE
    return {
        (t.name, p.partition_index): (p.replicas, p.adding_replicas, p.removing_replicas)
        for t in response.topics
        for p in t.partitions
    }


def alter_isr(controller: Controller, isr: list[int], index: int = 0) -> Any:
    p = part(controller, index)
    topic = controller.image.topic("t")
    assert topic is not None
    leader = controller.image.broker(p.leader)
    assert leader is not None
    request = AlterPartitionRequest(
        broker_id=p.leader,
        broker_epoch=leader.broker_epoch,
        topics=[
            AlterPartitionRequest.TopicData(
                topic_id=topic.topic_id,
                partitions=[
                    AlterPartitionRequest.PartitionData(
                        partition_index=index,
                        leader_epoch=p.leader_epoch,
                        partition_epoch=p.partition_epoch,
                        new_isr_with_epochs=[
                            AlterPartitionRequest.BrokerState(broker_id=b, broker_epoch=-1)
                            for b in isr
                        ],
                    )
                ],
            )
        ],
    )
    return controller.alter_partition(request).topics[0].partitions[0]


def test_a_move_goes_through_adding_then_completes_when_the_isr_holds_the_target(
    cluster: Controller,
) -> None:
    before = part(cluster)
    assert reassign(cluster, ("t", 0, [3, 4])) == [(ec.NONE, None)]
    moving = part(cluster)
    # Stage 1: the target, then the leaving replicas; same leader and epoch; ISR unchanged.
    assert moving.replicas == (3, 4, 1, 2)
    assert (moving.adding_replicas, moving.removing_replicas) == ((3, 4), (1, 2))
    assert (moving.isr, moving.leader, moving.leader_epoch) == ((1, 2), 1, before.leader_epoch)
    assert len(moving.directories) == 4
    assert listed(cluster, None) == {("t", 0): ([3, 4, 1, 2], [3, 4], [1, 2])}
    named = [List.ListPartitionReassignmentsTopics(name="t", partition_indexes=[1, 0, 7])]
    assert listed(cluster, named) == {("t", 0): ([3, 4, 1, 2], [3, 4], [1, 2])}
    unknown = [List.ListPartitionReassignmentsTopics(name="nope", partition_indexes=[0])]
    assert listed(cluster, unknown) == {}

    # One new replica in the ISR: not complete yet.
    answer = alter_isr(cluster, [1, 2, 3])
    assert (answer.error_code, answer.isr) == (ec.NONE, [1, 2, 3])
    assert part(cluster).adding_replicas == (3, 4)

    # The whole target in the ISR: complete, leader off the removed broker 1.
    answer = alter_isr(cluster, [1, 2, 3, 4])
    assert answer.error_code == ec.NEW_LEADER_ELECTED
    done = part(cluster)
    assert (done.replicas, done.isr, done.leader) == ((3, 4), (3, 4), 3)
    assert (done.adding_replicas, done.removing_replicas) == ((), ())
    assert done.leader_epoch == before.leader_epoch + 1
    assert len(done.directories) == 2
    assert listed(cluster, None) == {}


def test_a_leader_that_stays_keeps_leading_and_the_epoch_moves_when_a_replica_leaves(
    cluster: Controller,
) -> None:
    before = part(cluster)
    assert reassign(cluster, ("t", 0, [1, 3])) == [(ec.NONE, None)]
    assert (part(cluster).adding_replicas, part(cluster).removing_replicas) == ((3,), (2,))
    answer = alter_isr(cluster, [1, 2, 3])
    assert (answer.error_code, answer.leader_id, answer.isr) == (ec.NONE, 1, [1, 3])
    done = part(cluster)
    assert (done.replicas, done.isr, done.leader) == ((1, 3), (1, 3), 1)
    assert done.leader_epoch == before.leader_epoch + 1


def test_a_new_order_of_the_same_replicas_completes_at_once(cluster: Controller) -> None:
    before = part(cluster)
    assert reassign(cluster, ("t", 0, [2, 1])) == [(ec.NONE, None)]
    after = part(cluster)
    assert (after.replicas, after.adding_replicas, after.removing_replicas) == ((2, 1), (), ())
    # The leader stays (no preferred election here); nothing left, so the epoch stays too.
    assert (after.leader, after.leader_epoch) == (1, before.leader_epoch)
    # Moving to the replicas it already has: nothing to write.
    offset = cluster.image.offset
    assert reassign(cluster, ("t", 0, [2, 1])) == [(ec.NONE, None)]
    assert cluster.image.offset == offset


def test_shrinking_to_replicas_already_in_the_isr_completes_at_once(cluster: Controller) -> None:
    assert reassign(cluster, ("t", 0, [2])) == [(ec.NONE, None)]
    after = part(cluster)
    assert (after.replicas, after.isr, after.leader) == ((2,), (2,), 2)


def test_cancel_reverts_to_the_original_replicas(cluster: Controller) -> None:
    assert reassign(cluster, ("t", 0, [3, 4])) == [(ec.NONE, None)]
    alter_isr(cluster, [1, 2, 3])
    assert reassign(cluster, ("t", 0, None)) == [(ec.NONE, None)]
    after = part(cluster)
    assert (after.replicas, after.isr, after.leader) == ((1, 2), (1, 2), 1)
    assert (after.adding_replicas, after.removing_replicas) == ((), ())
    assert reassign(cluster, ("t", 0, None)) == [
        (ec.NO_REASSIGNMENT_IN_PROGRESS, "No partition reassignment is in progress.")
    ]


def test_a_new_target_replaces_the_one_in_progress(cluster: Controller) -> None:
    assert reassign(cluster, ("t", 0, [3, 4])) == [(ec.NONE, None)]
    # Computed from the current replica list [3, 4, 1, 2], as Kafka does: 3 is in it already,
    # so it is no longer "adding"; the move completes when the ISR holds 1 and 3.
    assert reassign(cluster, ("t", 0, [1, 3])) == [(ec.NONE, None)]
    after = part(cluster)
    assert after.replicas == (1, 3, 2, 4)
    assert (after.adding_replicas, after.removing_replicas) == ((), (2, 4))
    answer = alter_isr(cluster, [1, 2, 3])
    assert (answer.error_code, answer.isr) == (ec.NONE, [1, 3])
    assert part(cluster).replicas == (1, 3)


def test_errors_per_partition(cluster: Controller) -> None:
    offset = cluster.image.offset
    results = reassign(
        cluster,
        ("t", 0, []),
        ("t", 1, [3, 3]),
        ("t", 5, [1, 2]),
        ("t", 0, [1, 9]),
        ("u", 0, [1, 2]),
    )
    assert results == [
        (
            ec.INVALID_REPLICA_ASSIGNMENT,
            "The manual partition assignment includes an empty replica list.",
        ),
        (
            ec.INVALID_REPLICA_ASSIGNMENT,
            "The manual partition assignment includes the broker 3 more than once.",
        ),
        (ec.UNKNOWN_TOPIC_OR_PARTITION, "Unable to find partition t:5."),
        (
            ec.INVALID_REPLICA_ASSIGNMENT,
            "The manual partition assignment includes broker 9, but no such broker is registered.",
        ),
        (ec.UNKNOWN_TOPIC_OR_PARTITION, "Unable to find a topic named u."),
    ]
    assert cluster.image.offset == offset
    # KIP-860 (v1): a replication factor change refused only when the request says so.
    refused = reassign(cluster, ("t", 1, [2, 1, 3]), allow_replication_factor_change=False)
    assert refused == [
        (ec.INVALID_REPLICATION_FACTOR, "The replication factor is changed from 2 to 3")
    ]
    assert reassign(cluster, ("t", 1, [2, 1, 3])) == [(ec.NONE, None)]


def test_one_bad_partition_does_not_stop_the_others(cluster: Controller) -> None:
    results = reassign(cluster, ("t", 0, [3, 4]), ("t", 1, [9]))
    assert [code for code, _ in results] == [ec.NONE, ec.INVALID_REPLICA_ASSIGNMENT]
    assert part(cluster, 0).adding_replicas == (3, 4)
    assert part(cluster, 1).replicas == (2, 1)


def test_the_topic_id_is_kept(cluster: Controller) -> None:
    topic = cluster.image.topic("t")
    assert topic is not None
    reassign(cluster, ("t", 0, [3, 4]))
    moved = cluster.image.topic("t")
    assert moved is not None and moved.topic_id == topic.topic_id
    assert isinstance(moved.topic_id, uuid.UUID)


def with_partition(cluster: Controller, **changes: Any) -> Any:
    """The controller's image with partition t-0 changed (a state no request leads to here)."""
    image = cluster.image
    topic = image.topic("t")
    assert topic is not None
    moved = replace(topic, partitions={**topic.partitions, 0: replace(part(cluster), **changes)})
    return replace(
        image,
        topics_by_name={**image.topics_by_name, "t": moved},
        topics_by_id={**image.topics_by_id, moved.topic_id: moved},
    )


def cancel_request() -> Alter:
    return Alter(
        topics=[
            Alter.ReassignableTopic(
                name="t", partitions=[Alter.ReassignablePartition(partition_index=0)]
            )
        ]
    )


def test_a_cancel_that_needs_an_unclean_election_is_refused_unless_the_topic_allows_it(
    cluster: Controller,
) -> None:
    # Only adding replicas are in the ISR: going back means electing a replica outside it.
    image = with_partition(
        cluster,
        replicas=(3, 4, 1, 2),
        adding_replicas=(3, 4),
        removing_replicas=(1, 2),
        isr=(3,),
        leader=3,
    )
    records, response = reassignment.alter_partition_reassignments(
        image, cancel_request(), lambda _topic: False
    )
    refused = response.responses[0].partitions[0]
    assert records == [] and refused.error_code == ec.INVALID_REPLICA_ASSIGNMENT
    assert refused.error_message == (
        "Unable to revert partition assignment for t:0 because it would require an unclean "
        "leader election."
    )
    records, response = reassignment.alter_partition_reassignments(
        image, cancel_request(), lambda _topic: True
    )
    assert response.responses[0].partitions[0].error_code == ec.NONE
    [record] = records
    # The first original replica is the ISR alone and leads (Kafka's revert: it is put in the
    # target ISR, so the builder's election of it is a clean one and no RECOVERING is set).
    assert (record.replicas, record.isr, record.leader) == ([1, 2], [1], 1)
    assert (record.adding_replicas, record.removing_replicas) == ([], [])
    assert record.leader_recovery_state == -1


def test_the_change_clears_elr_left_from_before(cluster: Controller) -> None:
    # ELR off: Kafka's maybeUpdateRecordElr clears the ELR; the last known ELR (the last
    # known leader, useLastKnownLeaderInBalancedRecovery) is only touched with ELR on.
    image = with_partition(cluster, elr=(2,), last_known_elr=(2,))
    topic = image.topic("t")
    assert topic is not None
    record = build_change(image, topic.topic_id, topic.partitions[0], replicas=[2, 1])
    assert record is not None
    assert (record.eligible_leader_replicas, record.last_known_elr) == ([], None)
    assert record.replicas == [2, 1] and record.leader == -2  # same leader, no epoch bump


def test_a_standby_controller_refuses_both_apis_at_the_top_level() -> None:
    """What controller_admin answers when this controller is not the active one."""
    for request in (Alter(), List()):
        response = error_response(request, ec.NOT_CONTROLLER)
        assert response.error_code == ec.NOT_CONTROLLER
        assert is_error_response(response, ec.NOT_CONTROLLER)
