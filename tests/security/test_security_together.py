"""TLS, SASL/SCRAM, the metadata log's credentials and ACLs working as one, with confluent-kafka.

One broker: a PLAINTEXT listener (inter-broker; User:ANONYMOUS is a super user there, as an
operator's admin tooling would be) and a SASL_SSL listener with SCRAM-SHA-512 and the
StandardAuthorizer. The admin client creates alice's SCRAM credential with
AlterUserScramCredentials (stored in the metadata log, read back by the SASL login), a topic,
and later the ACLs. alice over SASL_SSL: refused a write without an ACL
(TOPIC_AUTHORIZATION_FAILED), allowed after CreateAcls; her consumer reads what she wrote once
READ on the topic and the group are granted; a wrong password is refused at login while alice's
connection keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from tests.security.certs import PASSWORD, issue, make_authority

from ferrokafka.testing import run_broker

TOPIC = "secure-orders"
GROUP = "secure-readers"
USER, SECRET = "alice", "alice-secret-512"
CLIENT_TIMEOUT_S = 30.0
WAIT_S = 60.0
POLL_S = 0.5
RECORDS = 20


@dataclass(frozen=True)
class Secured:
    plaintext: str
    sasl_ssl: str
    ca_pem: Path


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    pki = tmp_path_factory.mktemp("pki")
    ca = make_authority(pki)
    server = issue(ca, pki, "broker", "CN=broker,O=ferrokafka", server=True)
    overrides = {
        "listeners": "PLAINTEXT://127.0.0.1:0,SECURE://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
        "advertised.listeners": "PLAINTEXT://127.0.0.1:0,SECURE://127.0.0.1:0",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL,"
        "CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.name.secure.ssl.keystore.type": "PKCS12",
        "listener.name.secure.ssl.keystore.location": str(server.p12),
        "listener.name.secure.ssl.keystore.password": PASSWORD,
        "listener.name.secure.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.secure.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:ANONYMOUS",
        "offsets.topic.replication.factor": 1,
        "group.initial.rebalance.delay.ms": 0,
    }
    with run_broker(tmp_path_factory.mktemp("ferrokafka"), overrides) as broker:
        secure = next(a for a in broker.addresses if a.listener_name == "SECURE")
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        upsert = UserScramCredentialUpsertion(
            USER, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), SECRET.encode()
        )
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(CLIENT_TIMEOUT_S)
        [created] = admin.create_topics([NewTopic(TOPIC, 1, 1)]).values()
        created.result(CLIENT_TIMEOUT_S)
        yield Secured(broker.bootstrap_servers, f"{secure.host}:{secure.port}", ca.pem)


def client_config(secured: Secured, password: str = SECRET) -> dict[str, object]:
    return {
        "bootstrap.servers": secured.sasl_ssl,
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(secured.ca_pem),
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": USER,
        "sasl.password": password,
    }


def grant(secured: Secured, *grants: tuple[ResourceType, str, AclOperation]) -> None:
    admin = AdminClient({"bootstrap.servers": secured.plaintext})
    bindings = [
        AclBinding(
            rtype,
            name,
            ResourcePatternType.LITERAL,
            f"User:{USER}",
            "*",
            op,
            AclPermissionType.ALLOW,
        )
        for rtype, name, op in grants
    ]
    for future in admin.create_acls(bindings).values():
        future.result(CLIENT_TIMEOUT_S)


def produce(secured: Secured, values: list[bytes]) -> list[KafkaError | None]:
    producer = Producer({**client_config(secured), "message.timeout.ms": 10_000, "retries": 0})
    errors: list[KafkaError | None] = []
    for value in values:
        producer.produce(TOPIC, value, on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    return errors


def test_scram_user_from_the_metadata_log_is_authorized_by_acls(secured: Secured) -> None:
    # Authenticated as alice (her credential came from AlterUserScramCredentials), no ACL yet.
    [denied] = produce(secured, [b"early"])
    assert denied is not None and denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, denied

    grant(secured, (ResourceType.TOPIC, TOPIC, AclOperation.WRITE))
    deadline = time.monotonic() + WAIT_S
    values = [f"v{i}".encode() for i in range(RECORDS)]
    while any(produce(secured, values[:1])):  # the ACL reaches the broker's image
        assert time.monotonic() < deadline, "alice's WRITE ACL never took effect"
        time.sleep(POLL_S)
    assert produce(secured, values[1:]) == [None] * (RECORDS - 1)

    grant(
        secured,
        (ResourceType.TOPIC, TOPIC, AclOperation.READ),
        (ResourceType.GROUP, GROUP, AclOperation.READ),
    )
    consumer = Consumer(
        {**client_config(secured), "group.id": GROUP, "auto.offset.reset": "earliest"}
    )
    try:
        consumer.subscribe([TOPIC])
        read: list[bytes] = []
        deadline = time.monotonic() + WAIT_S
        while len(read) < RECORDS:
            assert time.monotonic() < deadline, f"read {len(read)} of {RECORDS}"
            message = consumer.poll(POLL_S)
            if message is None:
                continue
            if message.error() is not None:
                # Before the READ ACLs are in the image: an authorization error, then retry.
                assert message.error().code() in (
                    KafkaError.TOPIC_AUTHORIZATION_FAILED,
                    KafkaError.GROUP_AUTHORIZATION_FAILED,
                ), message.error()
                continue
            read.append(message.value())
        assert sorted(read) == sorted(values)
    finally:
        consumer.close()


def test_wrong_password_is_refused_at_login(secured: Secured) -> None:
    errors: list[KafkaError] = []
    wrong = Producer(
        {**client_config(secured, password="not-her-password"), "error_cb": errors.append}
    )
    deadline = time.monotonic() + WAIT_S
    refused: list[KafkaError] = []
    while not refused:
        assert time.monotonic() < deadline, f"no authentication error: {errors}"
        wrong.poll(POLL_S)
        refused = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    assert "invalid credentials" in str(refused[0]) or "Authentication failed" in str(refused[0])
    # alice still logs in (nothing else on the broker is affected).
    metadata = AdminClient(client_config(secured)).list_topics(timeout=CLIENT_TIMEOUT_S)
    assert metadata.brokers, "alice's Metadata names no broker"
