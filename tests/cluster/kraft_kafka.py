"""The Apache Kafka 4.4 baseline of :class:`~kraft_processes.KRaftCluster`: the same nodes,
``server.properties`` and formatting (``ferrokafka storage format``, which writes Kafka's
meta.properties and bootstrap checkpoint), each node run as ``kafka.Kafka`` in a JVM from the
fetched jars instead of ``ferrokafka serve``. A scenario written against KRaftCluster (start,
kill by PID, restart, wait_ready) runs unchanged against Kafka, so that its outcomes can be
put side by side. A node is ready once it logged "Kafka Server started"; its log4j output
goes to the node's ``err.<n>``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from cluster.kraft_processes import START_TIMEOUT_S, KRaftCluster, Node
from kafka_support.broker import BROKER_CLASS
from kafka_support.jars import java_executable, kafka_classpath, write_log4j2_config

KAFKA_READY_LINE = "Kafka Server started"
# Small heaps, C1 only, serial GC: three JVMs share two cores with the clients.
KAFKA_JVM = ("-Xms96m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
# Threads sized for a small machine (resources only: no effect on semantics).
KAFKA_SETTINGS = {
    "num.network.threads": "1",
    "num.io.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "background.threads": "2",
}
# Kafka's JVMs start slower than ferrokafka on a shared machine.
KAFKA_START_TIMEOUT_S = 2 * START_TIMEOUT_S


@dataclass
class KafkaKRaftCluster(KRaftCluster):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.overrides = {**KAFKA_SETTINGS, **self.overrides}

    def start(self, node_id: int) -> None:
        node = self.nodes[node_id]
        assert not node.running(), f"node {node_id} is running"
        node.starts += 1
        log4j = node.work_dir / "log4j2.properties"
        write_log4j2_config(log4j, log_file=None, level="info")
        node.process = subprocess.Popen(
            [
                java_executable(),
                *KAFKA_JVM,
                f"-Dlog4j2.configurationFile={log4j}",
                f"-Dkafka.logs.dir={node.work_dir}",
                "-cp",
                kafka_classpath(),
                BROKER_CLASS,
                str(node.config_file),
            ],
            cwd=node.work_dir,
            stdin=subprocess.DEVNULL,
            stdout=node.out.open("wb"),
            stderr=node.err.open("wb"),
        )

    start_timeout_s = KAFKA_START_TIMEOUT_S

    def _ready(self, node: Node) -> bool:
        """It logged that it started (it is registered and unfenced)."""
        return node.err.exists() and KAFKA_READY_LINE in node.err.read_text(errors="replace")
