"""A KRaft cluster mixing Apache Kafka 4.4 nodes (JVMs from the fetched jars) and
``ferrokafka serve`` nodes on loopback: one cluster id, one static ``controller.quorum.voters``
(every node with the ``controller`` role), each node formatted by its own tool (Kafka's
StorageTool, ``ferrokafka storage format``), started as its own process and stopped by PID.

Every wait is bounded (``*_TIMEOUT_S``); what a node logged is in its work directory
(``kafka.log`` for a Kafka node, ``err.<n>`` for a ferrokafka node) and :meth:`MixedNode.logged`.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kraft_processes import (
    LOOPBACK,
    READY_LINE,
    REPO,
    _env,
    _free_port,
    close_nodes,
    ferrokafka_cli,
    kill_node,
)

from kafka_support.broker import random_cluster_id
from kafka_support.jars import (
    file_tail,
    java_executable,
    kafka_classpath,
    run_kafka_tool,
    write_log4j2_config,
)

START_TIMEOUT_S = 120.0  # a cold JVM on two shared cores
STOP_TIMEOUT_S = 10.0
GRACEFUL_STOP_TIMEOUT_S = 60.0
POLL_S = 0.2
# Small heap, C1 only, serial GC: the machine has two cores shared with other work.
KAFKA_JVM = ("-Xms96m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
KAFKA = "kafka"
FERROKAFKA = "ferrokafka"
# The 4.4 features ferrokafka does not implement (feature_levels.SUPPORTED_FEATURES), formatted
# at 0: a Kafka controller refuses a broker that does not support a finalized level.
# eligible.leader.replicas.version is supported (0-1) and left at the tools' default, 1.
UNSUPPORTED_FEATURES_OFF = {
    "transaction.version": 0,
    "share.version": 0,
    "streams.version": 0,
}


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass
class MixedNode:
    node_id: int
    kind: str  # KAFKA or FERROKAFKA
    roles: tuple[str, ...]
    work_dir: Path
    port: int  # the client (PLAINTEXT) listener; 0 for a controller-only node
    controller_port: int  # the controller listener; 0 for a broker-only node
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles

    @property
    def config_file(self) -> Path:
        return self.work_dir / "server.properties"

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def kafka_log(self) -> Path:
        return self.work_dir / "kafka.log"

    def logged(self) -> str:
        if self.kind == KAFKA:
            return self.kafka_log.read_text(errors="replace") if self.kafka_log.exists() else ""
        return "".join(p.read_text(errors="replace") for p in sorted(self.work_dir.glob("err.*")))

    def tail(self, chars: int = 4000) -> str:
        if self.kind == KAFKA:
            return file_tail(self.kafka_log)
        return self.logged()[-chars:]

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        """A ferrokafka node printed its ready line; a Kafka node: its port is open."""
        if self.kind == KAFKA:
            return _port_open(self.port)
        out = self.work_dir / f"out.{self.starts}"
        return out.exists() and READY_LINE in out.read_text(errors="replace")


@dataclass
class MixedCluster:
    """Nodes given as ``{node_id: (kind, roles)}``; the voters are the controllers."""

    work_dir: Path
    layout: dict[int, tuple[str, tuple[str, ...]]]
    overrides: dict[str, str] = field(default_factory=dict)
    nodes: dict[int, MixedNode] = field(default_factory=dict)
    cluster_id: str = field(default_factory=random_cluster_id)
    features: dict[str, int] = field(default_factory=lambda: dict(UNSUPPORTED_FEATURES_OFF))
    # The Kafka JVM's flags: small by default (tests); the benchmark gives Kafka its own.
    kafka_jvm: tuple[str, ...] = KAFKA_JVM
    # The brokers' one listener and the protocol map (a secured cluster: SASL_SSL, SSL), extra
    # arguments of both format tools (``--add-scram ...``), and what a client needs to reach
    # that listener (``wait_brokers``'s admin client: security.protocol, sasl.*, ssl.*).
    broker_listener: str = "PLAINTEXT"
    protocol_map: str = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    format_args: tuple[str, ...] = ()
    client_config: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node_id, (kind, roles) in self.layout.items():
            self.nodes[node_id] = MixedNode(
                node_id,
                kind,
                roles,
                self.work_dir / f"{kind}-{node_id}",
                _free_port() if "broker" in roles else 0,
                _free_port() if "controller" in roles else 0,
            )

    @property
    def voters(self) -> str:
        return ",".join(
            f"{n.node_id}@{LOOPBACK}:{n.controller_port}"
            for n in self.nodes.values()
            if n.is_controller
        )

    def brokers(self) -> list[MixedNode]:
        return [n for n in self.nodes.values() if n.is_broker]

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.brokers())

    def settings(self, node: MixedNode) -> dict[str, str]:
        listeners = []
        if node.is_broker:
            listeners.append(f"{self.broker_listener}://{LOOPBACK}:{node.port}")
        if node.is_controller:
            listeners.append(f"CONTROLLER://{LOOPBACK}:{node.controller_port}")
        settings = {
            "process.roles": ",".join(node.roles),
            "node.id": str(node.node_id),
            "controller.quorum.voters": self.voters,
            "listeners": ",".join(listeners),
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": self.protocol_map,
            "log.dirs": str(node.work_dir / "logs"),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "num.network.threads": "1",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "2",
            "group.initial.rebalance.delay.ms": "0",
        }
        if node.is_broker:
            settings["advertised.listeners"] = f"{self.broker_listener}://{LOOPBACK}:{node.port}"
            settings["inter.broker.listener.name"] = self.broker_listener
        if node.kind == FERROKAFKA:
            settings["metadata.log.dir"] = str(node.work_dir / "metadata")
        return {**settings, **self.overrides}

    def format(self) -> None:
        flags = [arg for f, v in self.features.items() for arg in ("--feature", f"{f}={v}")]
        for node in self.nodes.values():
            node.work_dir.mkdir(parents=True)
            node.config_file.write_text(
                "".join(f"{k}={v}\n" for k, v in self.settings(node).items())
            )
            if node.kind == KAFKA:
                write_log4j2_config(
                    node.work_dir / "log4j2.properties", log_file=node.kafka_log, level="info"
                )
                run_kafka_tool(
                    "kafka.tools.StorageTool",
                    [
                        "format",
                        "--cluster-id",
                        self.cluster_id,
                        "--config",
                        str(node.config_file),
                        *flags,
                        *self.format_args,
                    ],
                    work_dir=node.work_dir,
                )
            else:
                formatted = ferrokafka_cli(
                    "storage", "format", "-t", self.cluster_id, "-c", str(node.config_file), *flags,
                    *self.format_args,
                )  # fmt: skip
                assert formatted.returncode == 0, formatted.stderr

    def start(self, node_id: int) -> None:
        node = self.nodes[node_id]
        assert not node.running(), f"node {node_id} is running"
        node.starts += 1
        if node.kind == KAFKA:
            with open(node.work_dir / "console.log", "ab") as console:
                node.process = subprocess.Popen(
                    [
                        java_executable(),
                        *self.kafka_jvm,
                        f"-Dlog4j2.configurationFile={node.work_dir / 'log4j2.properties'}",
                        f"-Dkafka.logs.dir={node.work_dir}",
                        "-cp",
                        kafka_classpath(),
                        "kafka.Kafka",
                        str(node.config_file),
                    ],
                    cwd=node.work_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=console,
                    stderr=subprocess.STDOUT,
                )
            return
        node.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from ferrokafka_cli.main import main; main()",
                "serve",
                "--config",
                str(node.config_file),
                "--log-level",
                "INFO",
            ],
            env=_env(),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=(node.work_dir / f"out.{node.starts}").open("wb"),
            stderr=(node.work_dir / f"err.{node.starts}").open("wb"),
        )

    def check_running(self) -> None:
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is not None:
                raise AssertionError(
                    f"{node.kind} node {node.node_id} exited {node.process.returncode}:\n"
                    f"{node.tail()}"
                )

    def wait_brokers(self, *node_ids: int, timeout_s: float = START_TIMEOUT_S) -> float:
        """Until every broker (or those named) is ready (a ferrokafka node printed its ready
        line: registered and unfenced) and in the cluster's metadata as a real client sees it
        through each of them."""
        from confluent_kafka.admin import AdminClient

        started = time.monotonic()
        wanted = set(node_ids or (n.node_id for n in self.brokers()))
        last: object = None
        while time.monotonic() < started + timeout_s:
            self.check_running()
            if not all(self.nodes[i].ready() for i in wanted):
                time.sleep(POLL_S)
                continue
            try:
                seen = [
                    set(
                        AdminClient(
                            {
                                **self.client_config,
                                "bootstrap.servers": self.nodes[i].bootstrap,
                                "log_level": 0,
                            }
                        )  # fmt: skip
                        .list_topics(timeout=2.0)
                        .brokers
                    )
                    for i in wanted
                ]
            except Exception as exc:  # KafkaException while a broker is starting
                last = exc
                time.sleep(POLL_S)
                continue
            last = seen
            if all(wanted <= s for s in seen):
                return time.monotonic() - started
            time.sleep(POLL_S)
        raise AssertionError(
            f"brokers {sorted(wanted)} not all up in {timeout_s} s (last: {last})\n"
            + "\n".join(f"--- node {n.node_id}\n{n.tail()}" for n in self.nodes.values())
        )

    def election(self, node_id: int) -> tuple[int, int] | None:
        """(leader, epoch) as a controller last stored it in its ``quorum-state`` (Kafka's and
        ours: the same file in the metadata log directory); None without a known leader."""
        from ferrokafka.cluster.raft.quorum_state import QuorumStateError, QuorumStateFile

        node = self.nodes[node_id]
        metadata = node.work_dir / ("logs" if node.kind == KAFKA else "metadata")
        try:
            stored = QuorumStateFile(metadata / "__cluster_metadata-0").read()
        except (QuorumStateError, OSError):
            return None  # not written yet, or being replaced as we read
        if stored is None or stored.leader_id is None:
            return None
        return stored.leader_id, stored.epoch

    def wait_leader(
        self, after_epoch: int = 0, timeout_s: float = START_TIMEOUT_S
    ) -> tuple[int, int]:
        """Until every running controller stores the same running leader in an epoch past
        ``after_epoch``; returns (leader, epoch)."""
        deadline = time.monotonic() + timeout_s
        views: dict[int, tuple[int, int] | None] = {}
        while time.monotonic() < deadline:
            self.check_running()
            running = [n.node_id for n in self.nodes.values() if n.is_controller and n.running()]
            views = {i: self.election(i) for i in running}
            agreed = set(views.values())
            if len(agreed) == 1:
                [found] = agreed
                if found is not None and found[1] > after_epoch and found[0] in running:
                    return found
            time.sleep(POLL_S)
        raise AssertionError(f"no agreed leader past epoch {after_epoch}: {views}")

    def stop(self, node_id: int, timeout_s: float = GRACEFUL_STOP_TIMEOUT_S) -> int:
        """SIGTERM (a broker asks for its controlled shutdown first); the exit code, or raise
        if it did not exit in time (then it is killed)."""
        node = self.nodes[node_id]
        assert node.process is not None
        node.process.send_signal(signal.SIGTERM)
        try:
            code = node.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill(node_id)
            raise AssertionError(f"node {node_id} did not stop in {timeout_s} s") from None
        node.process = None
        return code

    def kill(self, node_id: int) -> None:
        kill_node(self.nodes[node_id])

    def close(self) -> None:
        """Kill every node by PID."""
        close_nodes(self.nodes.values())
