"""A 3-node KRaft cluster of ``ferrokafka serve`` processes (broker+controller each, a static
quorum on the controller listeners), formatted with ``ferrokafka storage format``, used by
real clients: every node registers and is unfenced; confluent-kafka and Kafka's own
kafka-topics create topics whose partitions spread over the three brokers; idempotent acks=all
produce and a group consumer read them all back. Then the active controller is killed
(SIGKILL): another voter becomes active within the election timeouts, the committed metadata
is all there, new topics can be created, and the dead broker is fenced after its session (its
partitions leaderless: replication factor 1 until the replication issue). Restarted from its
directories, it rejoins the quorum as a follower, registers again, leads its partitions again
and serves every record it had."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kraft_processes import KRaftCluster

import kafka_support as ks

CLIENT_TIMEOUT_S = 30.0
RECORDS = 600
PARTITIONS = 6
SESSION_TIMEOUT_MS = 3000
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KRaftCluster]:
    made = KRaftCluster(
        tmp_path / "cluster",
        overrides={
            "broker.session.timeout.ms": str(SESSION_TIMEOUT_MS),
            "broker.heartbeat.interval.ms": "500",
        },
    )
    with made.running():
        yield made


def admin(bootstrap: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from confluent_kafka.admin import NewTopic

    client = admin(bootstrap)  # kept alive until the answer: its handle ends with it
    futures = client.create_topics(
        [NewTopic(name, partitions, 1)],
        operation_timeout=CLIENT_TIMEOUT_S,
        request_timeout=CLIENT_TIMEOUT_S,
    )
    futures[name].result(CLIENT_TIMEOUT_S)


def leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition -> leader as the cluster's metadata says (-1: none)."""
    metadata = admin(bootstrap).list_topics(topic, timeout=CLIENT_TIMEOUT_S)
    return {p: m.leader for p, m in metadata.topics[topic].partitions.items()}


def wait_leaders(bootstrap: str, topic: str, condition: Any) -> dict[int, int]:
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:
        found = leaders(bootstrap, topic)
        if condition(found):
            return found
        assert time.monotonic() < deadline, f"{topic} leaders stayed {found}"
        time.sleep(0.2)


def produce(bootstrap: str, topic: str, count: int) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    failed: list[Any] = []
    for i in range(count):
        producer.produce(
            topic,
            value=b"v%d" % i,
            partition=i % PARTITIONS,
            on_delivery=lambda err, _msg: failed.append(err) if err else None,
        )
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    assert failed == []


def consume_all(bootstrap: str, topic: str, group: str) -> set[bytes]:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    seen: set[bytes] = set()
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while len(seen) < RECORDS and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            seen.add(message.value())
    consumer.close()
    return seen


def test_three_processes_form_a_cluster_and_survive_the_active_controllers_death(
    cluster: KRaftCluster, tmp_path: Path
) -> None:
    boot = cluster.bootstrap
    # Each node is ready once unfenced itself; the others' unfencing reaches every broker's
    # metadata a moment later (each learns it from the log).
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    for node in cluster.nodes.values():
        while sorted(admin(node.bootstrap).list_topics(timeout=CLIENT_TIMEOUT_S).brokers) != [
            1,
            2,
            3,
        ]:
            assert time.monotonic() < deadline, f"node {node.node_id} does not see 3 brokers"
            time.sleep(0.2)

    create_topic(boot, "spread", PARTITIONS)
    assert set(
        wait_leaders(
            boot, "spread", lambda ls: len(ls) == PARTITIONS and -1 not in ls.values()
        ).values()
    ) == {
        1,
        2,
        3,
    }
    produce(boot, "spread", RECORDS)
    assert consume_all(boot, "spread", "before") == {b"v%d" % i for i in range(RECORDS)}

    # Kafka's own admin tool, through any broker (forwarded to the active controller).
    tool_dir = tmp_path / "tools"
    tool_dir.mkdir()
    created = ks.run_kafka_tool(
        TOPIC_COMMAND,
        ["--bootstrap-server", cluster.nodes[2].bootstrap, "--create", "--topic", "java-made",
         "--partitions", "3", "--replication-factor", "1"],
        work_dir=tool_dir,
    )  # fmt: skip
    assert "Created topic java-made" in created.stdout

    # The active controller dies; another voter takes over.
    active, epoch = cluster.wait_active_controller()
    killed_at = time.monotonic()
    cluster.kill(active)
    survivor = next(n for n in cluster.nodes.values() if n.node_id != active)
    new_active, new_epoch = cluster.wait_active_controller(after_epoch=epoch)
    failover_s = time.monotonic() - killed_at
    assert new_active != active and new_epoch > epoch
    print(f"failover: node {active} killed, node {new_active} active after {failover_s:.2f} s")

    create_topic(survivor.bootstrap, "after-failover", 2)  # the new controller decides
    described = ks.run_kafka_tool(
        TOPIC_COMMAND,
        ["--bootstrap-server", survivor.bootstrap, "--describe", "--topic", "spread"],
        work_dir=tool_dir,
    )
    assert described.stdout.count("Partition:") == PARTITIONS  # committed metadata kept

    # The dead broker is fenced after its session: its partitions have no leader now.
    dead = {p for p, leader in leaders(survivor.bootstrap, "spread").items() if leader == active}
    assert dead, "the killed node led some partitions"
    wait_leaders(survivor.bootstrap, "spread", lambda ls: all(ls[p] == -1 for p in dead))

    # Restarted, it rejoins, leads its partitions again, and every record is there.
    cluster.start(active)
    cluster.wait_ready(active)
    wait_leaders(boot, "spread", lambda ls: all(ls[p] == active for p in dead))
    assert consume_all(boot, "spread", "after") == {b"v%d" % i for i in range(RECORDS)}
