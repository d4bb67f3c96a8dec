"""The controller of a KRaft cluster (a controller-only node, server/kraft.py) authorizes what
it is sent, as Kafka 4.4's ControllerApis: on a process cluster of one controller and one
broker with the StandardAuthorizer, the controller has a second controller listener, CSASL
(SASL_PLAINTEXT, PLAIN), beside the PLAINTEXT one the quorum and the broker use (their
principal, User:ANONYMOUS, is a super user, as inter-node principals must be in Kafka).

Kafka's own tools with ``--bootstrap-controller`` on CSASL: alice with no ACL is refused
(DescribeCluster needs ALTER on a controller); the super user ``admin`` describes the quorum,
grants alice ALTER on the cluster through the controller (CreateAcls) and lists it there
(DescribeAcls, read from the controller's image); alice then describes the quorum (ALTER
implies DESCRIBE) but may not alter a topic's configs (TOPIC_AUTHORIZATION_FAILED) nor the
brokers' (CLUSTER_AUTHORIZATION_FAILED: ALTER_CONFIGS), which admin may. On the wire, alice's Vote,
Fetch of ``__cluster_metadata`` and BrokerRegistration are CLUSTER_AUTHORIZATION_FAILED.

The same tests run against Apache Kafka 4.4 (a controller-only node and a broker, the same
listeners and settings) and must pass there unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kraft_processes import LOOPBACK, KRaftCluster, _free_port
from mixed_processes import KAFKA, MixedCluster, MixedNode
from server_wire import RawClient
from tests.security.sasl_support import PLAIN_MODULE, PLAIN_USERS

import kafka_support as ks
from ferrokafka.protocol.error_codes import CLUSTER_AUTHORIZATION_FAILED
from ferrokafka.protocol.messages.broker_registration import BrokerRegistrationRequest
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.sasl_authenticate import SaslAuthenticateRequest
from ferrokafka.protocol.messages.sasl_handshake import SaslHandshakeRequest
from ferrokafka.protocol.messages.vote import VoteRequest

STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
QUORUM_COMMAND = "org.apache.kafka.tools.MetadataQuorumCommand"
ACL_COMMAND = "org.apache.kafka.tools.AclCommand"
CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"
SASL_LISTENER = "CSASL"
CONTROLLER = 1
TOOL_TIMEOUT_S = 90.0


def sasl_controller_settings(settings: dict[str, str], port: int) -> dict[str, str]:
    """A controller's settings with the CSASL listener on ``port``."""
    users = " ".join(f'user_{name}="{pw}"' for name, pw in PLAIN_USERS.items())
    return {
        **settings,
        "listeners": f"{settings['listeners']},{SASL_LISTENER}://{LOOPBACK}:{port}",
        "controller.listener.names": f"CONTROLLER,{SASL_LISTENER}",
        "listener.security.protocol.map": f"{settings['listener.security.protocol.map']},"
        f"{SASL_LISTENER}:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        f"listener.name.{SASL_LISTENER.lower()}.plain.sasl.jaas.config": (
            f"{PLAIN_MODULE} required {users};"
        ),
    }


@dataclass(frozen=True)
class Target:
    """What the tests need of either cluster."""

    name: str
    sasl_controller: str
    cluster_id: str
    work_dir: Path


class SaslControllerCluster(KRaftCluster):
    """The voters get the CSASL controller listener after formatting (a port each)."""

    sasl_ports: dict[int, int]

    def format(self) -> None:
        super().format()
        self.sasl_ports = {}
        for node in self.nodes.values():
            if not self.is_voter(node.node_id):
                continue
            port = _free_port()
            self.sasl_ports[node.node_id] = port
            settings = dict(
                line.split("=", 1) for line in node.config_file.read_text().splitlines() if line
            )
            settings = sasl_controller_settings(settings, port)
            node.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))

    @property
    def sasl_controller(self) -> str:
        return f"{LOOPBACK}:{self.sasl_ports[CONTROLLER]}"


class KafkaSaslControllerCluster(MixedCluster):
    """Apache Kafka's controller-only node with the same CSASL listener."""

    sasl_port: int = 0

    def settings(self, node: MixedNode) -> dict[str, str]:
        settings = super().settings(node)
        if not node.is_controller:
            return settings
        if not self.sasl_port:
            self.sasl_port = _free_port()
        return sasl_controller_settings(settings, self.sasl_port)


OVERRIDES = {"authorizer.class.name": STANDARD, "super.users": "User:ANONYMOUS;User:admin"}


def ferrokafka_target(work_dir: Path) -> Iterator[Target]:
    made = SaslControllerCluster(
        work_dir, size=1, brokers=1, combined=False, overrides=dict(OVERRIDES)
    )
    with made.running():
        yield Target("ferrokafka", made.sasl_controller, made.cluster_id, work_dir)


def kafka_target(work_dir: Path) -> Iterator[Target]:
    made = KafkaSaslControllerCluster(
        work_dir,
        {CONTROLLER: (KAFKA, ("controller",)), 2: (KAFKA, ("broker",))},
        overrides=dict(OVERRIDES),
    )
    try:
        made.format()
        made.start(CONTROLLER)
        made.start(2)
        made.wait_brokers()
        yield Target("kafka", f"{LOOPBACK}:{made.sasl_port}", made.cluster_id, work_dir)
    finally:
        made.close()


@pytest.fixture(
    scope="module",
    params=[
        "ferrokafka",
        pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.slow, ks.COMPARE_OPT_IN]),
    ],
)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    ks.kafka_classpath()  # fails (never skips) when Kafka's jars are not fetched
    work_dir = tmp_path_factory.mktemp(f"controller-acls-{request.param}")
    start = ferrokafka_target if request.param == "ferrokafka" else kafka_target
    yield from start(work_dir)


def client_config(cluster: Target, user: str) -> Path:
    path = cluster.work_dir / f"{user}.properties"
    jaas = f'{PLAIN_MODULE} required username="{user}" password="{PLAIN_USERS[user]}";'
    path.write_text(
        f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config={jaas}\n"
    )
    return path


def tool(cluster: Target, user: str, main_class: str, *args: str) -> str:
    """The tool's output as ``user`` through the controller's CSASL listener."""
    result = ks.run_kafka_tool(
        main_class,
        [
            "--bootstrap-controller",
            cluster.sasl_controller,
            "--command-config",
            str(client_config(cluster, user)),
            *args,
        ],
        work_dir=cluster.work_dir,
        timeout_s=TOOL_TIMEOUT_S,
    )
    return result.stdout


def refused(cluster: Target, user: str, main_class: str, *args: str) -> str:
    """What the tool said when it failed (it must)."""
    with pytest.raises(ks.KafkaToolError) as failed:
        tool(cluster, user, main_class, *args)
    return str(failed.value)


def status(cluster: Target, user: str) -> dict[str, str]:
    out = tool(cluster, user, QUORUM_COMMAND, "describe", "--status")
    return {
        key.strip(): value.strip()
        for key, sep, value in (line.partition(":") for line in out.splitlines())
        if sep
    }


def test_kafka_tools_through_the_controller(cluster: Target) -> None:
    said = refused(cluster, "alice", QUORUM_COMMAND, "describe", "--status")
    assert "ClusterAuthorizationException" in said, said
    assert status(cluster, "admin")["LeaderId"] == str(CONTROLLER)

    tool(
        cluster,
        "admin",
        ACL_COMMAND,
        "--add",
        "--allow-principal",
        "User:alice",
        "--operation",
        "Alter",
        "--cluster",
    )
    listed = tool(cluster, "admin", ACL_COMMAND, "--list", "--cluster")
    assert "principal=User:alice" in listed and "operation=ALTER" in listed, listed
    assert status(cluster, "alice")["LeaderId"] == str(CONTROLLER)

    topic_config = ["--alter", "--entity-type", "topics", "--entity-name", "t1"]
    said = refused(cluster, "alice", CONFIG_COMMAND, *topic_config, "--add-config", "a=1")
    assert "TopicAuthorizationException" in said, said
    brokers = ["--alter", "--entity-type", "brokers", "--entity-default"]
    change = ["--add-config", "log.cleaner.threads=2"]
    said = refused(cluster, "alice", CONFIG_COMMAND, *brokers, *change)
    assert "ClusterAuthorizationException" in said, said
    tool(cluster, "admin", CONFIG_COMMAND, *brokers, *change)
    # DescribeConfigs on the controller: DESCRIBE_CONFIGS on the cluster, which ALTER does not
    # imply.
    describe = ["--describe", "--entity-type", "brokers", "--entity-default"]
    assert "log.cleaner.threads=2" in tool(cluster, "admin", CONFIG_COMMAND, *describe)
    said = refused(cluster, "alice", CONFIG_COMMAND, *describe)
    assert "ClusterAuthorizationException" in said, said


def authenticated(address: str, user: str) -> RawClient:
    client = RawClient(address)
    assert client.call(SaslHandshakeRequest(mechanism="PLAIN"), 1).error_code == 0
    password = PLAIN_USERS[user]
    answer = client.call(SaslAuthenticateRequest(auth_bytes=f"\0{user}\0{password}".encode()), 2)
    assert answer.error_code == 0, answer
    return client


def test_inter_node_apis_need_cluster_action(cluster: Target) -> None:
    """alice (who may ALTER the cluster after the first test, or nothing if run alone) is
    not an inter-node principal: the quorum's and the brokers' APIs are refused whole."""
    with authenticated(cluster.sasl_controller, "alice") as client:
        vote = client.call(
            VoteRequest(
                cluster_id=cluster.cluster_id,
                voter_id=CONTROLLER,
                topics=[
                    VoteRequest.TopicData(
                        topic_name="__cluster_metadata",
                        partitions=[VoteRequest.PartitionData(partition_index=0)],
                    )
                ],
            ),
            1,
        )
        assert (vote.error_code, vote.topics) == (CLUSTER_AUTHORIZATION_FAILED, [])
        fetched = client.call(
            FetchRequest(
                cluster_id=cluster.cluster_id,
                replica_state=FetchRequest.ReplicaState(replica_id=99),
                topics=[],
            ),
            17,
        )
        assert (fetched.error_code, fetched.responses) == (CLUSTER_AUTHORIZATION_FAILED, [])
        registration = client.call(
            BrokerRegistrationRequest(broker_id=99, cluster_id=cluster.cluster_id), 4
        )
        assert registration.error_code == CLUSTER_AUTHORIZATION_FAILED
