"""JBOD on a 3-node KRaft cluster (KIP-858) when one broker's second log dir dies (kernel EIO:
an ext4 loop disk shut down, tests/faults/ext4_disk.py), as Kafka 4.4 handles it: each broker
registers both dirs, tells the controller where it put every replica (AssignReplicasToDirs,
server/dir_assignments.py), and on the failure reports the dir in its next heartbeat; the
controller takes that broker out of the ISR and leadership of exactly the partitions whose
replica is in the dead dir (cluster/dir_assignment.py). An idempotent acks=all producer
(confluent-kafka, min.insync.replicas 2) goes on through the failure on the new leaders, and a
consumer reads every acknowledged record exactly once; the broker keeps serving its other
dir and stays up."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cluster.kraft_processes import KRaftCluster, ferrokafka_cli

from .ext4_disk import Ext4Disk

TOPIC = "jbod"
PARTITIONS = 6
FAILING_NODE = 2
METADATA_NODE = 3
HALT_TIMEOUT_S = 60.0
CLIENT_TIMEOUT_S = 60.0
WAIT_S = 60.0
POLL_S = 0.1
RECORDS_BEFORE = 60
RECORDS_AFTER = 60
ASSIGNED_LINE = "replicas to their log dirs"


def _mounted(base: Path) -> Ext4Disk:
    why = Ext4Disk.available()
    if why is not None:
        pytest.skip(f"no ext4 loop disk: {why}")
    made = Ext4Disk(base / "ext4", base / "ext4.img")
    try:
        made.mount()
    except Exception as exc:  # a container without loop devices or mount rights
        made.close()
        pytest.skip(f"no ext4 loop disk: {exc}")
    return made


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ext4Disk]:
    """Node 2's second log dir."""
    made = _mounted(tmp_path_factory.mktemp("jbod-disk"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def metadata_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ext4Disk]:
    """Node 3's metadata log dir."""
    made = _mounted(tmp_path_factory.mktemp("metadata-disk"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, disk: Ext4Disk, metadata_disk: Ext4Disk
) -> Iterator[KRaftCluster]:
    made = KRaftCluster(
        tmp_path_factory.mktemp("jbod") / "cluster",
        overrides={
            "broker.session.timeout.ms": "6000",
            "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "3000",
            "replica.fetch.backoff.ms": "200",
        },
    )
    try:
        made.format()
        for node in made.nodes.values():
            # A second log dir each, formatted with its own directory.id (as Kafka's
            # `kafka-storage format --ignore-formatted`); node 2's is on the disk that fails.
            second = disk.path / "data" if node.node_id == FAILING_NODE else node.work_dir / "l2"
            text = node.config_file.read_text()
            first = str(node.work_dir / "logs")
            node.config_file.write_text(
                text.replace(f"log.dirs={first}", f"log.dirs={first},{second}")
            )
            formatted = ferrokafka_cli(
                "storage", "format", "--ignore-formatted", "-t", made.cluster_id,
                "-c", str(node.config_file),
            )  # fmt: skip
            assert formatted.returncode == 0, formatted.stderr
        # Node 3's formatted metadata dir moved onto the disk that will fail.
        metadata = made.nodes[METADATA_NODE].work_dir / "metadata"
        moved = metadata_disk.path / "metadata"
        shutil.copytree(metadata, moved)
        config = made.nodes[METADATA_NODE].config_file
        config.write_text(
            config.read_text().replace(f"metadata.log.dir={metadata}", f"metadata.log.dir={moved}")
        )
        for node_id in made.nodes:
            made.start(node_id)
        made.wait_ready()
        yield made
    finally:
        made.close()


def _admin(bootstrap: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def _states(bootstrap: str) -> dict[int, tuple[int, list[int]]]:
    """Partition -> (leader, ISR) as the cluster's metadata says."""
    metadata = _admin(bootstrap).list_topics(TOPIC, timeout=CLIENT_TIMEOUT_S)
    return {p: (s.leader, list(s.isrs)) for p, s in metadata.topics[TOPIC].partitions.items()}


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        time.sleep(POLL_S)


def _producer(bootstrap: str) -> Any:
    from confluent_kafka import Producer

    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 0,
            "message.timeout.ms": int(CLIENT_TIMEOUT_S * 1000),
        }
    )


def _send_all(producer: Any, values: list[str], acked: dict[str, tuple[int, int]]) -> list[Any]:
    errors: list[Any] = []

    def report(err: Any, msg: Any) -> None:
        if err is None:
            acked[msg.value().decode()] = (msg.partition(), msg.offset())
        else:
            errors.append(err)

    for i, value in enumerate(values):
        producer.produce(TOPIC, value.encode(), partition=i % PARTITIONS, on_delivery=report)
        producer.poll(0)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0, "records still in flight"
    return errors


def _read_all(bootstrap: str, expected: int) -> list[str]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "jbod-check",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
        values: list[str] = []
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while len(values) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                values.append(msg.value().decode())
        return values
    finally:
        consumer.close()


def test_a_failed_dir_moves_leadership_off_its_replicas_only(
    cluster: KRaftCluster, disk: Ext4Disk
) -> None:
    from confluent_kafka.admin import NewTopic

    bootstrap = cluster.bootstrap
    admin = _admin(bootstrap)  # held: the futures die with their client
    futures = admin.create_topics(
        [
            NewTopic(
                TOPIC,
                num_partitions=PARTITIONS,
                replication_factor=3,
                config={"min.insync.replicas": "2", "flush.messages": "1"},
            )
        ]
    )
    futures[TOPIC].result(timeout=CLIENT_TIMEOUT_S)
    _wait(
        lambda: all(len(isr) == 3 for _, isr in _states(bootstrap).values()),
        "every partition with a full ISR",
    )
    failing = cluster.nodes[FAILING_NODE]
    dirs = (failing.work_dir / "logs", disk.path / "data")

    def placed() -> set[int]:
        return {p for p in range(PARTITIONS) for d in dirs if (d / f"{TOPIC}-{p}").is_dir()}

    _wait(lambda: len(placed()) == PARTITIONS, "node 2's replicas created")
    dead = {p for p in range(PARTITIONS) if (dirs[1] / f"{TOPIC}-{p}").is_dir()}
    # Kafka's placement: the dir holding the fewest partitions, so both dirs hold some.
    assert 0 < len(dead) < PARTITIONS, dead
    # The controller knows where node 2 put them before the disk dies.
    _wait(lambda: ASSIGNED_LINE in failing.logged(), "node 2's AssignReplicasToDirs")

    producer = _producer(bootstrap)
    acked: dict[str, tuple[int, int]] = {}
    errors = _send_all(producer, [f"before-{i}" for i in range(RECORDS_BEFORE)], acked)
    assert not errors, errors

    disk.shut_down()
    errors = _send_all(producer, [f"after-{i}" for i in range(RECORDS_AFTER)], acked)
    assert not errors, errors  # retried on the new leaders, none given up
    assert len(acked) == RECORDS_BEFORE + RECORDS_AFTER

    def moved() -> bool:
        states = _states(bootstrap)
        return all(states[p][0] != FAILING_NODE and FAILING_NODE not in states[p][1] for p in dead)

    _wait(moved, "leadership and ISR off the dead dir's replicas")
    states = _states(bootstrap)
    for p in set(range(PARTITIONS)) - dead:
        assert FAILING_NODE in states[p][1], (p, states[p])  # its other dir serves on
    assert failing.running(), failing.logged()[-3000:]
    # Moved by the heartbeat's offline dir, not by a session that expired.
    assert f"broker {FAILING_NODE} is fenced" not in failing.logged()
    every_log = "".join(n.logged() for n in cluster.nodes.values())
    assert "Traceback" not in every_log, every_log[-3000:]
    assert every_log.count("marked offline, remaining directories") == 1, every_log[-3000:]

    values = _read_all(bootstrap, len(acked))
    assert sorted(values) == sorted(acked), (len(values), len(acked))  # none lost, none twice


RECORDS_AFTER_RESTART = 60


def test_a_broker_restarted_with_a_dead_dir_serves_the_other(
    cluster: KRaftCluster, disk: Ext4Disk
) -> None:
    """Restarted while its second dir's disk is still dead, node 2 starts (Kafka loads a dir
    it cannot read as failed and starts with the others): it registers its healthy dir
    only, rejoins the ISR of that dir's partitions, and the dead dir's partitions stay off
    it (never recreated empty in the healthy dir, never led); clients go on."""
    failing = cluster.nodes[FAILING_NODE]
    dead = {p for p in range(PARTITIONS) if (failing.work_dir / "logs" / f"{TOPIC}-{p}").is_dir()}
    dead = set(range(PARTITIONS)) - dead
    assert 0 < len(dead) < PARTITIONS, dead
    cluster.kill(FAILING_NODE)
    cluster.start(FAILING_NODE)
    cluster.wait_ready(FAILING_NODE)
    bootstrap = cluster.bootstrap

    def healthy_back() -> bool:
        states = _states(bootstrap)
        return all(FAILING_NODE in states[p][1] for p in set(range(PARTITIONS)) - dead)

    _wait(healthy_back, "node 2 back in the ISR of its healthy dir's partitions")
    producer = _producer(bootstrap)
    acked: dict[str, tuple[int, int]] = {}
    values = [f"restarted-{i}" for i in range(RECORDS_AFTER_RESTART)]
    errors = _send_all(producer, values, acked)
    assert not errors, errors
    states = _states(bootstrap)
    for p in dead:
        assert states[p][0] != FAILING_NODE and FAILING_NODE not in states[p][1], (p, states[p])
        assert not (failing.work_dir / "logs" / f"{TOPIC}-{p}").exists(), p
    logged = failing.logged()
    assert logged.count("failed at start") == 1, logged[-3000:]
    assert "Traceback" not in logged, logged[-3000:]
    total = RECORDS_BEFORE + RECORDS_AFTER + RECORDS_AFTER_RESTART
    read = _read_all(bootstrap, total)
    assert len(read) == len(set(read)) == total, (len(read), len(set(read)))
    assert set(values) <= set(read)


def test_a_failed_metadata_log_dir_halts_the_broker(
    cluster: KRaftCluster, metadata_disk: Ext4Disk
) -> None:
    """Kafka halts a node whose metadata log dir failed (exit code 1, no clean shutdown);
    the two others keep the quorum and go on serving."""
    from confluent_kafka.admin import NewTopic

    node = cluster.nodes[METADATA_NODE]
    assert node.running(), node.logged()[-3000:]
    metadata_disk.shut_down()
    admin = _admin(cluster.bootstrap)
    # New metadata records: node 3 appends them to its metadata log (as leader or follower).
    deadline = time.monotonic() + HALT_TIMEOUT_S
    attempt = 0
    while node.running() and time.monotonic() < deadline:
        attempt += 1
        admin.create_topics([NewTopic(f"after-{attempt}", num_partitions=1, replication_factor=1)])
        time.sleep(0.5)
    assert node.process is not None
    assert node.process.poll() == 1, node.logged()[-3000:]
    logged = node.logged()
    assert logged.count("because the metadata log dir") == 1, logged[-3000:]
    assert "Traceback" not in logged, logged[-3000:]
    # The others serve on: a topic is created and the JBOD topic is read whole.
    survivors = ",".join(n.bootstrap for i, n in cluster.nodes.items() if i != METADATA_NODE)
    survivor_admin = _admin(survivors)
    futures = survivor_admin.create_topics(
        [NewTopic("after-halt", num_partitions=1, replication_factor=2)]
    )
    futures["after-halt"].result(timeout=CLIENT_TIMEOUT_S)
