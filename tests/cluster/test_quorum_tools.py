"""Observing the quorum as Kafka's tools do, on a process cluster of 3 combined nodes (the
voters) and a broker-only node (an observer): Kafka's ``kafka-metadata-quorum`` (class
MetadataQuorumCommand) ``describe --status`` and ``describe --replication``, through the
controllers (``--bootstrap-controller``: DescribeCluster for the controllers' endpoints, then
DescribeQuorum to the leader) and through the brokers (``--bootstrap-server``: the broker
forwards DescribeQuorum to the active controller). Leader, epoch, high watermark, voters with
their endpoints, the observer with its directory id, log end offsets and Kafka's lag; after a
SIGKILL of the leader, another leader of a higher epoch and the dead voter unknown (-1).
On the wire: a voter that does not lead answers NOT_LEADER_OR_FOLLOWER, a request that does
not name ``__cluster_metadata-0`` UNKNOWN_TOPIC_OR_PARTITION, and DescribeCluster answers
endpoint types as Kafka's AuthHelper does on each kind of listener."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from kraft_processes import LOOPBACK, KRaftCluster

import kafka_support as ks
from ferrokafka.cluster.node_client import NodeClient
from ferrokafka.protocol.error_codes import (
    MISMATCHED_ENDPOINT_TYPE,
    NONE,
    NOT_LEADER_OR_FOLLOWER,
    UNKNOWN_TOPIC_OR_PARTITION,
    UNSUPPORTED_ENDPOINT_TYPE,
)
from ferrokafka.protocol.messages.describe_cluster import DescribeClusterRequest
from ferrokafka.protocol.messages.describe_quorum import DescribeQuorumRequest
from ferrokafka.storage.checkpoints import read_meta_properties

QUORUM_COMMAND = "org.apache.kafka.tools.MetadataQuorumCommand"
OBSERVER = 4
WAIT_S = 30.0
POLL_S = 0.2


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KRaftCluster]:
    made = KRaftCluster(tmp_path / "cluster", brokers=1)
    with made.running():
        yield made


def quorum_tool(cluster: KRaftCluster, *args: str) -> str:
    return ks.run_kafka_tool(QUORUM_COMMAND, list(args), work_dir=cluster.work_dir).stdout


def status(cluster: KRaftCluster, *bootstrap: str) -> dict[str, Any]:
    """``describe --status`` as a dict (the JSON lists parsed)."""
    out = quorum_tool(cluster, *bootstrap, "describe", "--status")
    found: dict[str, Any] = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if not sep or not value.strip():
            continue
        value = value.strip()
        found[key.strip()] = json.loads(value) if value.startswith("[") else value
    return found


def replication(cluster: KRaftCluster, *bootstrap: str) -> dict[int, dict[str, str]]:
    """``describe --replication``: node id -> its row."""
    lines = quorum_tool(cluster, *bootstrap, "describe", "--replication").splitlines()
    rows = [re.split(r"\s*\t\s*", line.strip()) for line in lines if line.strip()]
    header, body = rows[0], rows[1:]
    return {int(row[0]): dict(zip(header, row, strict=True)) for row in body}


def directory_id_of(cluster: KRaftCluster, node_id: int) -> str:
    meta = read_meta_properties(cluster.nodes[node_id].work_dir / "metadata" / "meta.properties")
    assert meta is not None and meta.directory_id is not None
    return meta.directory_id


def check_quorum(
    cluster: KRaftCluster, bootstrap: tuple[str, ...], leader: int, epoch: int, dead: int = 0
) -> None:
    """What the tool says through ``bootstrap`` agrees with the quorum led by ``leader``."""
    found = status(cluster, *bootstrap)
    assert found["ClusterId"] == cluster.cluster_id
    assert (int(found["LeaderId"]), int(found["LeaderEpoch"])) == (leader, epoch)
    hw = int(found["HighWatermark"])
    assert hw > 0
    voters = {v["id"]: v["endpoints"] for v in found["CurrentVoters"]}
    assert voters == {
        n: [f"CONTROLLER://{LOOPBACK}:{cluster.nodes[n].controller_port}"] for n in (1, 2, 3)
    }
    observers = found["CurrentObservers"]
    assert observers == [{"id": OBSERVER, "directoryId": directory_id_of(cluster, OBSERVER)}]

    rows = replication(cluster, *bootstrap)
    assert set(rows) == {1, 2, 3, OBSERVER}
    assert rows[leader]["Status"] == "Leader"
    assert int(rows[leader]["LogEndOffset"]) >= hw
    assert rows[OBSERVER]["Status"] == "Observer"
    assert rows[OBSERVER]["DirectoryId"] == directory_id_of(cluster, OBSERVER)
    for node_id in {1, 2, 3} - {leader}:
        assert rows[node_id]["Status"] == "Follower"
        if node_id == dead:
            # The new leader never heard from it: unknown, as Kafka reports it.
            assert rows[node_id]["LogEndOffset"] == "-1"
            assert rows[node_id]["LastFetchTimestamp"] == "-1"
        else:
            assert int(rows[node_id]["LogEndOffset"]) > 0
            assert int(rows[node_id]["LastFetchTimestamp"]) > 0


def wait_for(check: Any) -> None:
    """Retry ``check`` (it asserts) until it passes: the log end offsets move with heartbeats."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(POLL_S)


def test_metadata_quorum_tool_through_controllers_and_brokers(cluster: KRaftCluster) -> None:
    leader, epoch = cluster.wait_active_controller()
    via_controllers = ("--bootstrap-controller", cluster.bootstrap_controller)
    via_brokers = ("--bootstrap-server", cluster.bootstrap)
    via_observer = ("--bootstrap-server", cluster.nodes[OBSERVER].bootstrap)
    for bootstrap in (via_controllers, via_brokers, via_observer):
        wait_for(lambda b=bootstrap: check_quorum(cluster, b, leader, epoch))

    cluster.kill(leader)
    new_leader, new_epoch = cluster.wait_active_controller(after_epoch=epoch)
    assert new_leader != leader and new_epoch > epoch
    survivor = next(n for n in (1, 2, 3) if n != leader)
    for bootstrap in (
        ("--bootstrap-controller", f"{LOOPBACK}:{cluster.nodes[survivor].controller_port}"),
        ("--bootstrap-server", cluster.nodes[survivor].bootstrap),
        via_observer,
    ):
        wait_for(lambda b=bootstrap: check_quorum(cluster, b, new_leader, new_epoch, leader))


def test_single_node_through_both_listeners(tmp_path: Path) -> None:
    """One voter (no Raft driver): itself the leader, its log end the high watermark."""
    single = KRaftCluster(tmp_path / "single", size=1)
    try:
        single.format()
        single.start(1)
        single.wait_ready()
        node = single.nodes[1]
        for bootstrap in (
            ("--bootstrap-server", node.bootstrap),
            ("--bootstrap-controller", f"{LOOPBACK}:{node.controller_port}"),
        ):
            found = status(single, *bootstrap)
            assert found["ClusterId"] == single.cluster_id
            assert (found["LeaderId"], found["LeaderEpoch"]) == ("1", "1")
            assert found["CurrentVoters"] == [
                {"id": 1, "endpoints": [f"CONTROLLER://{LOOPBACK}:{node.controller_port}"]}
            ]
            assert found["CurrentObservers"] == []
            rows = replication(single, *bootstrap)
            assert rows[1]["Status"] == "Leader"
            assert rows[1]["LogEndOffset"] == found["HighWatermark"] != "0"
    finally:
        single.close()


async def _call(address: tuple[str, int], request: Any) -> Any:
    client = NodeClient(address, client_id="quorum-test")
    try:
        return await client.call(request)
    finally:
        await client.aclose()


def call(address: tuple[str, int], request: Any) -> Any:
    return trio.run(_call, address, request)


def metadata_partition_request(topic: str = "__cluster_metadata", partition: int = 0) -> Any:
    return DescribeQuorumRequest(
        topics=[
            DescribeQuorumRequest.TopicData(
                topic_name=topic,
                partitions=[DescribeQuorumRequest.PartitionData(partition_index=partition)],
            )
        ]
    )


def test_describe_quorum_and_cluster_errors_on_the_wire(cluster: KRaftCluster) -> None:
    leader, _ = cluster.wait_active_controller()
    follower = next(n for n in (1, 2, 3) if n != leader)
    controller = (LOOPBACK, cluster.nodes[follower].controller_port)
    broker = (LOOPBACK, cluster.nodes[follower].port)

    answer = call(controller, metadata_partition_request())
    assert [p.error_code for t in answer.topics for p in t.partitions] == [NOT_LEADER_OR_FOLLOWER]
    for topic, partition in (("__cluster_metadata", 1), ("other", 0)):
        answer = call(controller, metadata_partition_request(topic, partition))
        assert [
            (t.topic_name, p.partition_index, p.error_code)
            for t in answer.topics
            for p in t.partitions
        ] == [(topic, partition, UNKNOWN_TOPIC_OR_PARTITION)]
    # Through a broker that is not the leader: forwarded to the leader.
    answer = call(broker, metadata_partition_request())
    (partition_data,) = answer.topics[0].partitions
    assert (partition_data.error_code, partition_data.leader_id) == (NONE, leader)

    controllers = call(controller, DescribeClusterRequest(endpoint_type=2))
    assert controllers.error_code == NONE and controllers.endpoint_type == 2
    assert controllers.cluster_id == cluster.cluster_id
    assert controllers.controller_id == leader
    assert sorted((b.broker_id, b.port) for b in controllers.brokers) == [
        (n, cluster.nodes[n].controller_port) for n in (1, 2, 3)
    ]
    assert call(controller, DescribeClusterRequest(endpoint_type=1)).error_code == (
        MISMATCHED_ENDPOINT_TYPE
    )
    assert call(broker, DescribeClusterRequest(endpoint_type=2)).error_code == (
        MISMATCHED_ENDPOINT_TYPE
    )
    for listener in (controller, broker):
        assert call(listener, DescribeClusterRequest(endpoint_type=0)).error_code == (
            UNSUPPORTED_ENDPOINT_TYPE
        )
