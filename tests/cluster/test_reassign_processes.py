"""Kafka's kafka-reassign-partitions against a cluster of ``ferrokafka serve`` processes (our
controller decides): a topic of two partitions on brokers 1 and 2 is moved to brokers 3 and 4
with --generate, --execute (with --throttle) and --verify while an idempotent acks=all producer
and a consumer run. Every acknowledged record is read back once, in order; kafka-topics
--describe shows the partitions on 3 and 4 with full ISRs; brokers 1 and 2 deleted their logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kraft_processes import KRaftCluster
from reassign_support import (
    NumberedProducer,
    RunningConsumer,
    check_no_loss_no_duplicate,
    describe,
    execute,
    generate,
    plan_replicas,
    read_partitions,
    verify_until_complete,
)

pytestmark = pytest.mark.kafka

TOPIC = "moving"
PARTITIONS = 2
THROTTLE_BYTES_PER_S = 50_000_000


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KRaftCluster]:
    """Three combined nodes (the quorum and brokers 1-3) and a broker-only node 4."""
    made = KRaftCluster(
        tmp_path / "cluster",
        brokers=1,
        overrides={
            "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "5000",
            "replica.fetch.backoff.ms": "200",
        },
    )
    with made.running():
        yield made


def create_topic(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    client = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(TOPIC, num_partitions=PARTITIONS, replica_assignment=[[1, 2], [2, 1]])
    client.create_topics([topic], operation_timeout=60)[TOPIC].result(60)


def test_kafka_reassign_partitions_moves_a_topic_under_load(
    cluster: KRaftCluster, tmp_path: Path
) -> None:
    boot = cluster.bootstrap
    tool_dir = tmp_path / "tool"
    tool_dir.mkdir()
    create_topic(boot)
    producer = NumberedProducer(boot, TOPIC, PARTITIONS)
    consumer = RunningConsumer(boot, TOPIC, PARTITIONS)
    producer.start()
    consumer.start()
    try:
        plan = generate(boot, TOPIC, [3, 4], tool_dir)
        assert all(sorted(r) == [3, 4] for r in plan_replicas(plan).values()), plan
        executed = execute(boot, plan, tool_dir, "--throttle", str(THROTTLE_BYTES_PER_S))
        assert "Successfully started partition reassignments" in executed, executed
        verified, runs = verify_until_complete(boot, tool_dir)
        assert "Clearing broker-level throttles" in verified, verified
    finally:
        producer.finish()
    acked = producer.acked
    assert producer.failed == [], producer.failed[:5]
    consumer.finish_when_read(set(acked))
    print(f"{len(acked)} acknowledged; --verify ran {runs} times; consumer read {consumer.count}")
    check_no_loss_no_duplicate(acked, consumer.values, "the consumer that ran throughout")
    after = describe(boot, TOPIC, tool_dir)
    for partition, replicas in plan_replicas(plan).items():
        leader, described, isr = after[partition]
        assert described == replicas and sorted(isr) == [3, 4] and leader in (3, 4), after
    read = read_partitions(boot, TOPIC, PARTITIONS, len(acked))
    check_no_loss_no_duplicate(acked, read, "a reader after the move")
    for node_id in (1, 2):
        logs = cluster.nodes[node_id].work_dir / "logs"
        live = [p.name for p in logs.iterdir() if p.name.startswith(TOPIC) and p.is_dir()]
        assert all(name.endswith("-delete") for name in live), (node_id, live)
