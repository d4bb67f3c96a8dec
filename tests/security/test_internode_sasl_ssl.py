"""A 3-node cluster (combined broker+controller ``ferrokafka serve`` processes) secured as
Kafka users run one: the controller listener SSL with client certificates (raft, heartbeats,
registration over TLS), the one broker listener SASL_SSL with SCRAM-SHA-512 for clients and
for inter-broker traffic (``sasl.mechanism.inter.broker.protocol``, the broker's credentials
in its listener's JAAS entry, the SCRAM credentials written at format time with
``--add-scram``), and the StandardAuthorizer on (the broker user and the nodes' certificate
in ``super.users``).

confluent-kafka produces with acks=all to a topic of 3 replicas and min.insync.replicas=2 and
reads it back; Kafka's own ``kafka-topics --describe`` (Java, over SASL_SSL) reports an ISR of
3; the leader's node is killed, the producer goes on with the two left, the node comes back
and rejoins the ISR. A client user without ACLs is refused (the authorizer is on).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from tests.cluster.kraft_processes import KRaftCluster
from tests.kafka_support import jars
from tests.security.certs import Authority, make_authority
from tests.security.internode_support import (
    admin_properties,
    client_config,
    scram_format_args,
    secured_overrides,
)

TOPIC = "replicated"
RECORDS = 30
CLIENT_TIMEOUT_S = 60.0
WAIT_S = 90.0
POLL_S = 0.5
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"


@dataclass
class Secured:
    cluster: KRaftCluster
    ca: Authority
    work_dir: Path

    def client(self, user: str = "admin") -> dict[str, object]:
        return {"bootstrap.servers": self.cluster.bootstrap, **client_config(self.ca, user)}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    jars.require_kafka()
    work = tmp_path_factory.mktemp("internode")
    ca = make_authority(work / "pki")
    cluster = KRaftCluster(
        work / "cluster",
        overrides=secured_overrides(ca, work / "pki"),
        broker_listener="SASL_SSL",
        protocol_map="CONTROLLER:SSL,SASL_SSL:SASL_SSL",
        format_args=scram_format_args(),
    )
    with cluster.running():
        yield Secured(cluster, ca, work)


def _isr(secured: Secured) -> tuple[int, list[int]]:
    admin = AdminClient(secured.client())
    metadata = admin.list_topics(TOPIC, timeout=CLIENT_TIMEOUT_S)
    partition = metadata.topics[TOPIC].partitions[0]
    return partition.leader, sorted(partition.isrs)


def _wait_isr(secured: Secured, size: int) -> int:
    """The leader once the ISR has ``size`` replicas (bounded)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        leader, isr = _isr(secured)
        if leader >= 0 and len(isr) == size:
            return leader
        assert time.monotonic() < deadline, f"ISR {isr} (leader {leader}) never reached {size}"
        time.sleep(POLL_S)


def _produce(secured: Secured, values: list[bytes], user: str = "admin") -> list[object]:
    producer = Producer(
        {**secured.client(user), "acks": "all", "message.timeout.ms": int(WAIT_S * 1000)}
    )
    errors: list[object] = []
    for value in values:
        producer.produce(TOPIC, value, on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(WAIT_S + CLIENT_TIMEOUT_S) == 0
    return errors


def _read_all(secured: Secured, count: int) -> list[bytes]:
    consumer = Consumer({**secured.client(), "group.id": "internode-readers"})
    try:
        consumer.assign([TopicPartition(TOPIC, 0, 0)])
        values: list[bytes] = []
        deadline = time.monotonic() + WAIT_S
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(POLL_S)
            if message is not None and message.error() is None:
                values.append(message.value())
        return values
    finally:
        consumer.close()


def _kafka_topics_isr(secured: Secured) -> list[int]:
    """``kafka-topics --describe`` over SASL_SSL, Kafka's Java client: the ISR it prints."""
    config = admin_properties(secured.ca, secured.work_dir / "admin.properties")
    result = jars.run_kafka_tool(
        TOPIC_COMMAND,
        ["--bootstrap-server", secured.cluster.bootstrap, "--command-config", str(config),
         "--describe", "--topic", TOPIC],
        work_dir=secured.work_dir,
    )  # fmt: skip
    match = re.search(r"Partition: 0\s.*Isr: ([0-9,]+)", result.stdout)
    assert match is not None, result.stdout
    return sorted(int(n) for n in match.group(1).split(","))


def test_replicated_over_sasl_ssl_survives_a_node(secured: Secured) -> None:
    admin = AdminClient(secured.client())
    topic = NewTopic(TOPIC, 1, 3, config={"min.insync.replicas": "2"})
    for future in admin.create_topics([topic]).values():
        future.result(CLIENT_TIMEOUT_S)
    first = [f"before-{i}".encode() for i in range(RECORDS)]
    assert _produce(secured, first) == [None] * RECORDS
    leader = _wait_isr(secured, 3)
    assert _kafka_topics_isr(secured) == [1, 2, 3]

    secured.cluster.kill(leader)
    second = [f"after-{i}".encode() for i in range(RECORDS)]
    assert _produce(secured, second) == [None] * RECORDS  # acks=all with 2 in sync
    assert _read_all(secured, 2 * RECORDS) == first + second

    secured.cluster.start(leader)
    secured.cluster.wait_ready(leader)
    _wait_isr(secured, 3)
    assert _kafka_topics_isr(secured) == [1, 2, 3]


def test_a_user_without_acls_is_refused(secured: Secured) -> None:
    [error] = _produce(secured, [b"not-allowed"], user="alice")
    assert isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
