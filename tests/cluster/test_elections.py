"""Leader elections on the controller (cluster/elections.py through Controller): ElectLeaders
PREFERRED and UNCLEAN with Kafka's per-partition errors, the automatic leader balancer and
the periodic unclean elector on an injected clock, and where unclean.leader.election.enable
is read from (topic, dynamic broker, dynamic cluster default, static)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferrokafka.cluster import Controller, SingleVoterLog, elections
from ferrokafka.config import load_broker_config
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.alter_partition import AlterPartitionRequest
from ferrokafka.protocol.messages.broker_heartbeat import BrokerHeartbeatRequest
from ferrokafka.protocol.messages.broker_registration import BrokerRegistrationRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest, ElectLeadersResponse
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
)

CLUSTER_ID = "elections-test-cluster"
CHECK_INTERVAL_S = 5
SESSION_TIMEOUT_MS = 3_600_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(tmp_path: Path, clock: Clock, **overrides: Any) -> Iterator[Controller]:
    config = load_broker_config(
        None,
        {
            "log.dirs": str(tmp_path / "data"),
            "leader.imbalance.check.interval.seconds": CHECK_INTERVAL_S,
            # Sessions outlive every clock jump here: only the elections are under test.
            "broker.session.timeout.ms": SESSION_TIMEOUT_MS,
            **overrides,
        },
    )
    log = SingleVoterLog(tmp_path / "data")
    controller = Controller(config, log, cluster_id=CLUSTER_ID, now_ms=clock, rng=random.Random(3))
    controller.start()
    yield controller
    log.close()


@pytest.fixture
def controller(tmp_path: Path, clock: Clock) -> Iterator[Controller]:
    yield from make(tmp_path, clock, **{"auto.leader.rebalance.enable": "false"})


@pytest.fixture
def balancing(tmp_path: Path, clock: Clock) -> Iterator[Controller]:
    yield from make(tmp_path, clock)


def heartbeat(controller: Controller, broker_id: int, **flags: bool) -> Any:
    broker = controller.image.broker(broker_id)
    assert broker is not None
    return controller.broker_heartbeat(
        BrokerHeartbeatRequest(
            broker_id=broker_id,
            broker_epoch=broker.broker_epoch,
            current_metadata_offset=controller.image.offset,
            **flags,
        )
    )


def start_brokers(controller: Controller, count: int) -> None:
    for broker_id in range(1, count + 1):
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
                        name="metadata.version", min_supported_version=7, max_supported_version=30
                    )
                ],
                log_dirs=[uuid.uuid4()],
            )
        )
        assert answer.error_code == ec.NONE
        assert not heartbeat(controller, broker_id).is_fenced


def create_topic(controller: Controller, name: str, partitions: int, factor: int) -> None:
    answer = controller.create_topics(
        CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=name, num_partitions=partitions, replication_factor=factor
                )
            ]
        )
    )
    assert answer.topics[0].error_code == ec.NONE, answer.topics[0].error_message


def alter_isr(controller: Controller, topic: str, index: int, isr: tuple[int, ...]) -> None:
    """The partition's leader asks for ``isr`` (AlterPartition), as a follower caught up."""
    image = controller.image
    found = image.topic(topic)
    assert found is not None
    part = found.partitions[index]
    leader = image.broker(part.leader)
    assert leader is not None
    answer = controller.alter_partition(
        AlterPartitionRequest(
            broker_id=part.leader,
            broker_epoch=leader.broker_epoch,
            topics=[
                AlterPartitionRequest.TopicData(
                    topic_id=found.topic_id,
                    partitions=[
                        AlterPartitionRequest.PartitionData(
                            partition_index=index,
                            leader_epoch=part.leader_epoch,
                            partition_epoch=part.partition_epoch,
                            new_isr_with_epochs=[
                                AlterPartitionRequest.BrokerState(broker_id=b, broker_epoch=-1)
                                for b in isr
                            ],
                        )
                    ],
                )
            ],
        )
    )
    assert answer.error_code == ec.NONE
    assert answer.topics[0].partitions[0].error_code == ec.NONE


def elect(
    controller: Controller, election_type: int, partitions: dict[str, list[int]] | None
) -> ElectLeadersResponse:
    return controller.elect_leaders(
        ElectLeadersRequest(
            election_type=election_type,
            topic_partitions=None
            if partitions is None
            else [
                ElectLeadersRequest.TopicPartitions(topic=t, partitions=p)
                for t, p in partitions.items()
            ],
        )
    )


def results(response: ElectLeadersResponse) -> dict[tuple[str, int], tuple[int, str | None]]:
    return {
        (r.topic, p.partition_id): (p.error_code, p.error_message)
        for r in response.replica_election_results
        for p in r.partition_result
    }


def leaders(controller: Controller, topic: str) -> dict[int, int]:
    found = controller.image.topic(topic)
    assert found is not None
    return {i: p.leader for i, p in found.partitions.items()}


def bounce(controller: Controller, broker_id: int) -> list[int]:
    """Fence ``broker_id`` and bring it back (unfenced, outside the ISRs); the partitions of
    "t" it had led."""
    led = [i for i, leader in leaders(controller, "t").items() if leader == broker_id]
    heartbeat(controller, broker_id, want_fence=True)
    heartbeat(controller, broker_id)
    for index in led:
        assert leaders(controller, "t")[index] != broker_id
    return led


def rejoin(controller: Controller, broker_id: int) -> None:
    found = controller.image.topic("t")
    assert found is not None
    for index, part in found.partitions.items():
        if broker_id not in part.isr:
            alter_isr(controller, "t", index, (*part.isr, broker_id))


# -- ElectLeaders PREFERRED ------------------------------------------------------------------


def test_preferred_election_waits_for_the_preferred_replica_to_be_in_sync(
    controller: Controller,
) -> None:
    start_brokers(controller, 3)
    create_topic(controller, "t", 3, 3)
    led = bounce(controller, 1)
    assert led
    partitions = {"t": sorted(leaders(controller, "t"))}
    out_of_sync = results(elect(controller, elections.PREFERRED, partitions))
    for index in led:  # 1 is not in the ISR yet: the leader stays
        assert out_of_sync[("t", index)] == (
            ec.PREFERRED_LEADER_NOT_AVAILABLE,
            "The preferred leader was not available.",
        )
    for index in set(partitions["t"]) - set(led):
        assert out_of_sync[("t", index)] == (
            ec.ELECTION_NOT_NEEDED,
            "Leader election not needed for topic partition.",
        )

    rejoin(controller, 1)
    before = controller.image.topic("t")
    assert before is not None
    answer = results(elect(controller, elections.PREFERRED, partitions))
    for index in led:
        assert answer[("t", index)] == (ec.NONE, None)
        part = controller.image.topic("t").partitions[index]  # type: ignore[union-attr]
        assert part.leader == 1 == part.replicas[0]
        assert part.leader_epoch == before.partitions[index].leader_epoch + 1
        assert part.isr == before.partitions[index].isr  # a clean election keeps the ISR
    # Every partition is led by its preferred replica: all partitions, nothing to report.
    everything = elect(controller, elections.PREFERRED, None)
    assert [(r.topic, r.partition_result) for r in everything.replica_election_results] == [
        ("t", [])
    ]


def test_unknown_topics_and_partitions(controller: Controller) -> None:
    start_brokers(controller, 1)
    create_topic(controller, "t", 1, 1)
    answer = results(elect(controller, elections.PREFERRED, {"t": [0, 7], "nope": [0]}))
    assert answer == {
        ("t", 0): (ec.ELECTION_NOT_NEEDED, "Leader election not needed for topic partition."),
        ("t", 7): (ec.UNKNOWN_TOPIC_OR_PARTITION, "No such partition as t-7"),
        ("nope", 0): (ec.UNKNOWN_TOPIC_OR_PARTITION, "No such topic as nope"),
    }


def test_an_unknown_election_type_is_an_invalid_request(controller: Controller) -> None:
    start_brokers(controller, 1)
    create_topic(controller, "t", 1, 1)
    offset = controller.log.committed_offset
    answer = elect(controller, 2, {"t": [0]})
    assert answer.error_code == ec.INVALID_REQUEST
    assert results(answer) == {("t", 0): (ec.INVALID_REQUEST, "Unknown election type 2")}
    assert controller.log.committed_offset == offset


# -- ElectLeaders UNCLEAN --------------------------------------------------------------------


def test_unclean_election_takes_a_live_replica_outside_the_isr(controller: Controller) -> None:
    start_brokers(controller, 2)
    create_topic(controller, "t", 1, 2)
    part = controller.image.topic("t").partitions[0]  # type: ignore[union-attr]
    leader, other = part.leader, next(r for r in part.replicas if r != part.leader)
    assert results(elect(controller, elections.UNCLEAN, {"t": [0]})) == {
        ("t", 0): (ec.ELECTION_NOT_NEEDED, "Leader election not needed for topic partition.")
    }
    heartbeat(controller, other, want_fence=True)  # leaves the ISR
    heartbeat(controller, other)
    heartbeat(controller, leader, want_fence=True)  # the last ISR member: leaderless
    part = controller.image.topic("t").partitions[0]  # type: ignore[union-attr]
    assert (part.leader, part.isr) == (-1, (leader,))
    # The topic does not allow unclean elections, but an explicit UNCLEAN request runs one.
    assert results(elect(controller, elections.UNCLEAN, {"t": [0]})) == {("t", 0): (ec.NONE, None)}
    part = controller.image.topic("t").partitions[0]  # type: ignore[union-attr]
    assert (part.leader, part.isr, part.leader_recovery_state) == (other, (other,), 1)


def test_unclean_election_without_a_live_replica(controller: Controller) -> None:
    start_brokers(controller, 2)
    create_topic(controller, "t", 1, 2)
    for broker_id in (1, 2):
        heartbeat(controller, broker_id, want_fence=True)
    assert leaders(controller, "t") == {0: -1}
    assert results(elect(controller, elections.UNCLEAN, {"t": [0]})) == {
        ("t", 0): (
            ec.ELIGIBLE_LEADERS_NOT_AVAILABLE,
            "Eligible topic partition leaders are not available.",
        )
    }
    assert results(elect(controller, elections.PREFERRED, {"t": [0]})) == {
        ("t", 0): (ec.PREFERRED_LEADER_NOT_AVAILABLE, "The preferred leader was not available.")
    }


# -- the automatic leader balancer -----------------------------------------------------------


def test_the_balancer_moves_leadership_back_once_the_preferred_replica_is_in_sync(
    balancing: Controller, clock: Clock
) -> None:
    start_brokers(balancing, 3)
    create_topic(balancing, "t", 3, 3)
    preferred = {i: p.replicas[0] for i, p in balancing.image.topic("t").partitions.items()}  # type: ignore[union-attr]
    led = bounce(balancing, 1)
    # Imbalanced: a round is due one check interval after the write that made it so.
    due = balancing.next_tick_ms()
    assert due is not None and due <= clock.now + CHECK_INTERVAL_S * 1000
    clock.now += CHECK_INTERVAL_S * 1000
    offset = balancing.log.committed_offset
    assert balancing.tick()  # a round ran: 1 is not in the ISRs, so it changed nothing
    assert balancing.log.committed_offset == offset
    rejoin(balancing, 1)
    assert all(leaders(balancing, "t")[i] != 1 for i in led)
    clock.now += CHECK_INTERVAL_S * 1000
    while balancing.tick():
        pass
    assert leaders(balancing, "t") == preferred


def test_no_balancing_when_disabled(controller: Controller, clock: Clock) -> None:
    start_brokers(controller, 3)
    create_topic(controller, "t", 3, 3)
    led = bounce(controller, 1)
    rejoin(controller, 1)
    clock.now += 100 * CHECK_INTERVAL_S * 1000
    while controller.tick():
        pass
    assert all(leaders(controller, "t")[i] != 1 for i in led)


def test_the_balancer_works_in_bounded_rounds(balancing: Controller, clock: Clock) -> None:
    start_brokers(balancing, 2)
    create_topic(balancing, "t", 6, 2)
    bounce(balancing, 1)
    rejoin(balancing, 1)
    records, more = elections.balance_partition_leaders(balancing.image, max_elections=2)
    assert (len(records), more) == (2, True)
    records, more = elections.balance_partition_leaders(balancing.image)
    assert (len(records), more) == (3, False)  # striping gave broker 1 half of the six


# -- the periodic unclean elector and where the setting comes from ---------------------------


def set_config(controller: Controller, resource_type: int, name: str, value: str) -> None:
    request = IncrementalAlterConfigsRequest(
        resources=[
            IncrementalAlterConfigsRequest.AlterConfigsResource(
                resource_type=resource_type,
                resource_name=name,
                configs=[
                    IncrementalAlterConfigsRequest.AlterableConfig(
                        name=elections.UNCLEAN_KEY, config_operation=0, value=value
                    )
                ],
            )
        ]
    )
    answer = controller.incremental_alter_configs(request)
    assert answer.responses[0].error_code == ec.NONE, answer.responses[0].error_message


def test_turning_unclean_elections_on_elects_a_leader_for_a_leaderless_partition(
    tmp_path: Path, clock: Clock
) -> None:
    for controller in make(tmp_path, clock, **{"unclean.leader.election.interval.ms": "1000"}):
        start_brokers(controller, 2)
        create_topic(controller, "t", 1, 2)
        part = controller.image.topic("t").partitions[0]  # type: ignore[union-attr]
        other = next(r for r in part.replicas if r != part.leader)
        heartbeat(controller, other, want_fence=True)
        heartbeat(controller, other)
        heartbeat(controller, part.leader, want_fence=True)
        assert leaders(controller, "t") == {0: -1}
        clock.now += 1000
        while controller.tick():
            pass
        assert leaders(controller, "t") == {0: -1}  # not allowed for this topic
        set_config(controller, 2, "t", "true")  # a topic override (dynamic)
        clock.now += 1000
        while controller.tick():
            pass
        part = controller.image.topic("t").partitions[0]  # type: ignore[union-attr]
        assert (part.leader, part.isr, part.leader_recovery_state) == (other, (other,), 1)


def test_where_unclean_leader_election_enable_comes_from(controller: Controller) -> None:
    start_brokers(controller, 1)
    create_topic(controller, "t", 1, 1)
    node = controller.config.node_id

    def enabled(static: bool = False) -> bool:
        return elections.unclean_enabled(controller.image, "t", node, static)

    assert not enabled() and enabled(static=True)
    set_config(controller, 4, "", "true")  # the cluster-wide dynamic default
    assert enabled()
    set_config(controller, 4, str(node), "false")  # this controller's dynamic broker config
    assert not enabled(static=True)
    set_config(controller, 2, "t", "TRUE")  # the topic's override wins
    assert enabled()
