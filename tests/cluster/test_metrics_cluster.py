"""Metrics of a 3-node KRaft cluster of ``ferrokafka serve`` processes, each with its own
metrics port: every node ready, exactly one active controller, the partitions of an RF 3 topic
led once each, and a killed node's partitions counted under-replicated by their leaders once
the controller fenced it (broker.session.timeout.ms) and they shrank their ISRs."""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from kraft_processes import KRaftCluster
from metrics_support import Samples, free_port, http_get, scrape, value

TOPIC = "metered"
PARTITIONS = 3
CLIENT_TIMEOUT_S = 30.0
# The fenced node's partitions shrink their ISR after broker.session.timeout.ms (9 s by
# default) plus a heartbeat or two; the rest is margin for a loaded machine.
WAIT_S = 90.0
POLL_S = 0.5


def _gauge(samples: Samples, name: str) -> float:
    found = value(samples, name)
    assert found is not None, name
    return found


def _wait(ports: dict[int, int], done: object, what: str) -> dict[int, Samples]:
    deadline = time.monotonic() + WAIT_S
    while True:
        scraped = {node_id: scrape(port) for node_id, port in ports.items()}
        if done(scraped):  # type: ignore[operator]
            return scraped
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        time.sleep(POLL_S)


def test_cluster_metrics(tmp_path: Path) -> None:
    cluster = KRaftCluster(tmp_path, size=3)
    ports = {node_id: free_port() for node_id in cluster.nodes}
    try:
        cluster.format()
        for node_id, node in cluster.nodes.items():
            with node.config_file.open("a") as config:
                config.write(f"ferrokafka.metrics.port={ports[node_id]}\n")
            cluster.start(node_id)
        cluster.wait_ready()
        for port in ports.values():
            assert http_get(port, "/readyz") == (200, b"ready\n")

        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3)])[TOPIC].result(CLIENT_TIMEOUT_S)

        def settled(scraped: dict[int, Samples]) -> bool:
            hosted = [
                value(s, "kafka_log_log_logendoffset", topic=TOPIC, partition=str(p))
                for s in scraped.values()
                for p in range(PARTITIONS)
            ]
            return all(h is not None for h in hosted)

        scraped = _wait(ports, settled, "every node hosts every partition")
        active = [
            _gauge(s, "kafka_controller_kafkacontroller_activecontrollercount")
            for s in scraped.values()
        ]
        assert sorted(active) == [0, 0, 1]
        leaders = sum(
            _gauge(s, "kafka_server_replicamanager_leadercount") for s in scraped.values()
        )
        hosted = [_gauge(s, "kafka_server_replicamanager_partitioncount") for s in scraped.values()]
        assert leaders == hosted[0] == hosted[1] == hosted[2]  # every partition has RF 3 here
        for s in scraped.values():
            assert _gauge(s, "kafka_server_replicamanager_underreplicatedpartitions") == 0
        controller = next(
            s
            for s in scraped.values()
            if _gauge(s, "kafka_controller_kafkacontroller_activecontrollercount") == 1
        )
        assert _gauge(controller, "kafka_controller_kafkacontroller_globaltopiccount") >= 1
        assert _gauge(controller, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0

        victim = next(
            node_id
            for node_id, s in scraped.items()
            if _gauge(s, "kafka_controller_kafkacontroller_activecontrollercount") == 0
        )
        cluster.kill(victim)
        survivors = {n: p for n, p in ports.items() if n != victim}

        def shrunk(scraped: dict[int, Samples]) -> bool:
            under = sum(
                _gauge(s, "kafka_server_replicamanager_underreplicatedpartitions")
                for s in scraped.values()
            )
            led = sum(
                _gauge(s, "kafka_server_replicamanager_leadercount") for s in scraped.values()
            )
            return led == leaders and under == leaders

        scraped = _wait(survivors, shrunk, "every partition led by a survivor, under-replicated")
        for s in scraped.values():
            assert _gauge(s, "kafka_server_replicamanager_underminisrpartitioncount") == 0
        for port in survivors.values():
            assert http_get(port, "/readyz") == (200, b"ready\n")
    finally:
        cluster.close()
