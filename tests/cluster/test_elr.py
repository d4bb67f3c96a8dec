"""Eligible leader replicas (KIP-966) on the controller (partition_change.py, leadership.py,
cluster_control.py, elr.py): Kafka 4.4's PartitionChangeBuilder cases, and a controller
formatted with eligible.leader.replicas.version 1 through fencing, unfencing, AlterPartition,
re-registration after clean and unclean shutdowns, and min.insync.replicas changes; a
controller with ELR 0 keeps the ISR's last member and never writes ELR fields."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ferrokafka.cluster import Controller, SingleVoterLog
from ferrokafka.cluster.image import MetadataImage, PartitionImage
from ferrokafka.cluster.partition_change import PREFERRED, build_change
from ferrokafka.cluster.records import ClearElrRecord, PartitionChangeRecord
from ferrokafka.config import load_broker_config
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.alter_partition import AlterPartitionRequest
from ferrokafka.protocol.messages.broker_heartbeat import BrokerHeartbeatRequest
from ferrokafka.protocol.messages.broker_registration import BrokerRegistrationRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest as Alter,
)
from kafka_support.dump import dump_cluster_metadata

CLUSTER_ID = "elr-test-cluster"
SESSION_TIMEOUT_MS = 9_000
ELR_ON = {"metadata.version": 33, "eligible.leader.replicas.version": 1}
ELR_OFF = {"metadata.version": 33, "eligible.leader.replicas.version": 0}
FEATURES = (("metadata.version", 7, 33), ("eligible.leader.replicas.version", 0, 1))
TOPIC_ID = uuid.UUID(int=7)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


# -- PartitionChangeBuilder, as Kafka's PartitionChangeBuilderTest ------------------------


def partition(
    replicas: tuple[int, ...],
    isr: tuple[int, ...],
    leader: int,
    elr: tuple[int, ...] = (),
    last_known_elr: tuple[int, ...] = (),
) -> PartitionImage:
    return PartitionImage(
        partition=0,
        replicas=replicas,
        isr=isr,
        leader=leader,
        leader_epoch=5,
        partition_epoch=9,
        elr=elr,
        last_known_elr=last_known_elr,
    )


def acceptor(*active: int) -> Callable[[int], bool]:
    return lambda replica: replica in active


def build(part: PartitionImage, **kw: object) -> PartitionChangeRecord | None:
    return build_change(MetadataImage(), TOPIC_ID, part, **kw)  # type: ignore[arg-type]


def test_an_isr_shrinking_below_min_isr_moves_the_members_that_leave_into_the_elr() -> None:
    part = partition((1, 2, 3, 4), (1, 2, 3, 4), 1)
    record = build(part, isr=[1, 2], acceptable=acceptor(1, 2, 3, 4), min_isr=3)
    assert record is not None
    assert (record.isr, record.eligible_leader_replicas, record.last_known_elr) == (
        [1, 2],
        [3, 4],
        None,
    )
    assert record.leader == -2  # no leader change, no epoch bump


def test_an_isr_reaching_min_isr_clears_the_elr() -> None:
    part = partition((1, 2, 3, 4), (1, 2), 1, elr=(3, 4))
    record = build(part, isr=[1, 2, 3], acceptable=acceptor(1, 2, 3, 4), min_isr=3)
    assert record is not None
    assert (record.isr, record.eligible_leader_replicas) == ([1, 2, 3], [])


def test_a_new_isr_member_outside_the_elr_keeps_the_elr() -> None:
    part = partition((1, 2, 3, 4), (1,), 1, elr=(3,))
    record = build(part, isr=[1, 4], acceptable=acceptor(1, 2, 3, 4), min_isr=3)
    assert record is not None
    assert (record.isr, record.eligible_leader_replicas) == ([1, 4], None)


def test_unclean_shutdown_replicas_leave_the_elr() -> None:
    part = partition((1, 2, 3, 4), (1, 2, 3, 4), 1)
    record = build(part, isr=[1], acceptable=acceptor(1, 2, 4), min_isr=3, unclean_shutdown=[3])
    assert record is not None
    assert (record.isr, record.eligible_leader_replicas) == ([1], [2, 4])


def test_an_empty_isr_elects_from_the_elr_which_becomes_the_isr() -> None:
    part = partition((1, 2, 3), (), -1, elr=(1, 2, 3), last_known_elr=(1,))
    record = build(part, acceptable=acceptor(2, 3), min_isr=2)
    assert record is not None
    assert (record.leader, record.isr, record.eligible_leader_replicas) == (2, [2], [1, 3])
    assert record.leader_recovery_state == -1  # a clean election
    assert record.last_known_elr == []  # a leader again: the last known leader is forgotten


def test_the_isr_becoming_empty_records_the_last_known_leader() -> None:
    part = partition((1, 2, 3), (1,), 1, elr=(2, 3))
    record = build(part, isr=[], acceptable=acceptor(), min_isr=2)
    assert record is not None
    assert (record.leader, record.isr) == (-1, [])
    assert (record.eligible_leader_replicas, record.last_known_elr) == ([1, 2, 3], [1])


def test_the_last_known_leader_is_elected_once_isr_and_elr_are_empty() -> None:
    part = partition((1, 2, 3), (), -1, elr=(), last_known_elr=(1,))
    assert build(part, acceptable=acceptor(2, 3), min_isr=2) is None  # 1 is not back
    record = build(part, acceptable=acceptor(1, 2, 3), min_isr=2)
    assert record is not None
    assert (record.leader, record.isr, record.leader_recovery_state) == (1, [1], 1)
    assert record.last_known_elr == []


def test_an_unclean_election_clears_the_elr() -> None:
    part = partition((1, 2, 3), (1,), 1, elr=(2,))
    record = build(part, isr=[], acceptable=acceptor(3), min_isr=2, unclean=True)
    assert record is not None
    assert (record.leader, record.isr, record.leader_recovery_state) == (3, [3], 1)
    assert record.eligible_leader_replicas == []


def test_a_preferred_election_with_elr_on_keeps_the_elr() -> None:
    part = partition((1, 2, 3), (2,), 2, elr=(1,))
    # 1 is the preferred replica but only in the ELR, and the ISR is not empty: no election.
    assert build(part, acceptable=acceptor(1, 2, 3), min_isr=2, election=PREFERRED) is None


def test_elr_off_keeps_the_last_isr_member_and_clears_the_elr() -> None:
    part = partition((1, 2, 3), (1,), 1, elr=(2,))
    record = build(part, isr=[], acceptable=acceptor())
    assert record is not None
    assert (record.leader, record.isr, record.eligible_leader_replicas) == (-1, None, [])
    assert record.last_known_elr is None


# -- the controller ---------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make(tmp_path: Path, clock: Clock) -> Iterator[Callable[[dict[str, int]], Controller]]:
    logs: list[SingleVoterLog] = []

    def start(levels: dict[str, int]) -> Controller:
        config = load_broker_config(
            None,
            {
                "log.dirs": str(tmp_path / "data"),
                "broker.session.timeout.ms": SESSION_TIMEOUT_MS,
                "min.insync.replicas": 2,
            },
        )
        log = SingleVoterLog(tmp_path / "data")
        logs.append(log)
        controller = Controller(
            config,
            log,
            cluster_id=CLUSTER_ID,
            now_ms=clock,
            rng=random.Random(7),
            bootstrap_levels=levels,
        )
        controller.start()
        return controller

    yield start
    for log in logs:
        log.close()


def register(controller: Controller, broker_id: int, previous_epoch: int = -1) -> int:
    answer = controller.broker_registration(
        BrokerRegistrationRequest(
            broker_id=broker_id,
            cluster_id=CLUSTER_ID,
            incarnation_id=uuid.uuid4(),
            listeners=[
                BrokerRegistrationRequest.Listener(
                    name="PLAINTEXT", host="127.0.0.1", port=9000 + broker_id
                )
            ],
            features=[
                BrokerRegistrationRequest.Feature(
                    name=name, min_supported_version=low, max_supported_version=high
                )
                for name, low, high in FEATURES
            ],
            log_dirs=[uuid.uuid5(uuid.NAMESPACE_OID, str(broker_id))],
            previous_broker_epoch=previous_epoch,
        )
    )
    assert answer.error_code == ec.NONE, answer
    return answer.broker_epoch


def heartbeat(controller: Controller, broker_id: int) -> bool:
    broker = controller.image.broker(broker_id)
    assert broker is not None
    answer = controller.broker_heartbeat(
        BrokerHeartbeatRequest(
            broker_id=broker_id,
            broker_epoch=broker.broker_epoch,
            current_metadata_offset=controller.image.offset,
        )
    )
    return not answer.is_fenced


def fence(controller: Controller, broker_id: int) -> None:
    """Let the broker's session expire and tick until it is fenced."""
    controller.membership.sessions[broker_id].last_contact_ms -= SESSION_TIMEOUT_MS + 1
    for _ in range(4):
        if not controller.tick():
            break
    broker = controller.image.broker(broker_id)
    assert broker is not None and broker.fenced


def cluster(make: Callable[[dict[str, int]], Controller], levels: dict[str, int]) -> Controller:
    """Brokers 1-3 unfenced, topic t with one partition on [1, 2, 3] led by 1."""
    controller = make(levels)
    for broker_id in (1, 2, 3):
        register(controller, broker_id)
        assert heartbeat(controller, broker_id)
    answer = controller.create_topics(
        CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name="t",
                    num_partitions=-1,
                    replication_factor=-1,
                    assignments=[
                        CreateTopicsRequest.CreatableReplicaAssignment(
                            partition_index=0, broker_ids=[1, 2, 3]
                        )
                    ],
                )
            ]
        )
    )
    assert answer.topics[0].error_code == ec.NONE
    return controller


def state(controller: Controller) -> tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    part = controller.image.partition("t", 0)
    assert part is not None
    return part.leader, tuple(part.isr), tuple(part.elr or ()), tuple(part.last_known_elr or ())


def test_fencing_below_min_isr_fills_the_elr_and_an_elr_member_leads_when_back(
    make: Callable[[dict[str, int]], Controller],
) -> None:
    controller = cluster(make, ELR_ON)
    fence(controller, 3)
    assert state(controller) == (1, (1, 2), (), ())  # still at min.insync.replicas
    fence(controller, 2)
    assert state(controller) == (1, (1,), (2,), ())  # 3 had left the ISR before: not eligible
    fence(controller, 1)
    assert state(controller) == (-1, (), (1, 2), (1,))
    # 2 comes back: it is in the ELR, the ISR is empty, so it leads (a clean election).
    assert heartbeat(controller, 2)
    assert state(controller) == (2, (2,), (1,), ())
    part = controller.image.partition("t", 0)
    assert part is not None and part.leader_recovery_state == 0


def test_a_broker_back_from_an_unclean_shutdown_leaves_the_elr(
    make: Callable[[dict[str, int]], Controller],
) -> None:
    controller = cluster(make, ELR_ON)
    for broker_id in (3, 2, 1):
        fence(controller, broker_id)
    assert state(controller) == (-1, (), (1, 2), (1,))
    epoch_2 = controller.image.broker(2).broker_epoch  # type: ignore[union-attr]
    # Broker 2 restarts after a clean shutdown (its marker held its epoch): it stays.
    register(controller, 2, previous_epoch=epoch_2)
    assert state(controller) == (-1, (), (1, 2), (1,))
    # Broker 1 crashed (no marker): out of the ELR.
    register(controller, 1, previous_epoch=-1)
    assert state(controller) == (-1, (), (2,), (1,))
    assert heartbeat(controller, 2)
    assert state(controller) == (2, (2,), (), ())


def test_the_last_known_leader_is_elected_when_no_eligible_replica_is_left(
    make: Callable[[dict[str, int]], Controller],
) -> None:
    controller = cluster(make, ELR_ON)
    for broker_id in (3, 2, 1):
        fence(controller, broker_id)
    register(controller, 2)
    register(controller, 1)
    assert state(controller) == (-1, (), (), (1,))
    assert heartbeat(controller, 1)  # the last leader, so the least data lost
    assert state(controller) == (1, (1,), (), ())
    part = controller.image.partition("t", 0)
    assert part is not None and part.leader_recovery_state == 1  # RECOVERING: unclean


def test_alter_partition_below_min_isr_moves_members_into_the_elr(
    make: Callable[[dict[str, int]], Controller],
) -> None:
    controller = cluster(make, ELR_ON)
    part = controller.image.partition("t", 0)
    topic = controller.image.topic("t")
    assert part is not None and topic is not None

    def alter(isr: list[int]) -> None:
        current = controller.image.partition("t", 0)
        assert current is not None
        answer = controller.alter_partition(
            AlterPartitionRequest(
                broker_id=1,
                broker_epoch=controller.image.broker(1).broker_epoch,  # type: ignore[union-attr]
                topics=[
                    AlterPartitionRequest.TopicData(
                        topic_id=topic.topic_id,
                        partitions=[
                            AlterPartitionRequest.PartitionData(
                                partition_index=0,
                                leader_epoch=current.leader_epoch,
                                partition_epoch=current.partition_epoch,
                                new_isr=isr,
                            )
                        ],
                    )
                ],
            )
        )
        assert answer.topics[0].partitions[0].error_code == ec.NONE, answer

    alter([1])
    assert state(controller) == (1, (1,), (2, 3), ())
    alter([1, 2])
    assert state(controller) == (1, (1, 2), (), ())


def test_a_min_insync_replicas_change_clears_the_elr(
    make: Callable[[dict[str, int]], Controller],
) -> None:
    controller = cluster(make, ELR_ON)
    fence(controller, 3)
    fence(controller, 2)
    assert state(controller)[2] == (2,)
    answer = controller.incremental_alter_configs(
        Alter(
            resources=[
                Alter.AlterConfigsResource(
                    resource_type=2,
                    resource_name="t",
                    configs=[
                        Alter.AlterableConfig(
                            name="min.insync.replicas", config_operation=0, value="1"
                        )
                    ],
                )
            ]
        )
    )
    assert answer.responses[0].error_code == ec.NONE
    batch = list(controller.log.read_committed(0))[-1]
    assert [type(r.message) for r in batch.records][-1] is ClearElrRecord
    assert batch.records[-1].message.topic_name == "t"
    assert state(controller)[2:] == ((), ())


def test_with_elr_off_the_last_isr_member_stays_and_no_elr_is_written(
    make: Callable[[dict[str, int]], Controller],
) -> None:
    controller = cluster(make, ELR_OFF)
    for broker_id in (3, 2, 1):
        fence(controller, broker_id)
    assert state(controller) == (-1, (1,), (), ())
    register(controller, 1)  # no marker: with ELR off nothing happens at registration
    assert state(controller) == (-1, (1,), (), ())
    assert heartbeat(controller, 1)
    assert state(controller) == (1, (1,), (), ())
    for batch in controller.log.read_committed(0):
        for r in batch.records:
            if isinstance(r.message, PartitionChangeRecord):
                assert r.message.eligible_leader_replicas is None
                assert r.message.last_known_elr is None


def test_an_image_without_elr_fields_reads_as_empty() -> None:
    part = replace(partition((1, 2), (1, 2), 1), elr=None, last_known_elr=None)
    assert build(part, isr=[1], acceptable=acceptor(1, 2), min_isr=2) is not None


def test_kafka_decodes_the_elr_records(
    make: Callable[[dict[str, int]], Controller], tmp_path: Path, kafka_classpath: str
) -> None:
    """Kafka's DumpLogSegments --cluster-metadata-decoder reads the ELR fields and the
    ClearElrRecord as we wrote them."""
    controller = cluster(make, ELR_ON)
    for broker_id in (3, 2, 1):
        fence(controller, broker_id)
    controller.incremental_alter_configs(
        Alter(
            resources=[
                Alter.AlterConfigsResource(
                    resource_type=4,
                    resource_name="",
                    configs=[
                        Alter.AlterableConfig(
                            name="min.insync.replicas", config_operation=0, value="1"
                        )
                    ],
                )
            ]
        )
    )
    payloads, dumped = dump_cluster_metadata(Path(controller.log.dir), work_dir=tmp_path / "dump")
    assert dumped.problems == []
    changes = [p["data"] for p in payloads if p["type"] == "PARTITION_CHANGE_RECORD"]
    assert [(c.get("eligibleLeaderReplicas"), c.get("lastKnownElr")) for c in changes] == [
        (None, None),  # 3 fenced: the ISR [1, 2] is at min.insync.replicas, no ELR
        ([2], None),
        ([1, 2], [1]),
    ], changes
    assert changes[-1]["isr"] == [] and changes[-1]["leader"] == -1
    clears = [p for p in payloads if p["type"] == "CLEAR_ELR_RECORD"]
    assert [(p["version"], p["data"].get("topicName")) for p in clears] == [(0, "")]
