"""A controller quorum of two Apache Kafka 4.4 controllers and one ferrokafka controller (each
``process.roles=controller``, one static ``controller.quorum.voters``) with a ferrokafka
broker: the three elect one leader (every voter's ``quorum-state`` names it), the active
controller of either kind serves the broker (registration, heartbeats, CreateTopics), and the
cluster survives the loss of any one controller: each is killed in turn (SIGKILL; the leader
first while it is one), the other two agree on a leader, a new topic is created, produced to
and read back, and the killed one is restarted and rejoins before the next. Leaders of both
kinds are seen along the way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mixed_clients import consume, create_topic, produce, wait_leaders
from mixed_processes import FERROKAFKA, KAFKA, MixedCluster

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUR_CONTROLLER = 1
KAFKA_CONTROLLERS = (2, 3)
BROKER = 4
RECORDS = 100


@pytest.fixture
def cluster(tmp_path: Path, kafka_classpath: str) -> Iterator[MixedCluster]:
    made = MixedCluster(
        tmp_path / "cluster",
        {
            OUR_CONTROLLER: (FERROKAFKA, ("controller",)),
            KAFKA_CONTROLLERS[0]: (KAFKA, ("controller",)),
            KAFKA_CONTROLLERS[1]: (KAFKA, ("controller",)),
            BROKER: (FERROKAFKA, ("broker",)),
        },
        overrides={"broker.session.timeout.ms": "6000", "broker.heartbeat.interval.ms": "500"},
    )
    try:
        made.format()
        for node_id in made.nodes:
            made.start(node_id)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def _serves(cluster: MixedCluster, topic: str) -> None:
    bootstrap = cluster.nodes[BROKER].bootstrap
    create_topic(bootstrap, topic, 2)
    assert set(wait_leaders(bootstrap, topic, 2).values()) == {BROKER}
    produce(bootstrap, topic, RECORDS)
    values = consume(bootstrap, topic, RECORDS, f"{topic}-group")
    assert sorted(values) == sorted(f"v{i}".encode() for i in range(RECORDS))


def test_mixed_quorum_survives_the_loss_of_any_controller(cluster: MixedCluster) -> None:
    leader, epoch = cluster.wait_leader()
    kinds_led = {cluster.nodes[leader].kind}
    leaders_seen = [(leader, epoch)]
    _serves(cluster, "before")
    controllers = [OUR_CONTROLLER, *KAFKA_CONTROLLERS]
    killed: list[int] = []
    for round_number in range(len(controllers)):
        leader, epoch = cluster.wait_leader()
        victim = leader if leader not in killed else next(c for c in controllers if c not in killed)
        killed.append(victim)
        cluster.kill(victim)
        if victim == leader:
            leader, epoch = cluster.wait_leader(after_epoch=epoch)
            assert leader != victim
        kinds_led.add(cluster.nodes[leader].kind)
        leaders_seen.append((leader, epoch))
        _serves(cluster, f"without-{victim}")
        cluster.start(victim)
        rejoined = cluster.wait_leader()
        assert rejoined[1] >= epoch, (round_number, rejoined, epoch)
    assert sorted(killed) == sorted(controllers)
    assert kinds_led == {KAFKA, FERROKAFKA}, kinds_led
    print(f"controllers killed in turn {killed}; leaders seen {leaders_seen}")
    for node_id in KAFKA_CONTROLLERS:
        logged = cluster.nodes[node_id].logged()
        # Kafka's controllers replayed every record (ours too) without complaint.
        assert "Replayed a FeatureLevelRecord setting metadata.version to 4.4-IV2" in logged
        assert "MetadataLoader" in logged
        # Our controller registered itself with the active controller (Kafka's or its own):
        # Kafka's controllers replayed its RegisterControllerRecord.
        ours = (
            "Replayed RegisterControllerRecord containing "
            f"ControllerRegistration(id={OUR_CONTROLLER},"
        )
        assert ours in logged, node_id
        # Kafka's fault handlers log "Encountered <kind> fault" (a record it could not replay
        # among them). NotControllerException around a leader change is Kafka's own noise.
        faults = [ln for ln in logged.splitlines() if "Encountered" in ln and "fault" in ln]
        assert not faults, faults[:3]
        # Kafka 4.4's voters send UpdateRaftVoter to the leader even in a static quorum (KIP-853):
        # ours serves the API (NONE at kraft.version 0, as Kafka's leader), where Kafka logged
        # "ERROR Request OutboundRequest(... UpdateRaftVoterRequestData ...) failed due to
        # unsupported version error" before.
        failed = [
            ln
            for ln in logged.splitlines()
            if "UpdateRaftVoter" in ln and "unsupported version" in ln
        ]
        assert not failed, failed[:3]
