"""Three brokers in one process sharing one controller (ferrokafka.testing.run_cluster), used
by clients we did not write: confluent-kafka sees three brokers and creates a topic whose
partitions the controller spreads over them, its producer sends each partition's records to
that partition's leader, kafka-python reads them back from every leader, and a broker asked
for a partition it does not lead answers NOT_LEADER_OR_FOLLOWER (the client's cue to refresh
its metadata), where a partition unknown to the cluster is UNKNOWN_TOPIC_OR_PARTITION; and a
consumer group is coordinated by the leader of its __consumer_offsets partition."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient

from ferrokafka.groups.coordinator import partition_for
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.storage import BatchBuilder
from ferrokafka.testing.cluster import RunningCluster, run_cluster
from kafka import KafkaConsumer, TopicPartition

TOPIC = "spread"
PARTITIONS = 6
RECORDS_PER_PARTITION = 20
DEADLINE_S = 30.0
PRODUCE_V = 9


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    # No replication yet: a replication factor of 1 for the data and offsets topics.
    overrides = {"offsets.topic.replication.factor": 1, "offsets.topic.num.partitions": 6}
    with run_cluster(3, tmp_path_factory.mktemp("cluster"), overrides) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        futures = admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)], operation_timeout=10)
        futures[TOPIC].result(timeout=DEADLINE_S)
        yield running


def leaders(cluster: RunningCluster) -> dict[int, int]:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    return {index: part.leader for index, part in topic.partitions.items()}


def test_clients_see_three_brokers_and_partitions_spread_over_them(
    cluster: RunningCluster,
) -> None:
    admin = AdminClient({"bootstrap.servers": cluster.brokers[0].bootstrap_servers})
    metadata = admin.list_topics(timeout=DEADLINE_S)
    assert sorted(metadata.brokers) == [1, 2, 3]
    ports = {b.config.node_id: int(b.bootstrap_servers.rsplit(":", 1)[1]) for b in cluster.brokers}
    assert {i: m.port for i, m in metadata.brokers.items()} == ports
    seen = {p.id: p.leader for p in metadata.topics[TOPIC].partitions.values()}
    assert seen == leaders(cluster)
    assert set(seen.values()) == {1, 2, 3}
    for broker in cluster.brokers:  # every broker hosts what it leads, and only that
        hosted = {i for i in range(PARTITIONS) if broker.partition(TOPIC, i) is not None}
        assert hosted == {i for i, leader in seen.items() if leader == broker.config.node_id}


def test_producer_and_consumer_go_to_each_partition_leader(cluster: RunningCluster) -> None:
    producer = Producer({"bootstrap.servers": cluster.brokers[1].bootstrap_servers, "acks": "all"})
    failures: list[object] = []
    for partition in range(PARTITIONS):
        for i in range(RECORDS_PER_PARTITION):
            producer.produce(
                TOPIC,
                value=b"%d-%d" % (partition, i),
                partition=partition,
                on_delivery=lambda err, _msg: err and failures.append(err),
            )
    assert producer.flush(DEADLINE_S) == 0
    assert failures == []

    consumer = KafkaConsumer(
        bootstrap_servers=cluster.brokers[2].bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=2_000,
    )
    try:
        parts = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        got: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
        deadline = time.monotonic() + DEADLINE_S
        total = PARTITIONS * RECORDS_PER_PARTITION
        while sum(map(len, got.values())) < total and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                got[tp.partition] += [r.value for r in records]
    finally:
        consumer.close()
    for partition in range(PARTITIONS):
        assert got[partition] == [b"%d-%d" % (partition, i) for i in range(RECORDS_PER_PARTITION)]
    # Each leader wrote its partitions' records; the other brokers have none of them.
    for partition, leader in leaders(cluster).items():
        hosted = cluster.broker(leader).partition(TOPIC, partition)
        assert hosted is not None and hosted.high_watermark >= RECORDS_PER_PARTITION


def _produce(broker: str, topic: str, partition: int) -> int:
    builder = BatchBuilder()
    builder.append(b"x", key=b"k")
    request = ProduceRequest(
        acks=1,
        timeout_ms=5_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=topic,
                topic_id=uuid.UUID(int=0),
                partition_data=[
                    ProduceRequest.PartitionProduceData(index=partition, records=builder.build())
                ],
            )
        ],
    )
    with RawClient(broker) as client:
        answer = client.call(request, PRODUCE_V)
    return answer.responses[0].partition_responses[0].error_code


def test_a_broker_that_does_not_lead_answers_not_leader(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    partition, leader = next(iter(leaders(cluster).items()))
    other = next(b for b in cluster.brokers if b.config.node_id != leader)
    assert _produce(other.bootstrap_servers, TOPIC, partition) == ec.NOT_LEADER_OR_FOLLOWER
    assert _produce(cluster.broker(leader).bootstrap_servers, TOPIC, partition) == ec.NONE
    assert _produce(other.bootstrap_servers, TOPIC, PARTITIONS) == ec.UNKNOWN_TOPIC_OR_PARTITION
    assert _produce(other.bootstrap_servers, "absent", 0) == ec.UNKNOWN_TOPIC_OR_PARTITION


GROUP_TOPIC = "grouped"


def test_a_consumer_group_finds_its_coordinator_on_the_partition_leader(
    cluster: RunningCluster,
) -> None:
    """Two confluent-kafka consumers of one group: FindCoordinator sends them to the leader of
    the group's __consumer_offsets partition (spread over the three brokers), which loaded it
    when it became leader; they split the topic, consume it whole and commit, and the
    committed offsets read back through another broker's admin client."""
    admin = AdminClient({"bootstrap.servers": cluster.brokers[0].bootstrap_servers})
    admin.create_topics([NewTopic(GROUP_TOPIC, PARTITIONS, 1)])[GROUP_TOPIC].result(DEADLINE_S)
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    total = PARTITIONS * RECORDS_PER_PARTITION
    for i in range(total):
        producer.produce(GROUP_TOPIC, value=b"%d" % i, partition=i % PARTITIONS)
    assert producer.flush(DEADLINE_S) == 0

    group = "spread-group"
    consumers = [
        Consumer(
            {
                "bootstrap.servers": cluster.brokers[n].bootstrap_servers,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 10_000,
            }
        )
        for n in (0, 2)
    ]
    seen: list[bytes] = []
    try:
        for consumer in consumers:
            consumer.subscribe([GROUP_TOPIC])
        deadline = time.monotonic() + DEADLINE_S * 2
        while len(seen) < total and time.monotonic() < deadline:
            for consumer in consumers:
                message = consumer.poll(0.2)
                if message is not None and message.error() is None:
                    seen.append(message.value())
        assert sorted(seen, key=int) == [b"%d" % i for i in range(total)]
        assignments = [{tp.partition for tp in c.assignment()} for c in consumers]
        for consumer in consumers:
            consumer.commit(asynchronous=False)
    finally:
        for consumer in consumers:
            consumer.close()
    assert sorted(assignments[0] | assignments[1]) == list(range(PARTITIONS))

    offsets_topic = cluster.controller.image.topic("__consumer_offsets")
    assert offsets_topic is not None
    assert {p.leader for p in offsets_topic.partitions.values()} == {1, 2, 3}
    description = admin.describe_consumer_groups([group])[group].result(DEADLINE_S)
    index = partition_for(group, len(offsets_topic.partitions))
    assert description.coordinator.id == offsets_topic.partitions[index].leader
    reader = AdminClient({"bootstrap.servers": cluster.brokers[1].bootstrap_servers})
    request = ConsumerGroupTopicPartitions(group)
    committed = reader.list_consumer_group_offsets([request])[group].result(DEADLINE_S)
    assert {tp.partition: tp.offset for tp in committed.topic_partitions} == {
        p: RECORDS_PER_PARTITION for p in range(PARTITIONS)
    }
