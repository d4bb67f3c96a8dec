"""KIP-853 across implementations: an Apache Kafka 4.4 controller and a ferrokafka controller in
one dynamic quorum (``controller.quorum.bootstrap.servers``), grown with Kafka's
``kafka-metadata-quorum add-controller``.

- Kafka leads: a Kafka controller formatted ``--standalone`` by Kafka's StorageTool, a
  ferrokafka controller formatted ``--no-initial-controllers``: ours observes Kafka's log
  (finding the leader through the bootstrap server), is added as a voter by Kafka's leader
  (which asks our controller listener for its ApiVersions: kraft.version 0-1), and both
  replicate the VotersRecord Kafka wrote.
- ferrokafka leads: the reverse; our leader adds Kafka's controller.

In both, ``describe --status`` through either controller shows the two voters with their
directory ids, and Kafka's log has no failed voter-change RPC (UpdateRaftVoter, which Kafka's
voters send once they follow). Two controller-only nodes, one JVM: about 15 s a case."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kraft_processes import LOOPBACK, ferrokafka_cli
from mixed_processes import FERROKAFKA, KAFKA, MixedCluster

import kafka_support as ks
from kafka_support.jars import run_kafka_tool, write_log4j2_config

QUORUM_COMMAND = "org.apache.kafka.tools.MetadataQuorumCommand"
WAIT_S = 120.0
POLL_S = 0.5
# Kafka's complaints about the voter-change RPCs (a request of theirs our node could not serve:
# "ERROR Request OutboundRequest(... UpdateRaftVoterRequestData ...) failed due to ...").
KAFKA_RAFT_ERRORS = re.compile(r"ERROR.*RaftVoter.*failed due to (?!timeout)")


class DynamicMixed(MixedCluster):
    """Two controller-only nodes; ``first`` formatted --standalone, the other observing."""

    first: int = 1

    def settings(self, node) -> dict[str, str]:
        settings = super().settings(node)
        del settings["controller.quorum.voters"]
        first = self.nodes[self.first]
        settings["controller.quorum.bootstrap.servers"] = f"{LOOPBACK}:{first.controller_port}"
        settings["advertised.listeners"] = f"CONTROLLER://{LOOPBACK}:{node.controller_port}"
        if node.kind == KAFKA:
            settings["metadata.log.dir"] = str(node.work_dir / "logs")
        return settings

    def format(self) -> None:
        flags = [arg for f, v in self.features.items() for arg in ("--feature", f"{f}={v}")]
        for node in self.nodes.values():
            node.work_dir.mkdir(parents=True)
            node.config_file.write_text(
                "".join(f"{k}={v}\n" for k, v in self.settings(node).items())
            )
            quorum = "--standalone" if node.node_id == self.first else "--no-initial-controllers"
            if node.kind == KAFKA:
                write_log4j2_config(
                    node.work_dir / "log4j2.properties", log_file=node.kafka_log, level="info"
                )
                run_kafka_tool(
                    "kafka.tools.StorageTool",
                    ["format", "--cluster-id", self.cluster_id, "--config",
                     str(node.config_file), quorum, *flags],
                    work_dir=node.work_dir,
                )  # fmt: skip
            else:
                formatted = ferrokafka_cli(
                    "storage", "format", "-t", self.cluster_id, "-c", str(node.config_file),
                    quorum, *flags,
                )  # fmt: skip
                assert formatted.returncode == 0, formatted.stderr

    def quorum_tool(self, *args: str, via: int) -> str:
        bootstrap = f"{LOOPBACK}:{self.nodes[via].controller_port}"
        return ks.run_kafka_tool(
            QUORUM_COMMAND, ["--bootstrap-controller", bootstrap, *args], work_dir=self.work_dir
        ).stdout

    def directory_id(self, node_id: int) -> str:
        node = self.nodes[node_id]
        metadata = node.work_dir / ("logs" if node.kind == KAFKA else "metadata")
        for line in (metadata / "meta.properties").read_text().splitlines():
            if line.startswith("directory.id="):
                return line.split("=", 1)[1]
        raise AssertionError(f"no directory.id in {metadata}")


def status(cluster: DynamicMixed, via: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for line in cluster.quorum_tool("describe", "--status", via=via).splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        found[key.strip()] = json.loads(value) if value.startswith("[") else value
    return found


def wait_status(cluster: DynamicMixed, via: int, ok, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:
        cluster.check_running()
        try:
            found = status(cluster, via)
            if ok(found):
                return found
        except ks.KafkaToolError as exc:
            found = {"error": str(exc)[-400:]}
        time.sleep(POLL_S)
    raise AssertionError(
        f"{what}: last {found}\n"
        + "\n".join(f"--- node {n.node_id}\n{n.tail()}" for n in cluster.nodes.values())
    )


@pytest.fixture(
    params=[(KAFKA, FERROKAFKA), (FERROKAFKA, KAFKA)], ids=["kafka_leads", "ferrokafka_leads"]
)
def cluster(request, tmp_path: Path) -> Iterator[DynamicMixed]:
    first, second = request.param
    made = DynamicMixed(
        tmp_path / "mixed", {1: (first, ("controller",)), 2: (second, ("controller",))}
    )
    try:
        made.format()
        made.start(1)
        made.start(2)
        yield made
    finally:
        made.close()


def test_a_controller_of_the_other_kind_is_added_to_a_dynamic_quorum(
    cluster: DynamicMixed,
) -> None:
    observed = wait_status(
        cluster,
        1,
        lambda s: [o["id"] for o in s.get("CurrentObservers", [])] == [2],
        "node 2 observing",
    )
    assert observed["LeaderId"] == "1"
    out = cluster.quorum_tool("--command-config", str(cluster.nodes[2].config_file),
                              "add-controller", via=1)  # fmt: skip
    assert f"Added controller 2 with directory id {cluster.directory_id(2)}" in out
    for via in (1, 2):
        both = wait_status(
            cluster, via,
            lambda s: sorted(v["id"] for v in s.get("CurrentVoters", [])) == [1, 2],
            f"two voters seen through node {via}",
        )  # fmt: skip
        keys = {v["id"]: v["directoryId"] for v in both["CurrentVoters"]}
        assert keys == {1: cluster.directory_id(1), 2: cluster.directory_id(2)}
        assert both["LeaderId"] == "1" and both["CurrentObservers"] == []
    # The follower keeps fetching: the high watermark moves past the VotersRecord on both.
    time.sleep(2)
    kafka = next(n for n in cluster.nodes.values() if n.kind == KAFKA)
    complaints = [line for line in kafka.logged().splitlines() if KAFKA_RAFT_ERRORS.search(line)]
    assert complaints == [], "\n".join(complaints[-10:])
