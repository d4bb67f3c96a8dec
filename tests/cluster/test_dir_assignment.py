"""JBOD on the controller (cluster/dir_assignment.py, through Controller), as Kafka 4.4's
ReplicationControlManager: new replicas of a broker with several dirs are UNASSIGNED,
AssignReplicasToDirs records each replica's dir (and refuses unknown topics, partitions and
replicas of other brokers, and stale epochs), a heartbeat's offline dirs move leadership and
ISR off exactly the replicas in them and shrink the registration's dirs, and a replica in an
offline dir is never elected."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cluster_control import CLUSTER_ID, create_topic, registration

from ferrokafka.cluster import Controller, SingleVoterLog
from ferrokafka.cluster.dir_assignment import UNASSIGNED, replica_directory
from ferrokafka.config import load_broker_config
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.assign_replicas_to_dirs import AssignReplicasToDirsRequest
from ferrokafka.protocol.messages.broker_heartbeat import BrokerHeartbeatRequest

DIRS = {b: (uuid.uuid4(), uuid.uuid4()) for b in (1, 2, 3)}


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    config = load_broker_config(None, {"log.dirs": str(tmp_path / "data")})
    log = SingleVoterLog(tmp_path / "data")
    made = Controller(config, log, cluster_id=CLUSTER_ID, rng=random.Random(3))
    made.start()
    for broker_id, dirs in DIRS.items():
        answer = made.broker_registration(registration(broker_id, log_dirs=list(dirs)))
        assert answer.error_code == ec.NONE
        assert not _heartbeat(made, broker_id).is_fenced
    yield made
    log.close()


def _heartbeat(controller: Controller, broker_id: int, offline: list[uuid.UUID] | None = None):
    broker = controller.image.broker(broker_id)
    assert broker is not None
    return controller.broker_heartbeat(
        BrokerHeartbeatRequest(
            broker_id=broker_id,
            broker_epoch=broker.broker_epoch,
            current_metadata_offset=controller.image.offset,
            offline_log_dirs=offline or [],
        )
    )


def _assign(
    controller: Controller, broker_id: int, directory: uuid.UUID, partitions: list[int]
) -> AssignReplicasToDirsRequest:
    topic = controller.image.topics_by_name["t"]
    broker = controller.image.broker(broker_id)
    assert broker is not None
    return AssignReplicasToDirsRequest(
        broker_id=broker_id,
        broker_epoch=broker.broker_epoch,
        directories=[
            AssignReplicasToDirsRequest.DirectoryData(
                id=directory,
                topics=[
                    AssignReplicasToDirsRequest.TopicData(
                        topic_id=topic.topic_id,
                        partitions=[
                            AssignReplicasToDirsRequest.PartitionData(partition_index=p)
                            for p in partitions
                        ],
                    )
                ],
            )
        ],
    )


def _codes(response) -> list[int]:
    return [p.error_code for d in response.directories for t in d.topics for p in t.partitions]


def _part(controller: Controller, index: int):
    return controller.image.topics_by_name["t"].partitions[index]


def test_replicas_of_brokers_with_several_dirs_start_unassigned(controller: Controller) -> None:
    create_topic(controller, "t", 4, 3)
    for index in range(4):
        assert set(_part(controller, index).directories) == {UNASSIGNED}


def test_assign_replicas_to_dirs_records_each_replica_dir(controller: Controller) -> None:
    create_topic(controller, "t", 4, 3)
    epoch_before = _part(controller, 0).partition_epoch
    answer = controller.assign_replicas_to_dirs(_assign(controller, 2, DIRS[2][1], [0, 1]))
    assert answer.error_code == ec.NONE and _codes(answer) == [ec.NONE, ec.NONE]
    for index in (0, 1):
        part = _part(controller, index)
        assert replica_directory(part, 2) == DIRS[2][1]
        assert replica_directory(part, 1) == UNASSIGNED  # the others untouched
    assert _part(controller, 0).partition_epoch == epoch_before + 1
    assert replica_directory(_part(controller, 2), 2) == UNASSIGNED
    # Again: nothing to change, no record.
    offset = controller.image.offset
    controller.assign_replicas_to_dirs(_assign(controller, 2, DIRS[2][1], [0, 1]))
    assert controller.image.offset == offset


def test_assign_replicas_to_dirs_refusals(controller: Controller) -> None:
    create_topic(controller, "t", 1, 2)
    request = _assign(controller, 1, DIRS[1][0], [0, 7])
    assert _codes(controller.assign_replicas_to_dirs(request)) == [
        ec.NONE if 1 in _part(controller, 0).replicas else ec.NOT_LEADER_OR_FOLLOWER,
        ec.UNKNOWN_TOPIC_OR_PARTITION,
    ]
    request.directories[0].topics[0].topic_id = uuid.uuid4()
    assert set(_codes(controller.assign_replicas_to_dirs(request))) == {ec.UNKNOWN_TOPIC_ID}
    request.broker_epoch -= 1
    answer = controller.assign_replicas_to_dirs(request)
    assert answer.error_code == ec.STALE_BROKER_EPOCH


def test_an_offline_dir_moves_leadership_and_isr_off_its_replicas_only(
    controller: Controller,
) -> None:
    create_topic(controller, "t", 6, 3)
    led = [i for i in range(6) if _part(controller, i).leader == 2]
    assert led, "broker 2 leads some partition"
    dead, alive = DIRS[2]
    in_dead = [i for i in range(6) if i % 2 == 0]
    controller.assign_replicas_to_dirs(_assign(controller, 2, dead, in_dead))
    controller.assign_replicas_to_dirs(
        _assign(controller, 2, alive, [i for i in range(6) if i not in in_dead])
    )
    answer = _heartbeat(controller, 2, offline=[dead])
    assert answer.error_code == ec.NONE and not answer.is_fenced
    for index in range(6):
        part = _part(controller, index)
        if index in in_dead:
            assert part.leader != 2 and 2 not in part.isr, (index, part)
        else:
            assert 2 in part.isr, (index, part)
    broker = controller.image.broker(2)
    assert broker is not None and list(broker.log_dirs) == [alive] and not broker.fenced
    # The same offline dir again: nothing new.
    offset = controller.image.offset
    _heartbeat(controller, 2, offline=[dead])
    assert controller.image.offset == offset


def test_a_replica_in_a_dir_the_broker_no_longer_has_is_never_elected(
    controller: Controller,
) -> None:
    """Broker 2 restarts with its first dir dead (registered with the other only): a
    partition whose only replica is in the dead dir stays leaderless when broker 2 is
    unfenced (Kafka's LeaderAcceptor), one in the live dir gets its leader back."""
    from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest

    answer = controller.create_topics(
        CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name="t",
                    num_partitions=-1,
                    replication_factor=-1,
                    assignments=[
                        CreateTopicsRequest.CreatableReplicaAssignment(
                            partition_index=i, broker_ids=[2]
                        )
                        for i in (0, 1)
                    ],
                )
            ]
        )
    )
    assert answer.topics[0].error_code == ec.NONE
    dead, alive = DIRS[2]
    controller.assign_replicas_to_dirs(_assign(controller, 2, dead, [0]))
    controller.assign_replicas_to_dirs(_assign(controller, 2, alive, [1]))
    _heartbeat_fence(controller, 2)
    assert _part(controller, 0).leader == _part(controller, 1).leader == -1
    answer = controller.broker_registration(registration(2, log_dirs=[alive]))
    assert answer.error_code == ec.NONE
    assert not _heartbeat(controller, 2).is_fenced
    assert _part(controller, 0).leader == -1  # its dir is not online
    assert _part(controller, 1).leader == 2


def _heartbeat_fence(controller: Controller, broker_id: int) -> None:
    broker = controller.image.broker(broker_id)
    assert broker is not None
    controller.broker_heartbeat(
        BrokerHeartbeatRequest(
            broker_id=broker_id,
            broker_epoch=broker.broker_epoch,
            current_metadata_offset=controller.image.offset,
            want_fence=True,
        )
    )
