"""A ferrokafka broker (``process.roles=broker``) in a cluster whose controller quorum is one,
then three, Apache Kafka 4.4 controller-only nodes: it fetches ``__cluster_metadata`` from
Kafka as an observer, registers (Kafka's controller checks its features, listeners,
incarnation and log directories) and is unfenced, and serves what is assigned to it:
confluent-kafka creates a topic through it (forwarded to Kafka's controller), produces with
acks=all and reads it all back with a group consumer; Kafka's kafka-features sees the
finalized levels through it, kafka-leader-election goes through it to Kafka's controller, and
its controlled shutdown is granted by Kafka's controller.
Each node is its own process, stopped by PID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mixed_clients import consume, create_topic, produce, wait_leaders
from mixed_processes import FERROKAFKA, KAFKA, MixedCluster

from kafka_support.jars import run_kafka_tool
from kafka_support.opt_in import VARIANT_OPT_IN

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUR_BROKER = 10
PARTITIONS = 3
RECORDS = 300


@pytest.fixture(
    params=[pytest.param(1, marks=VARIANT_OPT_IN), 3],
    ids=["1-kafka-controller", "3-kafka-controllers"],
)
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_classpath: str
) -> Iterator[MixedCluster]:
    layout = {i: (KAFKA, ("controller",)) for i in range(1, request.param + 1)}
    layout[OUR_BROKER] = (FERROKAFKA, ("broker",))
    made = MixedCluster(tmp_path / "cluster", layout)
    try:
        made.format()
        for node_id in made.nodes:
            made.start(node_id)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def controllers_logged(cluster: MixedCluster) -> str:
    """What every Kafka controller logged (the active one says what it granted)."""
    return "".join(n.logged() for n in cluster.nodes.values() if n.is_controller)


def test_ferrokafka_broker_serves_under_a_kafka_controller(cluster: MixedCluster) -> None:
    broker = cluster.nodes[OUR_BROKER]
    controller_log = controllers_logged(cluster)
    # Kafka's controller registered our broker (with its log directory) and unfenced it once
    # it had caught up with its registration record (Kafka's own words).
    replayed = f"Replayed initial RegisterBrokerRecord for broker {OUR_BROKER}:"
    registered = [line for line in controller_log.splitlines() if replayed in line]
    assert registered and "logDirs=[]" not in registered[0], registered
    assert "maxSupportedVersion=33" in registered[0]
    assert f"request from broker {OUR_BROKER} to unfence has been granted" in controller_log
    create_topic(broker.bootstrap, "mixed-a", PARTITIONS)
    assert set(wait_leaders(broker.bootstrap, "mixed-a", PARTITIONS).values()) == {OUR_BROKER}
    produce(broker.bootstrap, "mixed-a", RECORDS)
    values = consume(broker.bootstrap, "mixed-a", RECORDS, "mixed-a-group")
    assert sorted(values) == sorted(f"v{i}".encode() for i in range(RECORDS))
    # The topic is in Kafka's metadata log: the controller wrote it.
    assert "mixed-a" in controllers_logged(cluster)
    # Kafka's kafka-features sees through our broker what the cluster finalized (the levels
    # Kafka's controller bootstrapped from its snapshot) and what we support.
    described = run_kafka_tool(
        "org.apache.kafka.tools.FeatureCommand",
        ["--bootstrap-server", broker.bootstrap, "describe"],
        work_dir=broker.work_dir,
    ).stdout
    features = {
        line.split()[1]: line for line in described.splitlines() if line.startswith("Feature:")
    }
    mv = features["metadata.version"]
    assert "SupportedMaxVersion: 4.4-IV2" in mv and "FinalizedVersionLevel: 4.4-IV2" in mv, mv
    assert "FinalizedVersionLevel: 1" in features["group.version"], described
    # Kafka's kafka-leader-election through our broker: ElectLeaders forwarded to Kafka's
    # controller, its answer (the preferred replica leads already) back to the tool.
    elected = run_kafka_tool(
        "org.apache.kafka.tools.LeaderElectionCommand",
        ["--bootstrap-server", broker.bootstrap, "--election-type", "PREFERRED",
         "--topic", "mixed-a", "--partition", "0"],
        work_dir=broker.work_dir,
    ).stdout  # fmt: skip
    assert "Valid replica already elected for partitions mixed-a-0" in elected, elected
    # Our broker stops cleanly: Kafka's controller grants its controlled shutdown.
    assert cluster.stop(OUR_BROKER) == 0
    assert f"request from broker {OUR_BROKER} to shut down has been granted" in (
        controllers_logged(cluster)
    )
    # Restarted, it registers again with a new incarnation (the same log directory), is
    # unfenced, leads its partitions again and serves every record it had.
    cluster.start(OUR_BROKER)
    cluster.wait_brokers()
    incarnations = {
        line.split("incarnationId=")[1].split(",")[0]
        for line in cluster.nodes[1].logged().splitlines()  # each controller replays them all
        if f"RegisterBrokerRecord(brokerId={OUR_BROKER}," in line
    }
    assert len(incarnations) == 2, incarnations
    assert f"Registering a new incarnation of broker {OUR_BROKER}" in controllers_logged(cluster)
    wait_leaders(broker.bootstrap, "mixed-a", PARTITIONS)
    again = consume(broker.bootstrap, "mixed-a", RECORDS, "mixed-a-again")
    assert sorted(again) == sorted(values)
