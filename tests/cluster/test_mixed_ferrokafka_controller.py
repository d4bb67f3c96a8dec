"""An Apache Kafka 4.4 broker (``process.roles=broker``) in a cluster whose controller is a
ferrokafka controller-only node (``process.roles=controller``): Kafka's broker fetches
``__cluster_metadata`` from our controller as an observer, replays every record we wrote
(bootstrap feature levels at 4.4-IV2 from the formatted snapshot, its registration, the
topic), registers and heartbeats until unfenced; confluent-kafka creates a topic through it
(Kafka forwards CreateTopics to our controller in an Envelope), produces with acks=all and
reads it all back; Kafka's kafka-leader-election goes the same way (ElectLeaders). Each node
is its own process, stopped by PID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mixed_clients import consume, create_topic, produce, wait_leaders
from mixed_processes import FERROKAFKA, KAFKA, MixedCluster

from kafka_support.jars import dump_log_segments_class, run_kafka_tool

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUR_CONTROLLER = 1
KAFKA_BROKER = 2
PARTITIONS = 3
RECORDS = 300
SIGTERM_EXIT = 143  # a JVM stopped by SIGTERM after its shutdown hooks ran


@pytest.fixture
def cluster(tmp_path: Path, kafka_classpath: str) -> Iterator[MixedCluster]:
    made = MixedCluster(
        tmp_path / "cluster",
        {OUR_CONTROLLER: (FERROKAFKA, ("controller",)), KAFKA_BROKER: (KAFKA, ("broker",))},
    )
    try:
        made.format()
        made.start(OUR_CONTROLLER)
        made.start(KAFKA_BROKER)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def test_kafka_broker_serves_under_a_ferrokafka_controller(
    cluster: MixedCluster, kafka_classpath: str
) -> None:
    broker = cluster.nodes[KAFKA_BROKER]
    create_topic(broker.bootstrap, "mixed-b", PARTITIONS)
    assert set(wait_leaders(broker.bootstrap, "mixed-b", PARTITIONS).values()) == {KAFKA_BROKER}
    produce(broker.bootstrap, "mixed-b", RECORDS)
    values = consume(broker.bootstrap, "mixed-b", RECORDS, "mixed-b-group")
    assert sorted(values) == sorted(f"v{i}".encode() for i in range(RECORDS))
    kafka_log = broker.logged()
    # Kafka's broker replayed our records at the formatted metadata.version and was unfenced.
    assert "metadata.version" in kafka_log
    assert "4.4-IV2" in kafka_log, kafka_log[-3000:]
    assert "ERROR" not in kafka_log, [ln for ln in kafka_log.splitlines() if "ERROR" in ln][:5]
    # Our controller registered itself with itself, as Kafka's controllers do.
    assert f"controller {OUR_CONTROLLER} registered" in cluster.nodes[OUR_CONTROLLER].logged()
    # Our controller-only node has no client listener.
    assert cluster.nodes[OUR_CONTROLLER].port == 0
    # ElectLeaders through Kafka's broker reaches our controller in an Envelope; its answer
    # (the preferred replica leads already) comes back to Kafka's own tool.
    elected = run_kafka_tool(
        "org.apache.kafka.tools.LeaderElectionCommand",
        ["--bootstrap-server", broker.bootstrap, "--election-type", "PREFERRED",
         "--topic", "mixed-b", "--partition", "0"],
        work_dir=broker.work_dir,
    ).stdout  # fmt: skip
    assert "Valid replica already elected for partitions mixed-b-0" in elected, elected
    # Kafka's broker stops on SIGTERM (a JVM's exit code 143) after its controlled shutdown,
    # which our controller recorded; Kafka's DumpLogSegments decodes our whole metadata log.
    assert cluster.stop(KAFKA_BROKER) == SIGTERM_EXIT
    segment = (
        cluster.nodes[OUR_CONTROLLER].work_dir
        / "metadata"
        / "__cluster_metadata-0"
        / "00000000000000000000.log"
    )
    dumped = run_kafka_tool(
        dump_log_segments_class(kafka_classpath),
        ["--cluster-metadata-decoder", "--files", str(segment)],
        work_dir=broker.work_dir,
    )
    assert "Exception" not in dumped.stderr + dumped.stdout, dumped.stderr[-2000:]
    changes = [
        line
        for line in dumped.stdout.splitlines()
        if "BROKER_REGISTRATION_CHANGE_RECORD" in line and f'"brokerId":{KAFKA_BROKER}' in line
    ]
    assert any('"inControlledShutdown":1' in line for line in changes), changes
