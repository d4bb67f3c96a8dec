"""A broker with a wrong password cannot join a SASL cluster, says why, and harms no one.

Three combined nodes whose controller listener is SASL_PLAINTEXT with PLAIN
(``sasl.mechanism.controller.protocol``: raft between the controllers, heartbeats and
registration all authenticate) and whose broker listener is SASL_PLAINTEXT with PLAIN for
clients and inter-broker traffic. A fourth node, broker only, presents a wrong password: it
never gets the metadata, so it never registers; it logs the refusal in one ERROR line per
controller it tried (not one per attempt); the three others serve a replicated topic to
confluent-kafka all along, with SASL sessions of two seconds (``connections.max.reauth.ms``):
their heartbeats, fetchers and raft connections re-authenticate (KIP-368) or reconnect as the
sessions end, or they would be closed and the cluster would stall.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from tests.cluster.kraft_processes import READY_LINE, KRaftCluster

PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SECRET = "broker-secret"
USERS = f'user_broker="{SECRET}" user_admin="admin-secret"'
JAAS = f'{PLAIN_MODULE} required username="broker" password="{SECRET}" {USERS};'
WRONG_JAAS = JAAS.replace(f'password="{SECRET}"', 'password="not-the-secret"')
TOPIC = "unaffected"
RECORDS = 20
REAUTH_MS = 2000
WAIT_S = 90.0
POLL_S = 0.5
CLIENT_TIMEOUT_S = 60.0
REFUSAL = re.compile(
    r"controller connection to (127\.0\.0\.1:\d+) \(listener CONTROLLER, SASL_PLAINTEXT\) "
    r"failed authentication: PLAIN as broker: Authentication failed: Invalid username or password"
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KRaftCluster]:
    cluster = KRaftCluster(
        tmp_path_factory.mktemp("wrong-password"),
        overrides={
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": JAAS,
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            # KIP-368: every SASL session lasts REAUTH_MS, so the nodes' own connections
            # re-authenticate (or, raft's, reconnect) several times while the test runs.
            "connections.max.reauth.ms": str(REAUTH_MS),
        },
        broker_listener="SASL_PLAINTEXT",
        protocol_map="CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        brokers=1,
    )
    try:
        cluster.format()
        intruder = cluster.nodes[4]
        text = intruder.config_file.read_text()
        assert JAAS in text
        intruder.config_file.write_text(text.replace(JAAS, WRONG_JAAS))
        for node_id in (1, 2, 3, 4):
            cluster.start(node_id)
        cluster.wait_ready(1, 2, 3)
        yield cluster
    finally:
        cluster.close()


def client(cluster: KRaftCluster) -> dict[str, object]:
    servers = ",".join(cluster.nodes[n].bootstrap for n in (1, 2, 3))
    return {
        "bootstrap.servers": servers,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "admin",
        "sasl.password": "admin-secret",
    }


def test_wrong_password_broker_is_refused_and_says_why(cluster: KRaftCluster) -> None:
    intruder = cluster.nodes[4]
    deadline = time.monotonic() + WAIT_S
    while not REFUSAL.search(intruder.logged()):
        assert intruder.running(), intruder.logged()[-2000:]
        assert time.monotonic() < deadline, intruder.logged()[-3000:]
        time.sleep(POLL_S)

    # The rest of the cluster serves a replicated topic meanwhile.
    admin = AdminClient(client(cluster))
    for future in admin.create_topics([NewTopic(TOPIC, 1, 3)]).values():
        future.result(CLIENT_TIMEOUT_S)
    producer = Producer({**client(cluster), "acks": "all"})
    errors: list[object] = []
    for i in range(RECORDS):
        producer.produce(TOPIC, f"v{i}".encode(), on_delivery=lambda e, _m: errors.append(e))
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    assert errors == [None] * RECORDS

    # Not registered: the cluster knows three brokers; the fourth is up but never ready.
    brokers = admin.list_topics(timeout=CLIENT_TIMEOUT_S).brokers
    assert sorted(brokers) == [1, 2, 3]
    assert intruder.running()
    assert READY_LINE not in intruder.out.read_text(errors="replace")
    # One line per controller address it tried, not one per retry; the password is not in it.
    logged = intruder.logged()
    addresses = REFUSAL.findall(logged)
    assert len(addresses) == len(set(addresses)) <= 3, addresses
    assert "not-the-secret" not in logged and SECRET not in logged
