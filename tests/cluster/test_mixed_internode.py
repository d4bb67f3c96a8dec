"""Apache Kafka 4.4 and ferrokafka nodes talking TLS and SASL to each other: one Kafka and two
ferrokafka combined (broker+controller) nodes, secured as tests/security/internode_support.py
says — the controller listener SSL with client certificates (raft between Kafka's and our
controllers, heartbeats and registration both ways), the broker listener SASL_SSL with
SCRAM-SHA-512 for clients and inter-broker traffic (credentials from both format tools'
``--add-scram``), the StandardAuthorizer on.

A topic of three partitions and three replicas (leaders on Kafka and on ferrokafka, so each
side's replica fetchers authenticate to the other's listener) is produced with acks=all by
confluent-kafka over SASL_SSL, and Kafka's ``kafka-topics --describe`` reports an ISR of three
on every partition; everything is read back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from mixed_processes import FERROKAFKA, KAFKA, MixedCluster
from tests.security.certs import Authority, make_authority
from tests.security.internode_support import (
    admin_properties,
    client_config,
    scram_format_args,
    secured_overrides,
)

from kafka_support.jars import run_kafka_tool

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOPIC = "mixed-secured"
PARTITIONS = 3
RECORDS = 60
CLIENT_TIMEOUT_S = 60.0
WAIT_S = 120.0
POLL_S = 0.5
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
LAYOUT = {
    1: (KAFKA, ("broker", "controller")),
    2: (FERROKAFKA, ("broker", "controller")),
    3: (FERROKAFKA, ("broker", "controller")),
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MixedCluster, Authority]]:
    work = tmp_path_factory.mktemp("mixed-internode")
    ca = make_authority(work / "pki")
    cluster = MixedCluster(
        work / "cluster",
        LAYOUT,
        overrides=secured_overrides(ca, work / "pki"),
        broker_listener="SASL_SSL",
        protocol_map="CONTROLLER:SSL,SASL_SSL:SASL_SSL",
        format_args=scram_format_args(),
        client_config=client_config(ca),
    )
    try:
        cluster.format()
        for node_id in cluster.nodes:
            cluster.start(node_id)
        cluster.wait_brokers()
        yield cluster, ca
    finally:
        cluster.close()


def _isrs(admin: AdminClient) -> dict[int, tuple[int, list[int]]]:
    topic = admin.list_topics(TOPIC, timeout=CLIENT_TIMEOUT_S).topics[TOPIC]
    return {p.id: (p.leader, sorted(p.isrs)) for p in topic.partitions.values()}


def test_kafka_and_ferrokafka_replicate_over_sasl_ssl(
    secured: tuple[MixedCluster, Authority], tmp_path: Path
) -> None:
    cluster, ca = secured
    config = {"bootstrap.servers": cluster.bootstrap, **client_config(ca)}
    admin = AdminClient(config)
    topic = NewTopic(TOPIC, PARTITIONS, 3, config={"min.insync.replicas": "2"})
    for future in admin.create_topics([topic]).values():
        future.result(CLIENT_TIMEOUT_S)

    producer = Producer({**config, "acks": "all", "message.timeout.ms": int(WAIT_S * 1000)})
    errors: list[object] = []
    for i in range(RECORDS):
        producer.produce(
            TOPIC, f"v{i}".encode(), partition=i % PARTITIONS,
            on_delivery=lambda err, _msg: errors.append(err),
        )  # fmt: skip
    assert producer.flush(WAIT_S + CLIENT_TIMEOUT_S) == 0
    assert errors == [None] * RECORDS

    deadline = time.monotonic() + WAIT_S
    while True:
        isrs = _isrs(admin)
        if all(isr == [1, 2, 3] for _, isr in isrs.values()):
            break
        assert time.monotonic() < deadline, f"ISRs never full: {isrs}"
        time.sleep(POLL_S)
    cluster.check_running()

    described = run_kafka_tool(
        TOPIC_COMMAND,
        ["--bootstrap-server", cluster.bootstrap,
         "--command-config", str(admin_properties(ca, tmp_path / "admin.properties")),
         "--describe", "--topic", TOPIC],
        work_dir=tmp_path,
    ).stdout  # fmt: skip
    printed = re.findall(r"Partition: (\d+)\s.*Isr: ([0-9,]+)", described)
    assert sorted((int(p), sorted(map(int, isr.split(",")))) for p, isr in printed) == [
        (p, [1, 2, 3]) for p in range(PARTITIONS)
    ], described

    consumer = Consumer({**config, "group.id": "mixed-internode"})
    try:
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
        values: set[bytes] = set()
        deadline = time.monotonic() + WAIT_S
        while len(values) < RECORDS and time.monotonic() < deadline:
            message = consumer.poll(POLL_S)
            if message is not None and message.error() is None:
                values.add(message.value())
    finally:
        consumer.close()
    assert values == {f"v{i}".encode() for i in range(RECORDS)}
