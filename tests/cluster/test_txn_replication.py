"""Transactions across replicas (in-process cluster of 2, a topic of replication factor 2):
transactional batches and WriteTxnMarkers go to the leader over the wire; the marker is
answered once the high watermark covers it (acks=-1), and the follower, which replicates the
markers like any batch, ends up with the leader's producer transactions, LSO and transaction
index (the abort is in its own .txnindex); confluent-kafka's read_committed consumer reads the
committed records only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient

from ferrokafka.partition import Partition
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.protocol.messages.write_txn_markers import WriteTxnMarkersRequest
from ferrokafka.storage import BatchBuilder
from ferrokafka.testing.cluster import RunningCluster, run_cluster, wait_for

TOPIC = "txn-replicated"
DEADLINE_S = 30.0
PRODUCE_V = 11
MARKERS_V = 1
A, B = 8001, 8002
POLL_S = 0.5
# Empty polls after the first record before the consumer counts as done.
IDLE_POLLS = 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    # Transactional batches written by hand, without a coordinator that knows them: the
    # leaders' verification (KIP-890) off, as it would have to be on Kafka.
    overrides = {
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "transaction.partition.verification.enable": "false",
    }
    with run_cluster(2, tmp_path_factory.mktemp("cluster"), overrides) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        topic = NewTopic(TOPIC, 1, 2, config={"min.insync.replicas": "2"})
        admin.create_topics([topic], operation_timeout=10)[TOPIC].result(timeout=DEADLINE_S)
        wait_for(lambda: len(replicas(running)) == 2, "both replicas")
        yield running


def replicas(cluster: RunningCluster) -> dict[int, Partition]:
    found = {}
    for broker in cluster.brokers:
        partition = broker.partition(TOPIC, 0)
        if partition is not None and partition.leader_epoch >= 0:
            found[broker.config.node_id] = partition
    return found


def leader_id(cluster: RunningCluster) -> int:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    return topic.partitions[0].leader


def produce(client: RawClient, pid: int, values: list[bytes]) -> int:
    builder = BatchBuilder(
        producer_id=pid, producer_epoch=0, base_sequence=0, is_transactional=True
    )
    for value in values:
        builder.append(value, key=b"k")
    request = ProduceRequest(
        transactional_id="tx",
        acks=-1,
        timeout_ms=10_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=TOPIC,
                topic_id=uuid.UUID(int=0),
                partition_data=[
                    ProduceRequest.PartitionProduceData(index=0, records=builder.build())
                ],
            )
        ],
    )
    response = client.call(request, PRODUCE_V).responses[0].partition_responses[0]
    assert response.error_code == 0, response
    return int(response.base_offset)


def write_marker(client: RawClient, pid: int, commit: bool) -> int:
    request = WriteTxnMarkersRequest(
        markers=[
            WriteTxnMarkersRequest.WritableTxnMarker(
                producer_id=pid,
                producer_epoch=0,
                transaction_result=commit,
                coordinator_epoch=1,
                topics=[
                    WriteTxnMarkersRequest.WritableTxnMarkerTopic(name=TOPIC, partition_indexes=[0])
                ],
            )
        ]
    )
    response = client.call(request, MARKERS_V)
    return int(response.markers[0].topics[0].partitions[0].error_code)


def committed_values(bootstrap: str) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "txn-replicated",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        consumer.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
        values: list[bytes] = []
        deadline = time.monotonic() + DEADLINE_S
        idle = 0  # empty polls since the first record
        while time.monotonic() < deadline and idle < IDLE_POLLS:
            message = consumer.poll(POLL_S)
            if message is None:
                idle += 1 if values else 0
                continue
            assert message.error() is None, message.error()
            values.append(message.value())
        return values
    finally:
        consumer.close()


def test_markers_replicate_with_the_transaction_state(cluster: RunningCluster) -> None:
    leader = leader_id(cluster)
    with RawClient(cluster.broker(leader).bootstrap_servers) as client:
        assert produce(client, A, [b"a0", b"a1"]) == 0  # 0-1
        assert produce(client, B, [b"b0"]) == 2  # 2
        assert write_marker(client, A, commit=False) == 0  # 3
        parts = replicas(cluster)
        # acks=-1: answered once the HW covers the marker, so the follower has it.
        assert parts[leader].high_watermark >= 4
        assert write_marker(client, B, commit=True) == 0  # 4
    follower = next(p for node, p in parts.items() if node != leader)
    wait_for(lambda: follower.high_watermark == 5, "the follower's high watermark at 5")
    for partition in parts.values():
        assert partition.last_stable_offset == 5
        assert partition.log.collect_aborted_txns(0, 5) == [(A, 0)]
        assert partition.producers.txns.ongoing == {}
        assert partition.producers.producers[B].coordinator_epoch == 1
    assert committed_values(cluster.bootstrap_servers) == [b"b0"]


def test_an_open_transaction_holds_the_lso_on_every_replica(cluster: RunningCluster) -> None:
    leader = leader_id(cluster)
    with RawClient(cluster.broker(leader).bootstrap_servers) as client:
        first = produce(client, 8003, [b"open"])
    parts = replicas(cluster)
    follower = next(p for node, p in parts.items() if node != leader)
    wait_for(lambda: follower.high_watermark == first + 1, "the follower's high watermark")
    for partition in parts.values():
        assert partition.last_stable_offset == first
        assert partition.producers.txns.ongoing == {first: 8003}
