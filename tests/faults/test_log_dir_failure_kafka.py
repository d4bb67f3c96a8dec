"""The baseline of test_log_dir_failure_cluster.py: the same JBOD setup on three Apache Kafka
4.4 nodes (combined broker+controller, two log dirs each, node 2's second on an ext4 loop
disk that is shut down between two runs of an idempotent acks=all confluent-kafka producer),
checked by the same assertions: leadership and ISR leave node 2 for the dead dir's partitions
only, node 2 stays up, every acknowledged record is read once. One difference, asserted: Kafka
fails the sends that hit the dead disk with UNKNOWN_SERVER_ERROR (not retriable), where
ferrokafka's KAFKA_STORAGE_ERROR lets the producer retry on the new leader. Opt-in
(FERROKAFKA_COMPARE_KAFKA=1: three JVMs)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafka_support.opt_in import COMPARE_OPT_IN

from .ext4_disk import Ext4Disk
from .test_log_dir_failure_cluster import (
    FAILING_NODE,
    PARTITIONS,
    RECORDS_AFTER,
    RECORDS_BEFORE,
    TOPIC,
    _admin,
    _mounted,
    _producer,
    _read_all,
    _send_all,
    _states,
    _wait,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))
from mixed_processes import KAFKA, MixedCluster, MixedNode

pytestmark = [COMPARE_OPT_IN, pytest.mark.kafka]
UNKNOWN_SERVER_ERROR = -1
LAYOUT = {i: (KAFKA, ("broker", "controller")) for i in (1, 2, 3)}


class _JbodCluster(MixedCluster):
    disk_path: Path | None = None

    def settings(self, node: MixedNode) -> dict[str, str]:
        settings = super().settings(node)
        second = node.work_dir / "l2"
        if node.node_id == FAILING_NODE and self.disk_path is not None:
            second = self.disk_path
        settings["log.dirs"] = f"{settings['log.dirs']},{second}"
        return settings


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Ext4Disk]:
    (tmp_path / "disk").mkdir()
    made = _mounted(tmp_path / "disk")
    yield made
    made.close()


@pytest.fixture
def cluster(tmp_path: Path, disk: Ext4Disk) -> Iterator[_JbodCluster]:
    made = _JbodCluster(
        tmp_path / "cluster",
        LAYOUT,
        overrides={
            "broker.session.timeout.ms": "6000",
            "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "3000",
            "replica.fetch.backoff.ms": "200",
        },
    )
    made.disk_path = disk.path / "data"
    try:
        made.format()
        for node_id in made.nodes:
            made.start(node_id)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def test_kafka_moves_leadership_off_a_failed_dir(cluster: _JbodCluster, disk: Ext4Disk) -> None:
    from confluent_kafka.admin import NewTopic

    bootstrap = cluster.bootstrap
    admin = _admin(bootstrap)
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
    futures[TOPIC].result(timeout=60)
    _wait(lambda: all(len(isr) == 3 for _, isr in _states(bootstrap).values()), "full ISRs")
    failing = cluster.nodes[FAILING_NODE]
    dirs = (failing.work_dir / "logs", disk.path / "data")

    def placed() -> set[int]:
        return {p for p in range(PARTITIONS) for d in dirs if (d / f"{TOPIC}-{p}").is_dir()}

    _wait(lambda: len(placed()) == PARTITIONS, "node 2's replicas created")
    dead = {p for p in range(PARTITIONS) if (dirs[1] / f"{TOPIC}-{p}").is_dir()}
    assert 0 < len(dead) < PARTITIONS, dead
    _wait(lambda: "assign" in failing.logged().lower(), "node 2's directory assignments")

    producer = _producer(bootstrap)
    acked: dict[str, tuple[int, int]] = {}
    assert not _send_all(producer, [f"before-{i}" for i in range(RECORDS_BEFORE)], acked)
    disk.shut_down()
    errors = _send_all(producer, [f"after-{i}" for i in range(RECORDS_AFTER)], acked)
    # Kafka 4.4 answers the produce whose fsync hit the dead disk UNKNOWN_SERVER_ERROR (-1),
    # not retriable: those sends fail (not acknowledged, so nothing acknowledged is lost),
    # where ferrokafka answers KAFKA_STORAGE_ERROR (56) and the producer's retry lands on the
    # new leader. Only that error is accepted here.
    assert all(e.code() == UNKNOWN_SERVER_ERROR for e in errors), errors
    print(f"Kafka 4.4: {len(errors)} of {RECORDS_AFTER} sends failed after the disk died")

    def moved() -> bool:
        states = _states(bootstrap)
        return all(states[p][0] != FAILING_NODE and FAILING_NODE not in states[p][1] for p in dead)

    _wait(moved, "leadership and ISR off the dead dir's replicas")
    states = _states(bootstrap)
    for p in set(range(PARTITIONS)) - dead:
        assert FAILING_NODE in states[p][1], (p, states[p])
    assert failing.running(), failing.tail()
    values = _read_all(bootstrap, len(acked))
    assert sorted(values) == sorted(acked)

    # Restarted with the disk still dead: Kafka starts with the other dir, the dead dir's
    # partitions stay off node 2 (test_a_broker_restarted_with_a_dead_dir_serves_the_other).
    cluster.kill(FAILING_NODE)
    cluster.start(FAILING_NODE)
    cluster.wait_brokers(FAILING_NODE)

    def healthy_back() -> bool:
        states = _states(bootstrap)
        return all(FAILING_NODE in states[p][1] for p in set(range(PARTITIONS)) - dead)

    _wait(healthy_back, "node 2 back in the ISR of its healthy dir's partitions")
    more: dict[str, tuple[int, int]] = {}
    assert not _send_all(_producer(bootstrap), [f"restarted-{i}" for i in range(10)], more)
    states = _states(bootstrap)
    for p in dead:
        assert states[p][0] != FAILING_NODE and FAILING_NODE not in states[p][1], (p, states[p])
        assert not (dirs[0] / f"{TOPIC}-{p}").exists(), p
