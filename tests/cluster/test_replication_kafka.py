"""Replication between ferrokafka and Apache Kafka 4.4 brokers in one cluster: three
``ferrokafka serve`` nodes (the KRaft quorum and brokers 1-3) and a Kafka broker-only node
(broker 4, ``kafka.Kafka`` in a JVM) that registers with the ferrokafka controller. A topic
assigned with Kafka's own kafka-topics ``--replica-assignment 1:4,4:2``: partition 0 is led by
ferrokafka and followed by Kafka, partition 1 led by Kafka and followed by ferrokafka. An
idempotent acks=all producer is acknowledged on both, kafka-topics --describe shows both ISRs
full, and the follower's segment file is byte-for-byte the leader's, both ways. Both kinds of
follower fetch in incremental fetch sessions (KIP-227) from the other kind's leader: each side
logs the session it opened or served, and neither logs a refused session or a bad answer."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kraft_processes import LOOPBACK, KRaftCluster, _free_port

import kafka_support as ks
from kafka_support.broker import BROKER_CLASS, BROKER_JVM_OPTIONS, STORAGE_TOOL_CLASS
from kafka_support.jars import (
    java_executable,
    kafka_classpath,
    run_kafka_tool,
    write_log4j2_config,
)

TOPIC = "mix"
KAFKA_ID = 4
RECORDS = 200
TIMEOUT_S = 90.0
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
SEGMENT = "00000000000000000000.log"
FETCH_SESSION_HANDLER = "org.apache.kafka.clients.FetchSessionHandler"


class KafkaBrokerNode:
    """Apache Kafka as a broker-only node of the ferrokafka cluster's quorum."""

    def __init__(self, cluster: KRaftCluster, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.port = _free_port()
        self.data_dir = work_dir / "data"
        self.process: subprocess.Popen[bytes] | None = None
        voters = ",".join(
            f"{n.node_id}@{LOOPBACK}:{n.controller_port}" for n in cluster.nodes.values()
        )
        self.settings = {
            "process.roles": "broker",
            "node.id": str(KAFKA_ID),
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            "listeners": f"PLAINTEXT://{LOOPBACK}:{self.port}",
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
        }
        self.cluster_id = cluster.cluster_id

    def start(self) -> None:
        self.work_dir.mkdir(parents=True)
        config = self.work_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self.settings.items()))
        log4j = self.work_dir / "log4j2.properties"
        write_log4j2_config(log4j, log_file=self.work_dir / "server.log", level="info")
        with log4j.open("a") as extra:  # the follower's fetch sessions, fetch by fetch
            extra.write(f"logger.fsh.name = {FETCH_SESSION_HANDLER}\nlogger.fsh.level = debug\n")
        run_kafka_tool(
            STORAGE_TOOL_CLASS,
            ["format", "--cluster-id", self.cluster_id, "--config", str(config)],
            work_dir=self.work_dir,
            timeout_s=TIMEOUT_S,
        )
        with open(self.work_dir / "console", "ab") as console:
            self.process = subprocess.Popen(
                [
                    java_executable(),
                    *BROKER_JVM_OPTIONS,
                    f"-Dlog4j2.configurationFile={log4j}",
                    f"-Dkafka.logs.dir={self.work_dir}",
                    "-cp",
                    kafka_classpath(),
                    BROKER_CLASS,
                    str(config),
                ],
                cwd=self.work_dir,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=console,
            )

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(TIMEOUT_S)


@pytest.fixture
def mixed(tmp_path: Path) -> Iterator[tuple[KRaftCluster, KafkaBrokerNode]]:
    cluster = KRaftCluster(tmp_path / "cluster")
    kafka: KafkaBrokerNode | None = None
    try:
        cluster.format()
        for node_id in cluster.nodes:
            cluster.start(node_id)
        cluster.wait_ready()
        kafka = KafkaBrokerNode(cluster, tmp_path / "kafka")
        kafka.start()
        yield cluster, kafka
    finally:
        if kafka is not None:
            kafka.kill()
        cluster.close()


def wait_for_broker(bootstrap: str, broker_id: int) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + TIMEOUT_S
    while broker_id not in admin.list_topics(timeout=TIMEOUT_S).brokers:
        assert time.monotonic() < deadline, f"broker {broker_id} never registered"
        time.sleep(0.5)


def describe(bootstrap: str, tool_dir: Path) -> str:
    args = ["--bootstrap-server", bootstrap, "--describe", "--topic", TOPIC]
    return str(ks.run_kafka_tool(TOPIC_COMMAND, args, work_dir=tool_dir).stdout)


def produce(bootstrap: str) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    failed: list[Any] = []
    for i in range(RECORDS):
        producer.produce(
            TOPIC,
            value=b"v%d" % i,
            partition=i % 2,
            on_delivery=lambda err, _msg: failed.append(err) if err else None,
        )
    assert producer.flush(TIMEOUT_S) == 0
    assert failed == []


def test_ferrokafka_and_kafka_brokers_follow_each_other(
    mixed: tuple[KRaftCluster, KafkaBrokerNode], tmp_path: Path
) -> None:
    cluster, kafka = mixed
    boot = cluster.bootstrap
    wait_for_broker(boot, KAFKA_ID)
    tool_dir = tmp_path / "tool"
    tool_dir.mkdir()
    created = ks.run_kafka_tool(
        TOPIC_COMMAND,
        [
            "--bootstrap-server",
            boot,
            "--create",
            "--topic",
            TOPIC,
            "--replica-assignment",
            f"1:{KAFKA_ID},{KAFKA_ID}:2",
        ],  # fmt: skip
        work_dir=tool_dir,
    )
    assert "Created topic" in created.stdout
    produce(boot)
    segments = {
        "ferrokafka leads 0": (
            cluster.nodes[1].work_dir / "logs" / f"{TOPIC}-0" / SEGMENT,
            kafka.data_dir / f"{TOPIC}-0" / SEGMENT,
        ),
        "Kafka leads 1": (
            kafka.data_dir / f"{TOPIC}-1" / SEGMENT,
            cluster.nodes[2].work_dir / "logs" / f"{TOPIC}-1" / SEGMENT,
        ),
    }
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        same = {
            name: leader.exists() and follower.exists()
            and leader.read_bytes() == follower.read_bytes()
            for name, (leader, follower) in segments.items()
        }  # fmt: skip
        if all(same.values()):
            break
        assert time.monotonic() < deadline, f"segments differ: {same}"
        time.sleep(0.2)
    for leader, _follower in segments.values():
        assert leader.stat().st_size > 0
    # Fetch sessions: ferrokafka's follower of partition 1 holds one with the Kafka leader,
    # the Kafka follower of partition 0 one with ferrokafka's leader (node 1).
    assert re.search(
        rf"fetch session \d+ opened with broker {KAFKA_ID} ", cluster.nodes[2].logged()
    )
    assert re.search(
        rf"fetch session \d+ opened for replica {KAFKA_ID} ", cluster.nodes[1].logged()
    )
    for node_id in (1, 2):
        logged = cluster.nodes[node_id].logged()
        bad = re.search(r"fetch session \d+ refused|an answer that does not match", logged)
        assert bad is None, logged[-3000:]
    # The Kafka follower's first fetch of a session is full; its log shows an incremental
    # answer only from the next one on (bounded wait: a loaded machine is slower to get there).
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        kafka_log = (kafka.work_dir / "server.log").read_text(errors="replace")
        if "Node 1 sent an incremental fetch response" in kafka_log:
            break
        assert time.monotonic() < deadline, kafka_log[-3000:]
        time.sleep(0.2)
    for complaint in ("was unable to process the fetch request", "invalid full fetch",
                      "invalid incremental fetch"):  # fmt: skip
        assert complaint not in kafka_log, complaint
    described = describe(boot, tool_dir)
    assert f"Partition: 0\tLeader: 1\tReplicas: 1,{KAFKA_ID}\tIsr: 1,{KAFKA_ID}" in described
    assert f"Partition: 1\tLeader: {KAFKA_ID}\tReplicas: {KAFKA_ID},2\tIsr: {KAFKA_ID},2" in (
        described
    )
