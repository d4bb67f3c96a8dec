"""KIP-853's upgrade path with Kafka's own tools: a static quorum (``controller.quorum.voters``,
kraft.version 0) of three combined ``ferrokafka serve`` processes upgraded with ``kafka-features
upgrade --feature kraft.version=1`` (FeatureCommand), after which ``kafka-metadata-quorum``
(MetadataQuorumCommand) removes and adds a controller, as Kafka 4.4 allows.

Before the upgrade: remove-controller is refused (UNSUPPORTED_VERSION: static voters).
The upgrade needs every voter to have told the leader its directory id and kraft.version
range (UpdateRaftVoter, sent once per leader a few fetch timeouts after it follows): until
then the tool gets Kafka's "not all of the voters support it", so it is asked again, bounded.
After it: ``kafka-features describe`` finalizes kraft.version 1 on every node, ``describe
--status`` lists the voters with their meta.properties directory ids, and remove-controller /
add-controller (with the node's own config, as Kafka documents) change the voter set."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kraft_processes import LOOPBACK, KRaftCluster

import kafka_support as ks

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

QUORUM_COMMAND = "org.apache.kafka.tools.MetadataQuorumCommand"
FEATURE_COMMAND = "org.apache.kafka.tools.FeatureCommand"
ELECTION_TIMEOUT_MS = 1000
WAIT_S = 60.0
POLL_S = 0.5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KRaftCluster]:
    made = KRaftCluster(
        tmp_path_factory.mktemp("kraft-upgrade") / "cluster",
        size=3,
        overrides={
            "controller.quorum.election.timeout.ms": str(ELECTION_TIMEOUT_MS),
            "controller.quorum.fetch.timeout.ms": str(2 * ELECTION_TIMEOUT_MS),
        },
    )
    with made.running():
        yield made


def tool(cluster: KRaftCluster, main_class: str, *args: str) -> str:
    return ks.run_kafka_tool(main_class, list(args), work_dir=cluster.work_dir).stdout


def quorum(cluster: KRaftCluster, *args: str) -> str:
    return tool(
        cluster, QUORUM_COMMAND, "--bootstrap-controller", cluster.bootstrap_controller, *args
    )


def status(cluster: KRaftCluster) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for line in quorum(cluster, "describe", "--status").splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        found[key.strip()] = json.loads(value) if value.startswith("[") else value
    return found


def wait_until(check, what: str):
    """``check()`` until it returns something true (KafkaToolError counts as not yet)."""
    deadline = time.monotonic() + WAIT_S
    last: object = None
    while True:
        try:
            last = check()
            if last:
                return last
        except ks.KafkaToolError as exc:
            last = str(exc)[-600:]
        assert time.monotonic() < deadline, f"{what}: last {last}"
        time.sleep(POLL_S)


def directory_id(cluster: KRaftCluster, node_id: int) -> str:
    meta = cluster.nodes[node_id].work_dir / "metadata" / "meta.properties"
    for line in meta.read_text().splitlines():
        if line.startswith("directory.id="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{meta} has no directory.id")


def kraft_level(described: str) -> str | None:
    found = re.search(r"Feature: kraft.version\s.*FinalizedVersionLevel: (\d+)", described)
    return None if found is None else found.group(1)


def voter_ids(found: dict[str, Any]) -> list[int]:
    return sorted(v["id"] for v in found["CurrentVoters"])


def test_kafka_features_upgrades_kraft_version_then_voters_change(cluster: KRaftCluster) -> None:
    first = status(cluster)
    assert voter_ids(first) == [1, 2, 3]
    leader = int(first["LeaderId"])
    follower = max({1, 2, 3} - {leader})
    described = tool(
        cluster, FEATURE_COMMAND, "--bootstrap-controller", cluster.bootstrap_controller, "describe"
    )
    assert kraft_level(described) == "0", described
    # Static voters: Kafka's UNSUPPORTED_VERSION.
    with pytest.raises(
        ks.KafkaToolError, match="UnsupportedVersionException|kraft.version feature is 0"
    ):
        quorum(cluster, "remove-controller", "--controller-id", str(follower),
               "--controller-directory-id", directory_id(cluster, follower))  # fmt: skip

    def upgrade() -> str:
        controllers = cluster.bootstrap_controller
        return tool(cluster, FEATURE_COMMAND, "--bootstrap-controller", controllers,
                    "upgrade", "--feature", "kraft.version=1")  # fmt: skip

    out = wait_until(upgrade, "kraft.version upgrade (every voter reported)")
    assert "kraft.version was upgraded to 1." in out, out
    for node in cluster.nodes.values():
        # Every controller's ApiVersions finalizes it (Kafka's KRaftMetadataCache.features).
        address = f"{LOOPBACK}:{node.controller_port}"
        wait_until(
            lambda address=address: (
                kraft_level(
                    tool(cluster, FEATURE_COMMAND, "--bootstrap-controller", address, "describe")
                )
                == "1"
            ),
            f"kraft.version 1 at {address}",
        )
    upgraded = status(cluster)
    by_id = {v["id"]: v for v in upgraded["CurrentVoters"]}
    assert sorted(by_id) == [1, 2, 3]
    for node_id, voter in by_id.items():
        assert voter["directoryId"] == directory_id(cluster, node_id)
        port = cluster.nodes[node_id].controller_port
        assert voter["endpoints"] == [f"CONTROLLER://127.0.0.1:{port}"]

    out = quorum(cluster, "remove-controller", "--controller-id", str(follower),
                 "--controller-directory-id", directory_id(cluster, follower))  # fmt: skip
    assert f"Removed KRaft controller {follower} with directory id" in out, out
    shrunk = wait_until(
        lambda: (s := status(cluster)) and voter_ids(s) == sorted({1, 2, 3} - {follower}) and s,
        "two voters",
    )
    assert follower in [o["id"] for o in shrunk["CurrentObservers"]]
    config = str(cluster.nodes[follower].config_file)
    added = wait_until(
        lambda: quorum(cluster, "--command-config", config, "add-controller"),
        "add-controller (the observer caught up)",
    )
    assert (
        f"Added controller {follower} with directory id {directory_id(cluster, follower)}" in added
    )
    wait_until(lambda: voter_ids(status(cluster)) == [1, 2, 3], "three voters again")


def test_an_old_delete_topics_is_forwarded_with_its_names(cluster: KRaftCluster) -> None:
    """librdkafka (confluent-kafka) deletes with DeleteTopics below v6, whose ``topic_names``
    the newest version lacks: the broker forwards them as v6 ``topics`` by name
    (``cluster/forwarding.py``), so the remote controller deletes what was asked. (This module's
    cluster, to spare a cluster start.)"""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 0})
    names = ["forwarded-a", "forwarded-b"]
    for future in admin.create_topics([NewTopic(n, 1, 1) for n in names]).values():
        future.result(timeout=60)
    wait_until(lambda: set(names) <= set(admin.list_topics(timeout=10).topics), "topics made")
    for future in admin.delete_topics(names, operation_timeout=30).values():
        assert future.result(timeout=60) is None
    wait_until(lambda: not set(names) & set(admin.list_topics(timeout=10).topics), "topics deleted")
