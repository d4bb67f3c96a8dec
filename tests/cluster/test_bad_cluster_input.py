"""Bad input to a cluster of ``ferrokafka serve`` processes, each refused with Kafka's error
code and a log line that says why, and nothing written:

- a broker formatted with another cluster id: the quorum's leader refuses its Fetch with
  INCONSISTENT_CLUSTER_ID (both sides log it), it never registers, the quorum never lists it;
- a second broker with a live broker's node id: DUPLICATE_BROKER_REGISTRATION (both sides
  log it), the live broker's registration (its endpoint) is untouched;
- hand-made requests to the active controller: a registration naming another cluster
  (INCONSISTENT_CLUSTER_ID), a heartbeat with a stale broker epoch (STALE_BROKER_EPOCH);
- misconfigured quorums: ``ferrokafka serve`` exits 2 with one line naming the key (a
  controller not among the voters, a broker-only node among them, no controller listener).

Kafka 4.4 answers the same codes (its controller's ClusterControlManager and its Raft
client's cluster id check; its KafkaConfig refuses the same configurations at start).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kraft_processes import LOOPBACK, KRaftCluster, Node, _free_port, ferrokafka_cli
from wire_call import call

from ferrokafka.protocol.messages.broker_heartbeat import BrokerHeartbeatRequest
from ferrokafka.protocol.messages.broker_registration import BrokerRegistrationRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest

INCONSISTENT_CLUSTER_ID = 104
DUPLICATE_BROKER_REGISTRATION = 101
STALE_BROKER_EPOCH = 77
WAIT_S = 60.0
CONTROLLER = 1
BROKERS = (2, 3)
STRANGER = 4  # formatted with another cluster id
DUPLICATE = 5  # a second node.id 3


def wait_logged(node: Node, text: str) -> str:
    deadline = time.monotonic() + WAIT_S
    while text not in (logged := node.logged()):
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{logged[-3000:]}"
        time.sleep(0.2)
    return next(line for line in logged.splitlines() if text in line)


def registered_brokers(address: str) -> dict[int, int]:
    """Broker id -> port, as a broker's Metadata tells clients."""
    response = call(address, MetadataRequest(topics=[]), 12)
    return {b.node_id: b.port for b in response.brokers}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KRaftCluster]:
    made = KRaftCluster(tmp_path / "cluster", size=1, brokers=3, combined=False)
    try:
        made.format()
        stranger = made.nodes[STRANGER]
        for directory in ("logs", "metadata"):
            shutil.rmtree(stranger.work_dir / directory)
        other_id = ferrokafka_cli("storage", "random-uuid").stdout.strip()
        formatted = ferrokafka_cli(
            "storage", "format", "-t", other_id, "-c", str(stranger.config_file)
        )
        assert formatted.returncode == 0, formatted.stderr
        # Node 3's configuration with its own directories and port, formatted for this cluster.
        twin = made.nodes[3]
        duplicate = Node(3, made.work_dir / "duplicate-of-3", _free_port(), 0)
        duplicate.work_dir.mkdir()
        duplicate.config_file.write_text(
            twin.config_file.read_text()
            .replace(str(twin.work_dir), str(duplicate.work_dir))
            .replace(f":{twin.port}", f":{duplicate.port}")
        )
        formatted = ferrokafka_cli(
            "storage", "format", "-t", made.cluster_id, "-c", str(duplicate.config_file)
        )
        assert formatted.returncode == 0, formatted.stderr
        made.nodes[DUPLICATE] = duplicate
        for node_id in (CONTROLLER, *BROKERS):
            made.start(node_id)
        made.wait_ready(CONTROLLER, *BROKERS)
        yield made
    finally:
        made.close()


def test_a_stranger_and_a_duplicate_are_refused_and_nothing_changes(
    cluster: KRaftCluster,
) -> None:
    broker = cluster.nodes[2].bootstrap
    controller = f"{LOOPBACK}:{cluster.nodes[CONTROLLER].controller_port}"
    deadline = time.monotonic() + WAIT_S
    while (before := registered_brokers(broker)).keys() != set(BROKERS):
        assert time.monotonic() < deadline, before
        time.sleep(0.2)
    cluster.start(STRANGER)
    cluster.start(DUPLICATE)

    # Another cluster's broker: both ends say so, once.
    said = wait_logged(cluster.nodes[STRANGER], "INCONSISTENT_CLUSTER_ID")
    assert f"node {CONTROLLER} refused our requests" in said
    heard = wait_logged(cluster.nodes[CONTROLLER], f"from node {STRANGER}: its cluster id")
    assert cluster.cluster_id in heard and "INCONSISTENT_CLUSTER_ID" in heard
    # A second node 3: refused while the first one's session lives.
    said = wait_logged(cluster.nodes[DUPLICATE], "DUPLICATE_BROKER_REGISTRATION")
    assert "broker 3 registration refused" in said
    heard = wait_logged(cluster.nodes[CONTROLLER], "BrokerRegistration of broker 3")
    assert "DUPLICATE_BROKER_REGISTRATION" in heard

    # Hand-made: another cluster's registration, a heartbeat with a stale epoch.
    wrong = call(
        controller,
        BrokerRegistrationRequest(
            broker_id=9,
            cluster_id="AAAAAAAAAAAAAAAAAAAAAA",
            incarnation_id=uuid.uuid4(),
            listeners=[BrokerRegistrationRequest.Listener(name="PLAINTEXT", host=LOOPBACK, port=1)],
        ),
        4,
    )
    assert (wrong.error_code, wrong.broker_epoch) == (INCONSISTENT_CLUSTER_ID, -1)
    stale = call(controller, BrokerHeartbeatRequest(broker_id=2, broker_epoch=0), 2)
    assert stale.error_code == STALE_BROKER_EPOCH

    # Nothing written: the same two brokers at the same ports, the others never ready.
    assert registered_brokers(broker) == before
    assert registered_brokers(cluster.nodes[3].bootstrap) == before
    for node_id in (STRANGER, DUPLICATE):
        node = cluster.nodes[node_id]
        assert node.running(), node.logged()[-2000:]
        assert "listening on" not in node.out.read_text(errors="replace")
    # Each peer reported once, not once per Fetch.
    assert cluster.nodes[STRANGER].logged().count("refused our requests") == 1


@pytest.mark.parametrize(
    ("roles", "node_id", "listeners", "voters", "message"),
    [
        ("controller", 4, "CONTROLLER://127.0.0.1:{c}", "1@127.0.0.1:{c}",
         "node.id 4 must be a voter when process.roles contains controller"),
        ("broker", 1, "PLAINTEXT://127.0.0.1:{p}", "1@127.0.0.1:{c}",
         "node.id 1 must not be a voter when process.roles=broker"),
        ("broker,controller", 1, "PLAINTEXT://127.0.0.1:{p}", "1@127.0.0.1:{c}",
         "must contain a listener named in controller.listener.names"),
    ],
)  # fmt: skip
def test_a_misconfigured_quorum_stops_at_start_with_one_line(
    tmp_path: Path, roles: str, node_id: int, listeners: str, voters: str, message: str
) -> None:
    ports = {"p": _free_port(), "c": _free_port()}
    config = tmp_path / "server.properties"
    settings = {
        "process.roles": roles,
        "node.id": str(node_id),
        "listeners": listeners.format(**ports),
        "controller.quorum.voters": voters.format(**ports),
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(tmp_path / "logs"),
    }
    config.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    # serve exits 2 (a usage error, click's); the storage tool 1, as kafka-storage does.
    for command, code in (
        (("serve", "--config"), 2),
        (("storage", "format", "-t", "x" * 22, "-c"), 1),
    ):
        ran = ferrokafka_cli(*command, str(config))
        assert ran.returncode == code, (command, ran.stdout, ran.stderr)
        lines = [line for line in ran.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], (command, ran.stderr)
        assert "Traceback" not in ran.stderr
    assert not (tmp_path / "logs").exists()
