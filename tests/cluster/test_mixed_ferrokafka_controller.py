"""An Apache Kafka 4.4 broker (``process.roles=broker``) in a cluster whose controller is a
ferrokafka controller-only node (``process.roles=controller``): Kafka's broker fetches
``__cluster_metadata`` from our controller as an observer, replays every record we wrote
(bootstrap feature levels at 4.4-IV2 from the formatted snapshot, its registration, the
topic), registers and heartbeats until unfenced; confluent-kafka creates a topic through it
(Kafka forwards CreateTopics to our controller in an Envelope), produces with acks=all and
reads it all back. Each node is its own process, stopped by PID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mixed_clients import consume, create_topic, produce, wait_leaders
from mixed_processes import FERROKAFKA, KAFKA, MixedCluster

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUR_CONTROLLER = 1
KAFKA_BROKER = 2
PARTITIONS = 3
RECORDS = 300


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


def test_kafka_broker_serves_under_a_ferrokafka_controller(cluster: MixedCluster) -> None:
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
    # Our controller-only node has no client listener.
    assert cluster.nodes[OUR_CONTROLLER].port == 0
