"""acks=all against min.insync.replicas with librdkafka (confluent-kafka): this node is every
partition's only replica, so a topic needing 2 in-sync replicas refuses acks=all writes with
NOT_ENOUGH_REPLICAS (acks=1 still succeeds), as Kafka does. The broker keeps the resolved
value per metadata image, so the tests also change it, by topic override and by the dynamic
cluster default, and expect the next write to see the change."""

from __future__ import annotations

import time
from pathlib import Path

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

import kafka_support as ks
from ferrokafka.testing import RunningBroker

TIMEOUT_S = 30.0
# ConfigCommand moved from the Scala core (kafka.admin) to the tools module in Kafka 4.4.
CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"


def _admin(broker: RunningBroker) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap_servers})


def _create(admin: AdminClient, topic: str, config: dict[str, str]) -> None:
    futures = admin.create_topics([NewTopic(topic, 1, 1, config=config)])
    futures[topic].result(timeout=TIMEOUT_S)


def _set(admin: AdminClient, resource: ConfigResource, value: str) -> None:
    resource.add_incremental_config(
        ConfigEntry("min.insync.replicas", value, incremental_operation=AlterConfigOpType.SET)
    )
    futures = admin.incremental_alter_configs([resource])
    futures[resource].result(timeout=TIMEOUT_S)


def _set_cluster_default(broker: RunningBroker, tmp_path: Path, value: str) -> None:
    """The dynamic cluster-wide broker default with Kafka's kafka-configs (--entity-default):
    librdkafka and kafka-python refuse the empty broker name it is stored under."""
    ks.require_kafka()
    ks.run_kafka_tool(
        CONFIG_COMMAND,
        [
            "--bootstrap-server",
            broker.bootstrap_servers,
            "--entity-type",
            "brokers",
            "--entity-default",
            "--alter",
            "--add-config",
            f"min.insync.replicas={value}",
        ],
        work_dir=tmp_path,
    )


def _produce(broker: RunningBroker, topic: str, acks: str) -> ck.KafkaError | None:
    """One record with ``acks`` and no retries: the delivery error, or None."""
    producer = ck.Producer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "acks": acks,
            "retries": 0,
            "enable.idempotence": False,
            "message.timeout.ms": int(TIMEOUT_S * 1000),
        }
    )
    outcome: list[ck.KafkaError | None] = []
    producer.produce(topic, b"v", on_delivery=lambda err, _msg: outcome.append(err))
    deadline = time.monotonic() + TIMEOUT_S
    while not outcome and time.monotonic() < deadline:
        producer.poll(0.1)
    assert outcome, "no delivery report"
    return outcome[0]


def _code(error: ck.KafkaError | None) -> int | None:
    return None if error is None else error.code()


@pytest.mark.timeout(120)
def test_topic_override_refuses_then_allows(ferrokafka_broker: RunningBroker) -> None:
    admin = _admin(ferrokafka_broker)
    _create(admin, "mir2", {"min.insync.replicas": "2"})
    assert _code(_produce(ferrokafka_broker, "mir2", "all")) == ck.KafkaError.NOT_ENOUGH_REPLICAS
    assert _produce(ferrokafka_broker, "mir2", "1") is None
    _set(admin, ConfigResource(ConfigResource.Type.TOPIC, "mir2"), "1")
    assert _produce(ferrokafka_broker, "mir2", "all") is None


@pytest.mark.timeout(120)
def test_dynamic_cluster_default_applies(ferrokafka_broker: RunningBroker, tmp_path: Path) -> None:
    """Kafka's dynamic log defaults include min.insync.replicas (DynamicLogConfig)."""
    admin = _admin(ferrokafka_broker)
    _create(admin, "plain", {})
    assert _produce(ferrokafka_broker, "plain", "all") is None
    _set_cluster_default(ferrokafka_broker, tmp_path, "2")
    assert _code(_produce(ferrokafka_broker, "plain", "all")) == ck.KafkaError.NOT_ENOUGH_REPLICAS
    _set_cluster_default(ferrokafka_broker, tmp_path, "1")
    assert _produce(ferrokafka_broker, "plain", "all") is None
