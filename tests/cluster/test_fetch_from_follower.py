"""Fetch from the closest replica (KIP-392) on an in-process cluster of three brokers in three
racks with ``replica.selector.class=RackAwareReplicaSelector``: a real consumer (librdkafka, with
``client.rack``) is told by the leader to read from the follower in its rack and reads every
record from that follower; on the wire, the leader answers a rack-tagged Fetch with the
preferred read replica and no records, a follower serves Fetch v11+ up to its own high
watermark, and refuses older consumer fetches with NOT_LEADER_OR_FOLLOWER."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient

from ferrokafka.config.broker_keys import RACK_AWARE_SELECTOR
from ferrokafka.partition import Partition
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.testing.cluster import RunningCluster, run_cluster, wait_for

TOPIC = "racks"
RECORDS = 300
DEADLINE_S = 30.0
FETCH_V = 17
# The last consumer Fetch without client metadata (rack_id came in v11).
FETCH_V_NO_RACK = 10


def rack(node_id: int) -> str:
    return f"rack-{node_id}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    overrides = {
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "replica.selector.class": RACK_AWARE_SELECTOR,
        "replica.fetch.backoff.ms": 100,
    }
    racks = {i: {"broker.rack": rack(i)} for i in (1, 2, 3)}
    with run_cluster(3, tmp_path_factory.mktemp("cluster"), overrides, racks) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        topic = NewTopic(TOPIC, 1, 3)
        admin.create_topics([topic], operation_timeout=10)[TOPIC].result(timeout=DEADLINE_S)
        producer = Producer({"bootstrap.servers": running.bootstrap_servers, "acks": "all"})
        for i in range(RECORDS):
            producer.produce(TOPIC, value=b"v%d" % i, partition=0)
        assert producer.flush(DEADLINE_S) == 0
        wait_for(lambda: len(state(running).isr) == 3, "a full ISR")
        yield running


def state(cluster: RunningCluster) -> Any:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    return topic.partitions[0]


def replica(cluster: RunningCluster, node_id: int) -> Partition:
    found = cluster.broker(node_id).partition(TOPIC, 0)
    assert found is not None
    return found


def count_consumer_reads(partition: Partition) -> list[int]:
    """Count the reads this replica serves to consumers (not to followers)."""
    served = [0]
    real = partition.read

    def counting(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("follower", False):
            served[0] += 1
        return real(*args, **kwargs)

    partition.read = counting  # type: ignore[method-assign]
    return served


def fetch(cluster: RunningCluster, node_id: int, version: int, rack_id: str = "") -> Any:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    request = FetchRequest(
        replica_id=-1,
        max_wait_ms=0,
        max_bytes=1 << 20,
        session_epoch=-1,
        rack_id=rack_id,
        topics=[
            FetchRequest.FetchTopic(
                topic=TOPIC,
                topic_id=topic.topic_id,
                partitions=[
                    FetchRequest.FetchPartition(
                        partition=0, fetch_offset=0, partition_max_bytes=1 << 20
                    )
                ],
            )
        ],
    )
    with RawClient(cluster.broker(node_id).bootstrap_servers) as client:
        answer = client.call(request, version)
    return answer.responses[0].partitions[0]


def test_the_leader_names_the_follower_in_the_consumers_rack(cluster: RunningCluster) -> None:
    part = state(cluster)
    follower = next(r for r in part.replicas if r != part.leader)
    answer = fetch(cluster, part.leader, FETCH_V, rack_id=rack(follower))
    assert answer.error_code == ec.NONE
    assert answer.preferred_read_replica == follower
    assert not answer.records
    assert answer.high_watermark == RECORDS
    # In the leader's own rack, or with no rack: the leader serves, and names no one.
    for rack_id in (rack(part.leader), ""):
        own = fetch(cluster, part.leader, FETCH_V, rack_id=rack_id)
        assert own.preferred_read_replica == -1 and own.records


def test_a_follower_serves_new_consumer_fetches_only(cluster: RunningCluster) -> None:
    part = state(cluster)
    follower = next(r for r in part.replicas if r != part.leader)
    wait_for(lambda: replica(cluster, follower).high_watermark == RECORDS, "the follower's HW")
    served = fetch(cluster, follower, FETCH_V)
    assert served.error_code == ec.NONE and served.high_watermark == RECORDS
    assert served.preferred_read_replica == -1 and served.records
    refused = fetch(cluster, follower, FETCH_V_NO_RACK)
    assert refused.error_code == ec.NOT_LEADER_OR_FOLLOWER


def test_a_librdkafka_consumer_reads_everything_from_the_follower_in_its_rack(
    cluster: RunningCluster,
) -> None:
    part = state(cluster)
    follower = next(r for r in part.replicas if r != part.leader)
    from_follower = count_consumer_reads(replica(cluster, follower))
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap_servers,
            "group.id": "racks",
            "client.rack": rack(follower),
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(TOPIC, 0, 0)])
    values: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while len(values) < RECORDS and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                values.append(message.value())
    finally:
        consumer.close()
    assert values == [b"v%d" % i for i in range(RECORDS)]
    assert from_follower[0] > 0, "the follower in the consumer's rack served no fetch"
