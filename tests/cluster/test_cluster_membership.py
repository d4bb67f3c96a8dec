"""Cluster membership end to end (ferrokafka.testing.run_cluster): three brokers register with
the controller and heartbeat through the ControllerChannel, and clients we did not write see
the result. confluent-kafka's AdminClient sees three brokers, creates a topic with a
replication factor of 3 and one of 6 single-replica partitions spread over the three, and is
refused a factor of 4 with Kafka's INVALID_REPLICATION_FACTOR message; a broker whose
heartbeats stop is fenced after its session timeout, its single-replica partitions become
leaderless and its RF-3 leaderships move (metadata only: no data replication yet), which
kafka-python's and confluent-kafka's Metadata show; its heartbeats resume, it is unfenced and
leads its single-replica partitions again. Finally Kafka's own DumpLogSegments
``--cluster-metadata-decoder`` decodes every record the controller wrote."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.cluster.metadata_log import METADATA_PARTITION_DIR
from ferrokafka.server.lifecycle import BrokerState
from ferrokafka.testing.cluster import RunningCluster, run_cluster
from kafka import KafkaAdminClient
from kafka_support.dump import dump_cluster_metadata

HEARTBEAT_MS = 100
SESSION_TIMEOUT_MS = 1_500
DEADLINE_S = 30.0
POLL_S = 0.05
FENCED = 2  # the broker whose heartbeats stop


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(POLL_S)


@pytest.fixture(scope="module")
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("membership")


@pytest.fixture(scope="module")
def cluster(cluster_dir: Path) -> Iterator[RunningCluster]:
    overrides = {
        "broker.heartbeat.interval.ms": HEARTBEAT_MS,
        "broker.session.timeout.ms": SESSION_TIMEOUT_MS,
        "offsets.topic.replication.factor": 1,
    }
    with run_cluster(3, cluster_dir, overrides) as running:
        yield running


def confluent_metadata(cluster: RunningCluster, topic: str):
    admin = AdminClient({"bootstrap.servers": cluster.brokers[0].bootstrap_servers})
    return admin.list_topics(topic, timeout=DEADLINE_S)


def test_brokers_register_and_are_unfenced(cluster: RunningCluster) -> None:
    image = cluster.controller.image
    assert sorted(image.brokers) == [1, 2, 3]
    for broker_id, broker in image.brokers.items():
        assert not broker.fenced and not broker.in_controlled_shutdown
        lifecycle = cluster.broker(broker_id).broker.lifecycle
        assert lifecycle is not None and lifecycle.broker_epoch == broker.broker_epoch
        assert broker.incarnation_id == lifecycle.incarnation_id
    # Each epoch is the offset of its RegisterBrokerRecord (Kafka's broker epoch).
    offsets = cluster.controller.membership.registration_offsets
    assert {i: b.broker_epoch for i, b in image.brokers.items()} == offsets
    metadata = confluent_metadata(cluster, "__none")
    assert sorted(metadata.brokers) == [1, 2, 3]


def test_topics_are_placed_over_the_three_brokers(cluster: RunningCluster) -> None:
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    futures = admin.create_topics([NewTopic("rf3", 3, 3), NewTopic("rf1", 6, 1)])
    for future in futures.values():
        future.result(DEADLINE_S)
    metadata = confluent_metadata(cluster, "rf1")
    leaders = [p.leader for p in metadata.topics["rf1"].partitions.values()]
    assert sorted(leaders) == [1, 1, 2, 2, 3, 3]
    rf3 = confluent_metadata(cluster, "rf3").topics["rf3"].partitions.values()
    assert {p.leader for p in rf3} == {1, 2, 3}
    assert all(sorted(p.replicas) == [1, 2, 3] == sorted(p.isrs) for p in rf3)

    refused = admin.create_topics([NewTopic("rf4", 1, 4)])["rf4"]
    with pytest.raises(KafkaException) as caught:
        refused.result(DEADLINE_S)
    error = caught.value.args[0]
    assert error.code() == KafkaError.INVALID_REPLICATION_FACTOR
    assert error.str() == (
        "Unable to replicate the partition 4 time(s): The target replication factor of 4 "
        "cannot be reached because only 3 broker(s) are registered or some brokers have all "
        "their log directories cordoned."
    )


def _kafka_python_leaders(cluster: RunningCluster, topic: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=cluster.brokers[0].bootstrap_servers)
    try:
        [described] = admin.describe_topics([topic])
        # DescribeCluster (v2 may list fenced brokers, marked so).
        brokers = {
            b["broker_id"] for b in admin.describe_cluster()["brokers"] if not b["is_fenced"]
        }
    finally:
        admin.close()
    leaders = {p["partition_index"]: p["leader_id"] for p in described["partitions"]}
    leaders[-100] = len(brokers)  # the number of unfenced brokers the cluster listed
    return leaders


def test_a_silent_broker_is_fenced_and_its_leaderships_move(cluster: RunningCluster) -> None:
    image = cluster.controller.image
    rf1_led = {i for i, p in image.topic("rf1").partitions.items() if p.leader == FENCED}
    rf3_led = {i for i, p in image.topic("rf3").partitions.items() if p.leader == FENCED}
    assert rf1_led and rf3_led
    start = time.monotonic()
    cluster.pause_heartbeats(FENCED)
    wait_for(lambda: cluster.controller.image.broker(FENCED).fenced, "broker 2 fenced")
    elapsed = time.monotonic() - start
    assert elapsed >= SESSION_TIMEOUT_MS / 1000 - HEARTBEAT_MS / 1000
    fenced = cluster.controller.image
    for index, part in fenced.topic("rf1").partitions.items():
        assert part.leader == (
            -1 if index in rf1_led else image.topic("rf1").partitions[index].leader
        )
    for part in fenced.topic("rf3").partitions.values():
        assert FENCED not in part.isr and part.leader in (1, 3)

    # Clients see it: two brokers, leaderless and moved partitions.
    metadata = confluent_metadata(cluster, "rf1")
    assert sorted(metadata.brokers) == [1, 3]
    for index, part in metadata.topics["rf1"].partitions.items():
        if index in rf1_led:
            assert part.leader == -1
            assert part.error.code() == KafkaError.LEADER_NOT_AVAILABLE
    rf3 = confluent_metadata(cluster, "rf3").topics["rf3"].partitions
    assert all(p.leader in (1, 3) and FENCED not in p.isrs for p in rf3.values())
    seen = _kafka_python_leaders(cluster, "rf1")
    assert seen.pop(-100) == 2
    assert {i for i, leader in seen.items() if leader == -1} == rf1_led

    cluster.resume_heartbeats(FENCED)
    wait_for(lambda: not cluster.controller.image.broker(FENCED).fenced, "broker 2 unfenced")
    back = cluster.controller.image
    for index in rf1_led:
        assert back.topic("rf1").partitions[index].leader == FENCED
    # RF 3: broker 2 is out of those ISRs until a leader adds it back (AlterPartition), so
    # those leaderships stay moved, as in Kafka.
    assert back.topic("rf3").partitions == fenced.topic("rf3").partitions
    metadata = confluent_metadata(cluster, "rf1")
    assert sorted(metadata.brokers) == [1, 2, 3]
    assert {p.leader for p in metadata.topics["rf1"].partitions.values()} == {1, 2, 3}
    seen = _kafka_python_leaders(cluster, "rf1")
    assert seen.pop(-100) == 3 and -1 not in seen.values()


def test_kafka_decodes_every_record_the_controller_wrote(
    cluster: RunningCluster, cluster_dir: Path, tmp_path: Path
) -> None:
    partition_dir = cluster_dir / "controller" / METADATA_PARTITION_DIR
    payloads, dumped = dump_cluster_metadata(partition_dir, work_dir=tmp_path)
    assert dumped.problems == []
    kinds = {p["type"] for p in payloads}
    assert {
        "REGISTER_BROKER_RECORD",
        "BROKER_REGISTRATION_CHANGE_RECORD",
        "PARTITION_CHANGE_RECORD",
    } <= kinds
    registers = [p["data"] for p in payloads if p["type"] == "REGISTER_BROKER_RECORD"]
    assert sorted(r["brokerId"] for r in registers) == [1, 2, 3]
    assert all(r["fenced"] for r in registers)
    changes = [p["data"] for p in payloads if p["type"] == "BROKER_REGISTRATION_CHANGE_RECORD"]
    fences = [(c["brokerId"], c["fenced"]) for c in changes]
    assert (FENCED, 1) in fences and fences.count((FENCED, -1)) == 2
    leaderless = [
        p["data"]
        for p in payloads
        if p["type"] == "PARTITION_CHANGE_RECORD" and p["data"].get("leader") == -1
    ]
    assert leaderless


def test_a_stopping_cluster_shuts_down_under_control(tmp_path: Path) -> None:
    """Stopping brokers ask for a controlled shutdown: the controller marks them, moves
    their leaderships away, then lets them go fenced; Kafka decodes those records too."""
    overrides = {
        "broker.heartbeat.interval.ms": HEARTBEAT_MS,
        "offsets.topic.replication.factor": 1,
    }
    with run_cluster(2, tmp_path / "cluster", overrides) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        admin.create_topics([NewTopic("t", 4, 1)])["t"].result(DEADLINE_S)
        lifecycles = [b.broker.lifecycle for b in running.brokers]
        controller = running.controller
    assert all(lc is not None and lc.state is BrokerState.SHUTTING_DOWN for lc in lifecycles)
    assert all(b.fenced for b in controller.image.brokers.values())
    payloads, dumped = dump_cluster_metadata(
        tmp_path / "cluster" / "controller" / METADATA_PARTITION_DIR, work_dir=tmp_path / "dump"
    )
    assert dumped.problems == []
    changes = [
        (p["version"], p["data"])
        for p in payloads
        if p["type"] == "BROKER_REGISTRATION_CHANGE_RECORD"
    ]
    entering = [d["brokerId"] for v, d in changes if d.get("inControlledShutdown") == 1]
    assert entering and all(v == 1 for v, d in changes if d.get("inControlledShutdown") == 1)
    assert sorted(d["brokerId"] for _, d in changes if d.get("fenced") == 1) == [1, 2]
