"""A cluster under faults: ``size`` combined (broker+controller) ``ferrokafka serve`` nodes
(or Apache Kafka 4.4 nodes, the baseline: :mod:`.kafka_node`), each in its own network
namespace on one bridge (:mod:`.netns`), one static KRaft quorum of all of them, formatted
with ``ferrokafka storage format`` (Kafka's StorageTool) like any configured node.

- :class:`ClusterNode`: a :class:`~.nodes.FerrokafkaNode` started from its own
  ``server.properties`` (so the PID faults of the single-node form apply unchanged).
- :class:`NamespaceNetwork`: the network faults of :mod:`.schedule` as blackhole routes and
  links (kernel behaviour, no ``tc netem``, no iptables), by node index; ``heal`` lists the
  routes each namespace really holds and removes them, so it heals whatever was left.
- :class:`FaultCluster`: the bridge, the nodes, formatting, starting every node (a node is
  ready once a quorum runs, so they are launched together), and :meth:`FaultCluster.resolve`
  of an event's target (a partition's leader from a client's metadata, the active controller
  from the nodes' ``quorum-state`` files).

Timeouts are short so that faults of a few seconds fence brokers and shrink ISRs within a
run (:data:`CLUSTER_SETTINGS`). :meth:`FaultCluster.close` leaves no process, namespace or
bridge behind.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .netns import Bridge, NamespacePlacement
from .nodes import (
    REPO,
    START_TIMEOUT_S,
    FerrokafkaNode,
    NodeConfig,
    NodeError,
    _source_tree_env,
    stop_cleanly,
)
from .schedule import CONTROLLER, LEADER, Event

log = logging.getLogger(__name__)
CLI_TIMEOUT_S = 60.0
METADATA_TIMEOUT_S = 5.0
LAST_STOP_TIMEOUT_S = 15.0
# Replicated internal topics, Kafka's min.insync.replicas 2 everywhere, and timeouts short
# enough for faults of seconds: a broker silent for 3 s is fenced, a follower 3 s behind
# leaves the ISR (Kafka's defaults: 9 s and 30 s).
CLUSTER_SETTINGS = {
    "min.insync.replicas": "2",
    "default.replication.factor": "3",
    "offsets.topic.replication.factor": "3",
    "offsets.topic.num.partitions": "6",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "group.initial.rebalance.delay.ms": "0",
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "3000",
    "replica.fetch.backoff.ms": "200",
}


def ferrokafka_cli(*args: str) -> str:
    """Run the ``ferrokafka`` command of this checkout; its stdout (raise with its stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", "from ferrokafka_cli.main import main; main()", *args],
        env=_source_tree_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise NodeError(f"ferrokafka {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


FERROKAFKA = "ferrokafka"
KAFKA = "kafka"
BROKERS = (FERROKAFKA, KAFKA)


class ClusterNode(FerrokafkaNode):
    """A node of the cluster: ``ferrokafka serve --config`` its ``server.properties``."""

    def prepare(self) -> None:
        """Whatever the node needs next to its ``server.properties`` before formatting."""

    @property
    def config_file(self) -> Path:
        return self.work_dir / "server.properties"

    @property
    def metadata_dir(self) -> Path:
        return self.data_dir / "metadata"

    def _command(self) -> list[str]:
        return [
            *self.placement.command_prefix(),
            sys.executable,
            "-c",
            "from ferrokafka_cli.main import main; main()",
            "serve",
            "--config",
            str(self.config_file),
            "--log-level",
            self.config.log_level,
        ]


class NamespaceNetwork:
    """Network faults between the nodes' namespaces (clients, on the host, are cut off only
    by :meth:`link_down`)."""

    def __init__(self, placements: list[NamespacePlacement]) -> None:
        self.placements = placements

    def _others(self, node: int) -> list[int]:
        return [i for i in range(len(self.placements)) if i != node]

    def partition(self, node: int) -> None:
        for other in self._others(node):
            self.placements[node].block(self.placements[other].host)
            self.placements[other].block(self.placements[node].host)

    def one_way(self, node: int) -> None:
        for other in self._others(node):
            self.placements[node].block(self.placements[other].host)

    def bridge(self, node: int) -> None:
        for a in self._others(node):
            for b in self._others(node):
                if a != b:
                    self.placements[a].block(self.placements[b].host)

    def link_down(self, node: int) -> None:
        self.placements[node].link_down()

    def heal(self) -> None:
        for placement in self.placements:
            for address in placement.blocked():
                placement.unblock(address)
            placement.link_up()


class FaultCluster:
    """``size`` nodes in namespaces ``<tag>n0..``, node ids 1..size (index + 1)."""

    def __init__(
        self,
        work_dir: Path,
        size: int = 3,
        *,
        log_level: str = "WARNING",
        overrides: dict[str, str] | None = None,
        broker: str = FERROKAFKA,
        power_disk_bytes: int | None = None,
    ) -> None:
        if broker not in BROKERS:
            raise ValueError(f"broker must be one of {BROKERS}, got {broker!r}")
        node_class: type[ClusterNode] = ClusterNode
        settings = dict(CLUSTER_SETTINGS)
        if broker == KAFKA:
            from .kafka_node import KAFKA_SETTINGS, KafkaClusterNode

            node_class = KafkaClusterNode
            settings.update(KAFKA_SETTINGS)
        self.broker = broker
        self.work_dir = Path(work_dir)
        self.size = size
        self.overrides = {**settings, **(overrides or {})}
        self.cluster_id = ""
        self.bridge_net = Bridge()
        self.nodes: list[ClusterNode] = []
        try:
            for index in range(size):
                config = NodeConfig(
                    node_id=index + 1,
                    work_dir=self.work_dir / f"node-{index + 1}",
                    log_level=log_level,
                    power_disk_bytes=power_disk_bytes,
                )
                self.nodes.append(node_class(config, self.bridge_net.placement(index)))
        except BaseException:
            self.close()
            raise
        placements = [node.placement for node in self.nodes]
        self.network = NamespaceNetwork(placements)  # type: ignore[arg-type]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def _settings(self, node: ClusterNode) -> dict[str, str]:
        voters = ",".join(f"{n.config.node_id}@{n.host}:{n.controller_port}" for n in self.nodes)
        return {
            "process.roles": "broker,controller",
            "node.id": str(node.config.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{node.host}:{node.port},"
            f"CONTROLLER://{node.host}:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{node.host}:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(node.data_dir / "logs"),
            "metadata.log.dir": str(node.metadata_dir),
            **self.overrides,
        }

    def format(self) -> str:
        """Each node's ``server.properties``, formatted by its own broker's tool (Kafka's
        StorageTool with 4.4's default features for Kafka nodes)."""
        from kafka_support.broker import random_cluster_id
        from kafka_support.jars import run_kafka_tool

        cluster_id = random_cluster_id()
        for node in self.nodes:
            node.mount_disk()
            settings = self._settings(node)
            node.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
            node.prepare()
            config = str(node.config_file)
            if self.broker == KAFKA:
                arguments = ["format", "--cluster-id", cluster_id, "--config", config]
                run_kafka_tool("kafka.tools.StorageTool", arguments, work_dir=node.work_dir)
            else:
                ferrokafka_cli("storage", "format", "-t", cluster_id, "-c", config)
        return cluster_id

    def start(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Format (the first time), launch every node, then wait for each to be ready;
        returns the seconds."""
        if not self.cluster_id:
            self.cluster_id = self.format()
        began = time.monotonic()
        before = [node.launch() for node in self.nodes]
        for node, ready_before in zip(self.nodes, before, strict=True):
            node.wait_ready(ready_before, began + timeout_s)
        return time.monotonic() - began

    # -- targets -------------------------------------------------------------------------------

    def active_controller(self) -> int | None:
        """The index of the leader in the newest epoch any running node stored in its
        ``quorum-state`` (Kafka's file, the same in both brokers)."""
        from ferrokafka.cluster.raft.quorum_state import QuorumStateError, QuorumStateFile

        best: tuple[int, int] | None = None
        for node in self.nodes:
            if not node.running:
                continue
            try:
                stored = QuorumStateFile(node.metadata_dir / "__cluster_metadata-0").read()
            except (QuorumStateError, OSError):
                continue  # not written yet, or being replaced as we read
            if stored is None or stored.leader_id is None:
                continue
            if best is None or stored.epoch > best[0]:
                best = (stored.epoch, stored.leader_id)
        return None if best is None else best[1] - 1

    def partition_leader(self, topic: str, partition: int) -> int | None:
        """The index of the node a client's metadata names as the partition's leader."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        try:
            metadata: Any = admin.list_topics(topic, timeout=METADATA_TIMEOUT_S)
        except KafkaException:
            return None
        found = metadata.topics.get(topic)
        if found is None or partition not in found.partitions:
            return None
        leader = found.partitions[partition].leader
        return leader - 1 if 1 <= leader <= self.size else None

    def resolver(self, topic: str) -> Any:
        """The nemesis's ``resolve``: an event's node index and, for the history, what the
        target was resolved from (the drawn node when it could not be)."""

        def resolve(event: Event) -> tuple[int, str]:
            if event.target == LEADER:
                found = self.partition_leader(topic, event.partition)
            elif event.target == CONTROLLER:
                found = self.active_controller()
            else:
                return event.node, ""
            if found is None:
                return event.node, f" ({event.aimed_at} unknown)"
            return found, f" ({event.aimed_at})"

        return resolve

    # -- teardown ------------------------------------------------------------------------------

    def stop(self) -> list[str]:
        """Clean stop of every node (SIGTERM), one after the other; what went wrong. The last
        node has no quorum left to approve its controlled shutdown (Kafka's broker waits up
        to 5 minutes for that, then stops anyway): it is given ``LAST_STOP_TIMEOUT_S`` and
        then killed, which is not counted; an exit code that is not clean still is."""
        *first, last = self.nodes
        problems = stop_cleanly(first)
        try:
            code = last.stop(LAST_STOP_TIMEOUT_S)
        except NodeError:
            log.info("node %d alone: killed after %ss", last.config.node_id, LAST_STOP_TIMEOUT_S)
            return problems
        if code is not None and code not in last.CLEAN_EXIT_CODES:
            problems.append(f"node {last.config.node_id}: clean stop exited with code {code}")
        return problems

    def close(self) -> None:
        """Kill every node by PID, then delete the namespaces and the bridge."""
        try:
            for node in self.nodes:
                node.close()
        finally:
            self.bridge_net.close()

    def stderr_count(self, needle: str) -> int:
        return sum(node.stderr_count(needle) for node in self.nodes)
