"""A dynamic KRaft quorum (KIP-853) of ``ferrokafka serve`` controller-only processes for tests:
node 1 formatted ``--standalone``, the others ``--no-initial-controllers`` (observers until
``kafka-metadata-quorum add-controller`` makes them voters), all with
``controller.quorum.bootstrap.servers`` naming every controller. Kafka's tool runs with each
node's own config file (``--command-config``), as Kafka's docs show."""

from __future__ import annotations

from dataclasses import dataclass

from kraft_processes import LOOPBACK, KRaftCluster, ferrokafka_cli

import kafka_support as ks

QUORUM_COMMAND = "org.apache.kafka.tools.MetadataQuorumCommand"


@dataclass
class DynamicQuorum(KRaftCluster):
    """``size`` controller-only nodes (node 1 starts as the only voter) and ``brokers``
    broker-only nodes after them (observers of the quorum)."""

    def is_voter(self, node_id: int) -> bool:
        return node_id <= self.size  # a controller listener (voter or not yet)

    def format(self) -> None:
        made = ferrokafka_cli("storage", "random-uuid")
        assert made.returncode == 0, made.stderr
        self.cluster_id = made.stdout.strip()
        # Every controller, as Kafka's docs advise: an observer finds the leader through any
        # that is up (node 1, the first leader, may be dead by then).
        bootstrap_servers = ",".join(
            f"{LOOPBACK}:{n.controller_port}"
            for n in self.nodes.values()
            if self.is_voter(n.node_id)
        )
        for node in self.nodes.values():
            node.work_dir.mkdir(parents=True)
            controller = self.is_voter(node.node_id)
            listener = (
                f"CONTROLLER://{LOOPBACK}:{node.controller_port}"
                if controller
                else f"PLAINTEXT://{LOOPBACK}:{node.port}"
            )
            settings = {
                "process.roles": "controller" if controller else "broker",
                "node.id": str(node.node_id),
                "controller.quorum.bootstrap.servers": bootstrap_servers,
                "listeners": listener,
                "advertised.listeners": listener,
                "controller.listener.names": "CONTROLLER",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs": str(node.work_dir / "metadata"),
                "metadata.log.dir": str(node.work_dir / "metadata"),
                **self.overrides,
            }
            if not controller:
                settings["inter.broker.listener.name"] = "PLAINTEXT"
                settings["offsets.topic.replication.factor"] = "1"
                settings["transaction.state.log.replication.factor"] = "1"
                settings["transaction.state.log.min.isr"] = "1"
            node.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
            flag = ["--standalone" if node.node_id == 1 else "--no-initial-controllers"]
            formatted = ferrokafka_cli(
                "storage", "format", "-t", self.cluster_id, "-c", str(node.config_file),
                *(flag if controller else []),
            )  # fmt: skip
            assert formatted.returncode == 0, formatted.stderr

    def quorum_tool(self, *args: str, via: int | None = None) -> str:
        """Kafka's kafka-metadata-quorum through the running controllers."""
        nodes = [
            n
            for n in self.nodes.values()
            if self.is_voter(n.node_id) and n.running() and via in (None, n.node_id)
        ]
        bootstrap = ",".join(f"{LOOPBACK}:{n.controller_port}" for n in nodes)
        return ks.run_kafka_tool(
            QUORUM_COMMAND, ["--bootstrap-controller", bootstrap, *args], work_dir=self.work_dir
        ).stdout

    def quorum_tool_via_broker(self, broker: int, *args: str) -> str:
        """Kafka's kafka-metadata-quorum through a broker (it forwards to the controller)."""
        bootstrap = f"{LOOPBACK}:{self.nodes[broker].port}"
        return ks.run_kafka_tool(
            QUORUM_COMMAND, ["--bootstrap-server", bootstrap, *args], work_dir=self.work_dir
        ).stdout

    def directory_id(self, node_id: int) -> str:
        meta = self.nodes[node_id].work_dir / "metadata" / "meta.properties"
        for line in meta.read_text().splitlines():
            if line.startswith("directory.id="):
                return line.split("=", 1)[1]
        raise AssertionError(f"{meta} has no directory.id")
