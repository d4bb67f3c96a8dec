"""Reassignment decided by the ferrokafka controller, carried out by an Apache Kafka 4.4 broker:
three ``ferrokafka serve`` nodes (the quorum, brokers 1-3) and a Kafka broker-only node (4),
the harness of test_replication_kafka. Kafka's kafka-reassign-partitions moves a partition from
[1, 2] to [4, 1]: Kafka's broker reads our PartitionChangeRecords (adding/removing replicas),
creates its replica and fetches from the ferrokafka leader, which adds it to the ISR; the move
completes and broker 2 deletes its log. Then to [4, 3]: completing it moves the leader off
broker 1 onto Kafka's broker (a new leader epoch), which ferrokafka broker 3 follows. An
idempotent acks=all producer runs throughout: every acknowledged record is read back once, and
the Kafka leader's segment ends byte for byte equal to its ferrokafka follower's."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kraft_processes import KRaftCluster
from reassign_support import (
    NumberedProducer,
    check_no_loss_no_duplicate,
    describe,
    execute,
    read_partitions,
    verify_until_complete,
)
from test_replication_kafka import (  # the harness: Kafka broker 4 in our cluster
    KAFKA_ID,
    KafkaBrokerNode,
    mixed,
    wait_for_broker,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOPIC = "onto-kafka"
SEGMENT = "00000000000000000000.log"
RECORDS_PER_PHASE_S = 2.0
TIMEOUT_S = 90.0
__all__ = ["mixed"]  # the fixture, imported from test_replication_kafka


def create_topic(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    client = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(TOPIC, num_partitions=1, replica_assignment=[[1, 2]])
    client.create_topics([topic], operation_timeout=60)[TOPIC].result(60)


def plan(replicas: list[int]) -> dict[str, object]:
    return {"version": 1, "partitions": [{"topic": TOPIC, "partition": 0, "replicas": replicas}]}


def move(bootstrap: str, replicas: list[int], tool_dir: Path) -> None:
    executed = execute(bootstrap, plan(replicas), tool_dir)
    assert "Successfully started partition reassignment for onto-kafka-0" in executed, executed
    verify_until_complete(bootstrap, tool_dir)


def wait_same_bytes(leader: Path, follower: Path) -> int:
    deadline = time.monotonic() + TIMEOUT_S
    while not (
        leader.exists() and follower.exists() and leader.read_bytes() == follower.read_bytes()
    ):
        assert time.monotonic() < deadline, f"{follower} never equal to {leader}"
        time.sleep(0.2)
    return leader.stat().st_size


def test_a_kafka_broker_carries_out_our_controllers_reassignments(
    mixed: tuple[KRaftCluster, KafkaBrokerNode], tmp_path: Path
) -> None:
    cluster, kafka = mixed
    boot = cluster.bootstrap
    wait_for_broker(boot, KAFKA_ID)
    tool_dir = tmp_path / "tool"
    tool_dir.mkdir()
    create_topic(boot)
    producer = NumberedProducer(boot, TOPIC, 1)
    producer.start()
    try:
        time.sleep(RECORDS_PER_PHASE_S)  # some records before the first move
        move(boot, [KAFKA_ID, 1], tool_dir)
        leader, replicas, isr = describe(boot, TOPIC, tool_dir)[0]
        assert (leader, replicas, sorted(isr)) == (1, [KAFKA_ID, 1], [1, KAFKA_ID])
        broker2 = cluster.nodes[2].work_dir / "logs"
        assert not (broker2 / f"{TOPIC}-0").exists()  # renamed for deletion
        move(boot, [KAFKA_ID, 3], tool_dir)
        leader, replicas, isr = describe(boot, TOPIC, tool_dir)[0]
        assert (leader, replicas, sorted(isr)) == (KAFKA_ID, [KAFKA_ID, 3], [3, KAFKA_ID])
        time.sleep(RECORDS_PER_PHASE_S)  # records under the Kafka leader
    finally:
        producer.finish()
    assert producer.failed == [], producer.failed[:5]
    # The Kafka leader's segment and the ferrokafka follower's: the same bytes.
    size = wait_same_bytes(
        kafka.data_dir / f"{TOPIC}-0" / SEGMENT,
        cluster.nodes[3].work_dir / "logs" / f"{TOPIC}-0" / SEGMENT,
    )
    read = read_partitions(boot, TOPIC, 1, len(producer.acked))
    acked, got = check_no_loss_no_duplicate(producer.acked, read, "after two moves")
    print(f"{acked} acknowledged, {got} read; Kafka leader and ferrokafka follower: {size} B")
