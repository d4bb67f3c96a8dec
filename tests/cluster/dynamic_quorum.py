"""A dynamic KRaft quorum (KIP-853) of ``ferrokafka serve`` controller-only processes for tests:
node 1 formatted ``--standalone``, the others ``--no-initial-controllers`` (observers until
``kafka-metadata-quorum add-controller`` makes them voters), all with
``controller.quorum.bootstrap.servers`` naming node 1. Kafka's tool runs with each node's own
config file (``--command-config``), as Kafka's docs show."""

from __future__ import annotations

from dataclasses import dataclass

from kraft_processes import LOOPBACK, KRaftCluster, ferrokafka_cli

import kafka_support as ks

QUORUM_COMMAND = "org.apache.kafka.tools.MetadataQuorumCommand"


@dataclass
class DynamicQuorum(KRaftCluster):
    """``size`` controller-only nodes; node 1 starts as the only voter."""

    def is_voter(self, node_id: int) -> bool:
        return True  # every node has a controller listener (voter or not yet)

    def format(self) -> None:
        made = ferrokafka_cli("storage", "random-uuid")
        assert made.returncode == 0, made.stderr
        self.cluster_id = made.stdout.strip()
        first = self.nodes[1]
        for node in self.nodes.values():
            node.work_dir.mkdir(parents=True)
            settings = {
                "process.roles": "controller",
                "node.id": str(node.node_id),
                "controller.quorum.bootstrap.servers": f"{LOOPBACK}:{first.controller_port}",
                "listeners": f"CONTROLLER://{LOOPBACK}:{node.controller_port}",
                "advertised.listeners": f"CONTROLLER://{LOOPBACK}:{node.controller_port}",
                "controller.listener.names": "CONTROLLER",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
                "log.dirs": str(node.work_dir / "metadata"),
                "metadata.log.dir": str(node.work_dir / "metadata"),
                **self.overrides,
            }
            node.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
            flag = "--standalone" if node.node_id == 1 else "--no-initial-controllers"
            formatted = ferrokafka_cli(
                "storage", "format", "-t", self.cluster_id, "-c", str(node.config_file), flag
            )
            assert formatted.returncode == 0, formatted.stderr

    def quorum_tool(self, *args: str, via: int | None = None) -> str:
        """Kafka's kafka-metadata-quorum through the running controllers."""
        nodes = [
            n for n in self.nodes.values() if n.running() and (via is None or n.node_id == via)
        ]
        bootstrap = ",".join(f"{LOOPBACK}:{n.controller_port}" for n in nodes)
        return ks.run_kafka_tool(
            QUORUM_COMMAND, ["--bootstrap-controller", bootstrap, *args], work_dir=self.work_dir
        ).stdout

    def directory_id(self, node_id: int) -> str:
        meta = self.nodes[node_id].work_dir / "metadata" / "meta.properties"
        for line in meta.read_text().splitlines():
            if line.startswith("directory.id="):
                return line.split("=", 1)[1]
        raise AssertionError(f"{meta} has no directory.id")
