"""A forwarded request is authorized by a ferrokafka controller as its client's, as Kafka's
ControllerApis does: an Apache Kafka 4.4 broker (``process.roles=broker``) under a ferrokafka
controller-only node, both with the StandardAuthorizer. The Kafka broker has a SASL_PLAINTEXT
(PLAIN) listener for clients; it forwards CreateTopics to our controller in an Envelope
carrying the client's principal (DefaultPrincipalData), and our controller decides: alice
without ACLs gets TOPIC_AUTHORIZATION_FAILED, the super user admin creates its topic, and
once admin has granted alice CREATE on a topic prefix (kafka-acls through the Kafka broker)
alice creates one under it but still not elsewhere. The nodes' own principal on the PLAINTEXT
listeners (User:ANONYMOUS, the Envelope's sender) is a super user, as Kafka requires."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kraft_processes import LOOPBACK, _free_port
from mixed_processes import FERROKAFKA, KAFKA, MixedCluster, MixedNode
from tests.security.sasl_support import PLAIN_MODULE, PLAIN_USERS

from kafka_support.jars import run_kafka_tool

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUR_CONTROLLER = 1
KAFKA_BROKER = 2
CLIENTS = "CLIENTS"
STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
TOPIC_AUTHORIZATION_FAILED = "TOPIC_AUTHORIZATION_FAILED"
CREATE_TIMEOUT_S = 30.0


class SaslBrokerCluster(MixedCluster):
    """The Kafka broker gets a SASL_PLAINTEXT listener for clients, CLIENTS."""

    clients_port: int = 0

    def settings(self, node: MixedNode) -> dict[str, str]:
        settings = super().settings(node)
        if node.kind != KAFKA:
            return settings
        if not self.clients_port:
            self.clients_port = _free_port()
        client = f"{CLIENTS}://{LOOPBACK}:{self.clients_port}"
        users = " ".join(f'user_{name}="{pw}"' for name, pw in PLAIN_USERS.items())
        return {
            **settings,
            "listeners": f"{settings['listeners']},{client}",
            "advertised.listeners": f"{settings['advertised.listeners']},{client}",
            "listener.security.protocol.map": f"{settings['listener.security.protocol.map']},"
            f"{CLIENTS}:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN",
            f"listener.name.{CLIENTS.lower()}.plain.sasl.jaas.config": (
                f"{PLAIN_MODULE} required {users};"
            ),
        }

    @property
    def sasl_bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.clients_port}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBrokerCluster]:
    made = SaslBrokerCluster(
        tmp_path_factory.mktemp("mixed-envelope"),
        {OUR_CONTROLLER: (FERROKAFKA, ("controller",)), KAFKA_BROKER: (KAFKA, ("broker",))},
        overrides={
            "authorizer.class.name": STANDARD,
            "super.users": "User:ANONYMOUS;User:admin",
        },
    )
    try:
        made.format()
        made.start(OUR_CONTROLLER)
        made.start(KAFKA_BROKER)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def create(cluster: SaslBrokerCluster, user: str, topic: str) -> str | None:
    """The error name of ``user``'s CreateTopics for ``topic`` (None: created)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(
        {
            "bootstrap.servers": cluster.sasl_bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": user,
            "sasl.password": PLAIN_USERS[user],
            "log_level": 0,
        }
    )
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=1, replication_factor=1)],
        request_timeout=CREATE_TIMEOUT_S,
    )
    try:
        futures[topic].result(timeout=CREATE_TIMEOUT_S)
    except KafkaException as exc:
        return str(exc.args[0].name())
    return None


def client_config(cluster: SaslBrokerCluster, user: str) -> Path:
    path = cluster.work_dir / f"{user}.properties"
    jaas = f'{PLAIN_MODULE} required username="{user}" password="{PLAIN_USERS[user]}";'
    path.write_text(
        f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config={jaas}\n"
    )
    return path


def test_forwarded_create_topics_is_checked_as_its_client(cluster: SaslBrokerCluster) -> None:
    assert create(cluster, "alice", "alice-early") == TOPIC_AUTHORIZATION_FAILED
    assert create(cluster, "admin", "admin-topic") is None
    run_kafka_tool(
        "org.apache.kafka.tools.AclCommand",
        [
            "--bootstrap-server",
            cluster.sasl_bootstrap,
            "--command-config",
            str(client_config(cluster, "admin")),
            "--add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Create",
            "--topic",
            "alice-",
            "--resource-pattern-type",
            "prefixed",
        ],
        work_dir=cluster.work_dir,
    )
    assert create(cluster, "alice", "alice-late") is None
    assert create(cluster, "alice", "elsewhere") == TOPIC_AUTHORIZATION_FAILED
    # Our controller saw the Envelopes (and no request it could not read).
    logged = cluster.nodes[OUR_CONTROLLER].logged()
    assert "unreadable principal" not in logged and "undecodable" not in logged
