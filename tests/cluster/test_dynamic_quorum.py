"""KIP-853 with Kafka's own tool: a dynamic quorum of three ferrokafka controllers grown and
shrunk by ``kafka-metadata-quorum`` (class MetadataQuorumCommand).

Node 1 is formatted ``--standalone`` (the only voter), nodes 2 and 3 ``--no-initial-controllers``
(observers that find the leader through the bootstrap servers), node 4 is a broker (an
observer). ``add-controller`` (run with each node's own config, as Kafka documents) makes 2
and 3 voters; ``describe --status`` and ``--replication`` show three voters with their
directory ids and endpoints. A SIGKILL of the leader: another voter leads a higher epoch.
``remove-controller`` of the dead voter commits with the two left (a majority of the new set),
asked through the broker (``--bootstrap-server``: it forwards to the active controller); the
voter set shrinks to two, and Kafka's DumpLogSegments decodes each VotersRecord in a
survivor's log. Wrong keys get Kafka's errors: adding a voter again DUPLICATE_VOTER, removing
with a wrong directory id VOTER_NOT_FOUND (the tool prints the exception names)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dynamic_quorum import DynamicQuorum

import kafka_support as ks
from kafka_support.jars import dump_log_segments_class

WAIT_S = 60.0
METADATA_DIR = "__cluster_metadata-0"
FIRST_SEGMENT = "00000000000000000000.log"
BROKER = 4  # a broker-only node: an observer, and a way in with --bootstrap-server
POLL_S = 0.3
# One poll's admin client gives up after this, not Kafka's default 60 s: an admin client that
# bootstraps while no controller leads (an election after the kill) learns controller id -1
# and, its metadata still fresh, never asks again, so only a new tool run sees the new leader.
POLL_CLIENT = {"default.api.timeout.ms": "8000", "request.timeout.ms": "4000"}


@pytest.fixture
def quorum(tmp_path: Path) -> Iterator[DynamicQuorum]:
    made = DynamicQuorum(tmp_path / "quorum", size=3, brokers=1)
    with made.running():
        yield made


def status(quorum: DynamicQuorum) -> dict[str, Any]:
    found: dict[str, Any] = {}
    config = quorum.work_dir / "poll-client.properties"
    if not config.exists():
        config.write_text("".join(f"{k}={v}\n" for k, v in POLL_CLIENT.items()))
    for line in quorum.quorum_tool(
        "--command-config", str(config), "describe", "--status"
    ).splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        found[key.strip()] = json.loads(value) if value.startswith("[") else value
    return found


def wait_status(quorum: DynamicQuorum, ok, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            found = status(quorum)
            if ok(found):
                return found
        except ks.KafkaToolError as exc:
            found = {"error": str(exc)[-500:]}
        assert time.monotonic() < deadline, f"{what}: last {found}"
        time.sleep(POLL_S)


def voter_ids(found: dict[str, Any]) -> list[int]:
    return sorted(v["id"] for v in found["CurrentVoters"])


def add_controller(quorum: DynamicQuorum, node_id: int) -> str:
    config = str(quorum.nodes[node_id].config_file)
    return quorum.quorum_tool("--command-config", config, "add-controller")


def test_add_kill_remove_controllers_with_kafkas_tool(quorum: DynamicQuorum) -> None:
    first = wait_status(
        quorum, lambda s: len(s["CurrentObservers"]) == 3, "observers 2, 3 and 4 fetching"
    )
    assert first["LeaderId"] == "1" and voter_ids(first) == [1]
    assert sorted(o["id"] for o in first["CurrentObservers"]) == [2, 3, BROKER]

    for node_id in (2, 3):
        out = add_controller(quorum, node_id)
        assert f"Added controller {node_id} with directory id {quorum.directory_id(node_id)}" in out
    grown = wait_status(quorum, lambda s: voter_ids(s) == [1, 2, 3], "three voters")
    assert [o["id"] for o in grown["CurrentObservers"]] == [BROKER]
    by_id = {v["id"]: v for v in grown["CurrentVoters"]}
    for node_id in (1, 2, 3):
        node = quorum.nodes[node_id]
        assert by_id[node_id]["directoryId"] == quorum.directory_id(node_id)
        assert by_id[node_id]["endpoints"] == [f"CONTROLLER://127.0.0.1:{node.controller_port}"]
    replication = quorum.quorum_tool("describe", "--replication")
    rows = [line.split() for line in replication.splitlines()[1:] if line.strip()]
    assert sorted((int(r[0]), r[-1]) for r in rows) == [
        (1, "Leader"),
        (2, "Follower"),
        (3, "Follower"),
        (BROKER, "Observer"),
    ]

    # Adding a voter again: Kafka's DUPLICATE_VOTER.
    with pytest.raises(ks.KafkaToolError, match="DuplicateVoterException|already part of"):
        add_controller(quorum, 2)

    leader = int(grown["LeaderId"])
    epoch = int(grown["LeaderEpoch"])
    quorum.kill(leader)
    moved = wait_status(
        quorum,
        lambda s: s["LeaderId"] not in ("", str(leader)) and int(s["LeaderEpoch"]) > epoch,
        "a new leader",
    )
    assert int(moved["LeaderId"]) in {1, 2, 3} - {leader}

    # A wrong directory id names no voter: VOTER_NOT_FOUND.
    with pytest.raises(ks.KafkaToolError, match="VoterNotFoundException|Cannot remove voter"):
        quorum.quorum_tool(
            "remove-controller",
            "--controller-id",
            str(leader),
            "--controller-directory-id",
            quorum.directory_id(int(moved["LeaderId"])),
        )
    # Through the broker this time: it forwards RemoveRaftVoter to the active controller.
    out = quorum.quorum_tool_via_broker(
        BROKER,
        "remove-controller",
        "--controller-id",
        str(leader),
        "--controller-directory-id",
        quorum.directory_id(leader),
    )
    assert (
        f"Removed KRaft controller {leader} with directory id {quorum.directory_id(leader)}" in out
    )
    shrunk = wait_status(quorum, lambda s: voter_ids(s) == sorted({1, 2, 3} - {leader}), "2 voters")
    assert shrunk["LeaderId"] == moved["LeaderId"]

    # Kafka's DumpLogSegments reads the voter changes in a survivor's log as its own records.
    survivor = int(moved["LeaderId"])
    segment = quorum.nodes[survivor].work_dir / "metadata" / METADATA_DIR / FIRST_SEGMENT
    dumped = ks.run_kafka_tool(
        dump_log_segments_class(ks.kafka_classpath()),
        ["--files", str(segment), "--cluster-metadata-decoder", "--deep-iteration"],
        work_dir=quorum.work_dir,
    ).stdout
    sets = [
        json.loads(line.split("KRaftVoters ", 1)[1])["voters"]
        for line in dumped.splitlines()
        if "KRaftVoters {" in line
    ]
    # The checkpoint's set copied in by the first leader, 2 and 3 added, then the removal.
    assert [sorted(v["voterId"] for v in voters) for voters in sets] == [
        [1],
        [1, 2],
        [1, 2, 3],
        sorted({1, 2, 3} - {leader}),
    ]
    assert {v["voterId"]: v["voterDirectoryId"] for v in sets[2]} == {
        n: quorum.directory_id(n) for n in (1, 2, 3)
    }
    assert "KRaftVersion {" in dumped and '"kRaftVersion":1' in dumped
