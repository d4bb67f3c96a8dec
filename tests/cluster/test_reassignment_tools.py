"""A reassignment held in progress, seen and cancelled with Kafka's kafka-reassign-partitions
(--execute, --list, --verify, --cancel) against an in-process cluster (run_cluster(3)): the
new replica's broker does not fetch, so it cannot join the ISR and the move cannot complete.
--list shows the adding and removing replicas, --verify says it is still in progress, --cancel
reverts it (the new replica's broker deletes its log); executed again with the broker
fetching, the move completes and the new replica's log is byte for byte the leader's."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from reassign_support import reassign_tool, verify_until_complete

from ferrokafka.testing.cluster import RunningCluster, run_cluster

pytestmark = pytest.mark.kafka

TOPIC = "held"
RECORDS = 200
DEADLINE_S = 30.0
SEGMENT = "00000000000000000000.log"


@pytest.fixture
def cluster(tmp_path: Path, kafka_classpath: str) -> Iterator[RunningCluster]:
    overrides = {
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "replica.fetch.backoff.ms": 100,
    }
    with run_cluster(3, tmp_path / "cluster", overrides) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        topic = NewTopic(TOPIC, num_partitions=1, replica_assignment=[[1, 2]])
        admin.create_topics([topic], operation_timeout=10)[TOPIC].result(timeout=DEADLINE_S)
        yield running


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def produce(bootstrap: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for n in range(RECORDS):
        producer.produce(TOPIC, value=b"r%d" % n, partition=0)
    assert producer.flush(DEADLINE_S) == 0


def test_a_held_move_is_listed_verified_cancelled_and_then_completed(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    boot = cluster.bootstrap_servers
    tool = tmp_path / "tool"
    tool.mkdir()
    produce(boot)
    plan = tool / "plan.json"
    plan.write_text(
        json.dumps(
            {"version": 1, "partitions": [{"topic": TOPIC, "partition": 0, "replicas": [1, 3]}]}
        )
    )
    server = ["--bootstrap-server", boot]
    cluster.set_fetching(3, False)
    executed = reassign_tool([*server, "--execute", "--reassignment-json-file", str(plan)], tool)
    assert "Successfully started partition reassignment for held-0" in executed, executed
    listed = reassign_tool([*server, "--list"], tool)
    assert "held-0: replicas: 1,3,2. adding: 3. removing: 2." in listed, listed
    verified = reassign_tool([*server, "--verify", "--reassignment-json-file", str(plan)], tool)
    assert "Reassignment of partition held-0 is still in progress." in verified, verified
    cancelled = reassign_tool([*server, "--cancel", "--reassignment-json-file", str(plan)], tool)
    assert "Successfully cancelled partition reassignment for: held-0" in cancelled, cancelled
    part = cluster.controller.image.partition(TOPIC, 0)
    assert part is not None
    assert (part.replicas, part.isr, part.adding_replicas, part.removing_replicas) == (
        (1, 2),
        (1, 2),
        (),
        (),
    )
    assert "No partition reassignments found." in reassign_tool([*server, "--list"], tool)
    broker3 = cluster.broker(3).broker.node
    assert broker3 is not None
    wait_for(lambda: broker3.replicas.partition(TOPIC, 0) is None, "broker 3 to drop its replica")

    # Again, with broker 3 fetching: the move completes.
    cluster.set_fetching(3, True)
    reassign_tool([*server, "--execute", "--reassignment-json-file", str(plan)], tool)
    verify_until_complete(boot, tool)
    done = cluster.controller.image.partition(TOPIC, 0)
    assert done is not None and (done.replicas, sorted(done.isr)) == ((1, 3), [1, 3])
    leader = cluster.broker(1).broker.node
    assert leader is not None
    leader_log = leader.replicas.partition(TOPIC, 0)
    follower_log = broker3.replicas.partition(TOPIC, 0)
    assert leader_log is not None and follower_log is not None
    leader_bytes = (Path(leader_log.log.dir) / SEGMENT).read_bytes()
    wait_for(
        lambda: (Path(follower_log.log.dir) / SEGMENT).read_bytes() == leader_bytes,
        "the new replica's segment to equal the leader's",
    )
    broker2 = cluster.broker(2).broker.node
    assert broker2 is not None
    wait_for(lambda: broker2.replicas.partition(TOPIC, 0) is None, "broker 2 to drop its replica")


def leader_end(cluster: RunningCluster, broker_id: int) -> int:
    node = cluster.broker(broker_id).broker.node
    assert node is not None
    partition = node.replicas.partition(TOPIC, 0)
    return partition.log_end_offset if partition is not None else -1


def test_a_throttled_move_waits_until_the_throttle_is_raised(tmp_path: Path) -> None:
    """--throttle 1 (byte/s): once the first fetch moved at most replica.fetch.max.bytes, the
    leader's and the new follower's throttled rates are over the limit for the whole 11 s
    window, so the new replica stays behind; re-executed with a high --throttle (--additional,
    as Kafka's docs say to change it), the move completes and --verify clears the throttles."""
    overrides = {
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "replica.fetch.backoff.ms": 100,
        "replica.fetch.max.bytes": 4096,
    }
    with run_cluster(3, tmp_path / "cluster", overrides) as cluster:
        boot = cluster.bootstrap_servers
        admin = AdminClient({"bootstrap.servers": boot})
        topic = NewTopic(TOPIC, num_partitions=1, replica_assignment=[[1, 2]])
        admin.create_topics([topic], operation_timeout=10)[TOPIC].result(timeout=DEADLINE_S)
        # Small batches (one record each): a fetch moves a few of them, not the whole log.
        producer = Producer(
            {"bootstrap.servers": boot, "acks": "all", "linger.ms": 0, "batch.size": 2000}
        )
        for n in range(RECORDS):
            producer.produce(TOPIC, value=b"%05d" % n + b"x" * 1000, partition=0)
            producer.poll(0)
        assert producer.flush(DEADLINE_S) == 0
        tool = tmp_path / "tool"
        tool.mkdir()
        plan = tool / "plan.json"
        plan.write_text(
            json.dumps(
                {"version": 1, "partitions": [{"topic": TOPIC, "partition": 0, "replicas": [1, 3]}]}
            )
        )
        server = ["--bootstrap-server", boot, "--reassignment-json-file", str(plan)]
        executed = reassign_tool([*server, "--execute", "--throttle", "1"], tool)
        assert "The inter-broker throttle limit was set to 1 B/s" in executed, executed
        end = leader_end(cluster, 1)
        wait_for(lambda: leader_end(cluster, 3) > 0, "the first throttled fetch")
        time.sleep(3.0)  # well inside the 11 s window the first fetch filled
        held = leader_end(cluster, 3)
        assert 0 < held < end, (held, end)
        print(f"throttled at 1 B/s: the new replica held at offset {held} of {end}")
        part = cluster.controller.image.partition(TOPIC, 0)
        assert part is not None and part.adding_replicas == (3,)
        assert (
            cluster.controller.image.broker_config(3)["follower.replication.throttled.rate"] == "1"
        )

        raised = reassign_tool(
            [*server, "--execute", "--additional", "--throttle", "1000000000"], tool
        )
        assert "The inter-broker throttle limit was set to 1000000000 B/s" in raised, raised
        verified, _ = verify_until_complete(boot, tool)
        assert "Clearing broker-level throttles" in verified
        assert leader_end(cluster, 3) == end
        image = cluster.controller.image
        assert "leader.replication.throttled.replicas" not in image.topic_config(TOPIC)
        assert "follower.replication.throttled.rate" not in image.broker_config(3)
