"""An Apache Kafka 4.4 node (a JVM from the fetched jars, ``kafka.Kafka server.properties``)
as a node of :class:`~.cluster.FaultCluster`: the baseline the same schedules and checkers run
against. Started, faulted and stopped by PID like a ``ferrokafka serve`` node; its log4j
output goes to its ``serve.err``, and it is ready once it logged "Kafka Server started".

Kafka exits 143 (128 + SIGTERM) after a clean shutdown on SIGTERM, as well as 0.
"""

from __future__ import annotations

from pathlib import Path

from .cluster import ClusterNode

# Small heap, C1 only, serial GC: three JVMs share two cores with the clients.
KAFKA_JVM = ("-Xms96m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
KAFKA_READY_LINE = "Kafka Server started"
# Threads sized for a small machine (resources only: no effect on semantics).
KAFKA_SETTINGS = {
    "num.network.threads": "1",
    "num.io.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "background.threads": "2",
}


class KafkaClusterNode(ClusterNode):
    CLEAN_EXIT_CODES = (0, 143)

    @property
    def log4j_config(self) -> Path:
        return self.work_dir / "log4j2.properties"

    def prepare(self) -> None:
        from kafka_support.jars import write_log4j2_config

        write_log4j2_config(self.log4j_config, log_file=None, level="info")

    def _command(self) -> list[str]:
        from kafka_support.jars import java_executable, kafka_classpath

        return [
            *self.placement.command_prefix(),
            java_executable(),
            *KAFKA_JVM,
            f"-Dlog4j2.configurationFile={self.log4j_config}",
            f"-Dkafka.logs.dir={self.work_dir}",
            "-cp",
            kafka_classpath(),
            "kafka.Kafka",
            str(self.config_file),
        ]

    def _ready_lines(self) -> int:
        return self.stderr_count(KAFKA_READY_LINE)
