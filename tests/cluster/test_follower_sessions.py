"""Followers fetch in incremental fetch sessions (KIP-227) and learn the high watermark at once
(KIP-1166's known high watermark), in an in-process cluster of three brokers.

A topic of PARTITIONS partitions all led by broker 1 and followed by 2 and 3: after a real
client (confluent-kafka) produced to every partition with acks=all, each follower's fetcher
holds a session with broker 1 and its steady fetches are incremental (they name no partition
when nothing changed). The request bytes of a full fetch and of an incremental one for the
same positions are printed (the README's figure).

``replica.fetch.wait.max.ms`` is long (FETCH_WAIT_MS): a leader that parked a follower's
fetch until then would leave the follower's high watermark behind for that long after an
acks=all produce; the followers must have the leader's within HW_DEADLINE_S, far less.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.partition.fetch_session_handler import INVALID_SESSION_ID
from ferrokafka.partition.follower_fetch import fetch_request
from ferrokafka.partition.replica_fetcher import ReplicaFetcher
from ferrokafka.protocol import encode_request
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.header import RequestHeader
from ferrokafka.testing.cluster import RunningCluster, run_cluster, wait_for

MANY = "many"
PARTITIONS = 120
HW_TOPIC = "hw"
FETCH_WAIT_MS = 60_000
HW_DEADLINE_S = 15.0
DEADLINE_S = 60.0
FETCH_V = 18


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    overrides = {
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "replica.fetch.wait.max.ms": FETCH_WAIT_MS,
        "replica.fetch.backoff.ms": 100,
    }
    with run_cluster(3, tmp_path_factory.mktemp("cluster"), overrides) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        # Both topics at once: a follower's fetch parked at the leader (up to FETCH_WAIT_MS)
        # would hold back partitions added to its fetcher later.
        topics = [
            NewTopic(MANY, num_partitions=PARTITIONS, replica_assignment=[[1, 2, 3]] * PARTITIONS),
            NewTopic(HW_TOPIC, num_partitions=1, replica_assignment=[[1, 2, 3]]),
        ]
        for future in admin.create_topics(topics, operation_timeout=30).values():
            future.result(timeout=DEADLINE_S)
        yield running


def produce(cluster: RunningCluster, topic: str, partitions: int) -> None:
    producer = Producer(
        {"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "linger.ms": 5}
    )
    failures: list[KafkaError] = []
    for partition in range(partitions):
        producer.produce(
            topic,
            value=b"v%d" % partition,
            partition=partition,
            on_delivery=lambda err, _msg: err and failures.append(err),
        )
    assert producer.flush(DEADLINE_S) == 0
    assert failures == []


def fetcher(cluster: RunningCluster, node_id: int, source_id: int) -> ReplicaFetcher:
    node = cluster.broker(node_id).broker.node
    assert node is not None and node.replicas.fetchers is not None
    return node.replicas.fetchers.fetchers[source_id]


def replicas_agree(cluster: RunningCluster, topic: str, index: int) -> bool:
    """The same log end and high watermark on every broker, the HW covering the log."""
    found = set()
    for broker in cluster.brokers:
        partition = broker.partition(topic, index)
        if partition is None:
            return False
        found.add((partition.log_end_offset, partition.high_watermark))
    return len(found) == 1 and next(iter(found))[0] == next(iter(found))[1]


def request_bytes(request: FetchRequest) -> int:
    header = RequestHeader(
        request_api_key=FetchRequest.API_KEY,
        request_api_version=FETCH_V,
        correlation_id=1,
        client_id="ferrokafka-replica-fetcher-2",
    )
    return len(encode_request(header, request))


def test_followers_fetch_in_incremental_sessions(cluster: RunningCluster) -> None:
    produce(cluster, MANY, PARTITIONS)
    for index in range(PARTITIONS):
        wait_for(lambda index=index: replicas_agree(cluster, MANY, index), f"{MANY}-{index}")
    for node_id in (2, 3):
        handler = fetcher(cluster, node_id, 1).session
        wait_for(lambda handler=handler: handler.incremental_fetches > 0, f"{node_id}: incremental")
        assert handler.session_id != INVALID_SESSION_ID, handler
        assert handler.sessions_opened >= 1
        # Steady state: incremental fetches, a full one only to open the session.
        assert handler.incremental_fetches > handler.full_fetches, handler
        assert len(handler.partitions) == PARTITIONS + 1, handler
    # Request bytes per fetch of the same positions: full (every fetch before sessions) and
    # incremental (a steady fetch names no partition; one moved partition adds one entry).
    handler = fetcher(cluster, 2, 1).session
    positions = list(handler.partitions.values())
    node = cluster.broker(2).broker.node
    assert node is not None and node.replicas.fetchers is not None
    config = node.replicas.fetchers.config
    full = request_bytes(fetch_request(2, 1, positions, config, FETCH_V))
    steady = request_bytes(
        fetch_request(2, 1, [], config, FETCH_V, session_id=handler.session_id, session_epoch=5)
    )
    one = request_bytes(
        fetch_request(
            2, 1, positions[:1], config, FETCH_V, session_id=handler.session_id, session_epoch=5
        )
    )
    print(f"fetch request bytes, {len(positions)} partitions: full {full}, incremental {steady}")
    print(f"incremental naming one moved partition: {one}")
    assert steady < one < full


def test_followers_learn_the_high_watermark_without_waiting_for_the_fetch_wait(
    cluster: RunningCluster,
) -> None:
    """An acks=all produce moves the leader's HW when the followers' next fetches (parked: no
    new records) report their log ends; the leader then answers those parked fetches with the
    new HW instead of holding them for replica.fetch.wait.max.ms."""
    for round_ in range(3):
        produce(cluster, HW_TOPIC, 1)
        leader = cluster.broker(1).partition(HW_TOPIC, 0)
        assert leader is not None and leader.high_watermark == round_ + 1
        wait_for(
            lambda: replicas_agree(cluster, HW_TOPIC, 0),
            f"round {round_}: the followers' high watermark",
            timeout_s=HW_DEADLINE_S,
        )
