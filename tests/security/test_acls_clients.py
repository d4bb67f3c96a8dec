"""confluent-kafka (librdkafka) against a ferrokafka broker with the StandardAuthorizer: a
producer to a topic its principal has no ACL on gets TOPIC_AUTHORIZATION_FAILED, a consumer of
a group it has no ACL on GROUP_AUTHORIZATION_FAILED; after Kafka's own ``kafka-acls --add``
grants them, a new producer and consumer of the same principal succeed.

PLAINTEXT, so the clients are User:ANONYMOUS; ``allow.everyone.if.no.acl.found=true`` with an
ACL for another principal on the topic and the group (so those resources have ACLs, none for
User:ANONYMOUS), the rest of the cluster open.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

import kafka_support as ks
from ferrokafka.testing import run_broker

AUTHORIZER_CONFIG = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found": "true",
}
TOPIC = "acl-orders"
GROUP = "acl-readers"
CLIENT_TIMEOUT_S = 30.0
POLL_S = 0.5
WAIT_S = 60.0
ACL_COMMAND = "org.apache.kafka.tools.AclCommand"


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_broker(tmp_path_factory.mktemp("ferrokafka"), AUTHORIZER_CONFIG) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        [created] = admin.create_topics([NewTopic(TOPIC, 1, 1)]).values()
        created.result(CLIENT_TIMEOUT_S)
        bob = [
            AclBinding(
                rtype,
                name,
                ResourcePatternType.LITERAL,
                "User:bob",
                "*",
                AclOperation.READ,
                AclPermissionType.ALLOW,
            )
            for rtype, name in ((ResourceType.TOPIC, TOPIC), (ResourceType.GROUP, GROUP))
        ]
        for future in admin.create_acls(bob).values():
            future.result(CLIENT_TIMEOUT_S)
        yield broker.bootstrap_servers


def kafka_acls(bootstrap: str, work_dir: Path, *args: str) -> None:
    ks.require_kafka()
    ks.run_kafka_tool(
        ACL_COMMAND, ["--bootstrap-server", bootstrap, "--add", *args], work_dir=work_dir
    )


def produce_one(bootstrap: str) -> KafkaError | None:
    """The delivery error of one record (None: delivered)."""
    outcome: list[KafkaError | None] = []
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 15000})
    producer.produce(TOPIC, b"order-1", on_delivery=lambda err, _msg: outcome.append(err))
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    assert len(outcome) == 1
    return outcome[0]


def consume_one(bootstrap: str) -> bytes | KafkaError:
    """The first record the group reads, or the first error the consumer reports."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": GROUP,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([TOPIC])
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                message = consumer.poll(POLL_S)
            except KafkaException as exc:
                return exc.args[0]
            if message is None:
                continue
            if message.error() is not None:
                return message.error()
            return bytes(message.value())
        raise AssertionError(f"no record and no error in {WAIT_S}s")
    finally:
        consumer.close()


def test_producer_then_consumer_refused_until_granted(bootstrap: str, tmp_path: Path) -> None:
    refused = produce_one(bootstrap)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    kafka_acls(
        bootstrap,
        tmp_path,
        "--allow-principal",
        "User:ANONYMOUS",
        "--operation",
        "Write",
        "--topic",
        TOPIC,
    )
    assert produce_one(bootstrap) is None

    denied = consume_one(bootstrap)
    assert isinstance(denied, KafkaError), denied
    assert denied.code() in (
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
    ), denied
    kafka_acls(
        bootstrap,
        tmp_path,
        "--allow-principal",
        "User:ANONYMOUS",
        "--operation",
        "Read",
        "--topic",
        TOPIC,
        "--group",
        GROUP,
    )
    assert consume_one(bootstrap) == b"order-1"
