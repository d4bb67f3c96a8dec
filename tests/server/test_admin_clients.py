"""Admin operations through real client libraries we did not write: confluent-kafka
(librdkafka), kafka-python and aiokafka, each with its own protocol code and version choice.
Every client call has a timeout; futures are awaited with one."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
)

from ferrokafka.testing import RunningBroker, run_broker

with warnings.catch_warnings():  # kafka-python loads schemas with deprecated importlib APIs
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.errors
    from kafka.admin import ConfigResource as KpConfigResource
    from kafka.admin import ConfigResourceType, KafkaAdminClient
    from kafka.admin import NewTopic as KpNewTopic

    from kafka import KafkaProducer

TIMEOUT_S = 15.0
TIMEOUT_MS = int(TIMEOUT_S * 1000)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def admin(broker: RunningBroker) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap_servers})


def wait_all(futures: dict[Any, Any]) -> dict[Any, Any]:
    return {key: future.result(timeout=TIMEOUT_S) for key, future in futures.items()}


def error_code(future: Any) -> int:
    with pytest.raises(KafkaException) as info:
        future.result(timeout=TIMEOUT_S)
    return info.value.args[0].code()


# -- confluent-kafka ------------------------------------------------------------------------


def test_confluent_topic_lifecycle(ferrokafka_broker: RunningBroker) -> None:
    client = admin(ferrokafka_broker)
    new = NewTopic("cf-life", 3, 1, config={"retention.ms": "60000", "cleanup.policy": "compact"})
    dry = client.create_topics([new], operation_timeout=TIMEOUT_S, validate_only=True)
    assert wait_all(dry) == {"cf-life": None}
    assert "cf-life" not in client.list_topics(timeout=TIMEOUT_S).topics
    assert wait_all(client.create_topics([new], operation_timeout=TIMEOUT_S)) == {"cf-life": None}

    listed = client.list_topics(timeout=TIMEOUT_S)
    host, port = ferrokafka_broker.bootstrap_servers.rsplit(":", 1)
    assert [(b.id, b.host, b.port) for b in listed.brokers.values()] == [(1, host, int(port))]
    assert listed.controller_id == 1
    partitions = listed.topics["cf-life"].partitions
    assert sorted(partitions) == [0, 1, 2]
    assert all(p.leader == 1 and p.replicas == [1] and p.isrs == [1] for p in partitions.values())

    [configs] = wait_all(client.describe_configs([ConfigResource("topic", "cf-life")])).values()
    assert configs["retention.ms"].value == "60000"
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["cleanup.policy"].value == "compact"
    assert configs["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value

    grown = client.create_partitions([NewPartitions("cf-life", 5)], operation_timeout=TIMEOUT_S)
    assert wait_all(grown) == {"cf-life": None}
    assert len(client.list_topics(timeout=TIMEOUT_S).topics["cf-life"].partitions) == 5

    deleted = client.delete_topics(["cf-life"], operation_timeout=TIMEOUT_S)
    assert wait_all(deleted) == {"cf-life": None}
    assert "cf-life" not in client.list_topics(timeout=TIMEOUT_S).topics
    assert ferrokafka_broker.partition("cf-life", 0) is None


def test_confluent_alter_configs(ferrokafka_broker: RunningBroker) -> None:
    client = admin(ferrokafka_broker)
    wait_all(client.create_topics([NewTopic("cf-alter", 1, 1)], operation_timeout=TIMEOUT_S))
    resource = ConfigResource("topic", "cf-alter")
    incremental = ConfigResource(
        "topic",
        "cf-alter",
        incremental_configs=[
            ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry(
                "max.message.bytes", "2000000", incremental_operation=AlterConfigOpType.SET
            ),
        ],
    )
    wait_all(client.incremental_alter_configs([incremental]))
    [configs] = wait_all(client.describe_configs([resource])).values()
    assert (configs["retention.ms"].value, configs["max.message.bytes"].value) == (
        "3600000",
        "2000000",
    )
    handle = ferrokafka_broker.partition("cf-alter", 0)
    assert handle is not None and handle.log.config.retention_ms == 3_600_000

    # legacy AlterConfigs replaces the whole set: max.message.bytes goes back to its default
    legacy = ConfigResource("topic", "cf-alter", set_config={"retention.ms": "7200000"})
    wait_all(client.alter_configs([legacy]))
    [configs] = wait_all(client.describe_configs([resource])).values()
    assert configs["retention.ms"].value == "7200000"
    assert configs["max.message.bytes"].source == ConfigSource.DEFAULT_CONFIG.value

    bad = ConfigResource(
        "topic",
        "cf-alter",
        incremental_configs=[
            ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    [future] = client.incremental_alter_configs([bad]).values()
    assert error_code(future) == KafkaError.INVALID_CONFIG

    [broker_configs] = wait_all(client.describe_configs([ConfigResource("broker", "1")])).values()
    assert broker_configs["num.partitions"].value == "1"
    assert broker_configs["node.id"].is_read_only


def test_dynamic_broker_defaults_reach_partition_logs(tmp_path: Path) -> None:
    """A dynamic broker config (kafka-configs --entity-type brokers --entity-name 1) applies to
    topics without their own value, as in Kafka, and survives a restart."""
    with run_broker(tmp_path / "broker") as broker:
        client = admin(broker)
        wait_all(client.create_topics([NewTopic("dyn", 1, 1)], operation_timeout=TIMEOUT_S))
        default = ConfigResource(
            "broker",
            "1",
            incremental_configs=[
                ConfigEntry(
                    "log.retention.ms", "4242000", incremental_operation=AlterConfigOpType.SET
                )
            ],
        )
        wait_all(client.incremental_alter_configs([default]))
        handle = broker.partition("dyn", 0)
        assert handle is not None and handle.log.config.retention_ms == 4_242_000
    with run_broker(tmp_path / "broker") as broker:
        handle = broker.partition("dyn", 0)
        assert handle is not None and handle.log.config.retention_ms == 4_242_000


def test_confluent_describe_cluster(ferrokafka_broker: RunningBroker) -> None:
    client = admin(ferrokafka_broker)
    cluster = client.describe_cluster(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    host, port = ferrokafka_broker.bootstrap_servers.rsplit(":", 1)
    assert cluster.cluster_id == client.list_topics(timeout=TIMEOUT_S).cluster_id
    assert cluster.controller.id == 1
    assert [(n.id, n.host, n.port) for n in cluster.nodes] == [(1, host, int(port))]


def test_confluent_errors(ferrokafka_broker: RunningBroker) -> None:
    client = admin(ferrokafka_broker)
    wait_all(client.create_topics([NewTopic("cf-err", 2, 1)], operation_timeout=TIMEOUT_S))
    cases = {
        "cf-rf3": NewTopic("cf-rf3", 1, 3),
        "cf-err": NewTopic("cf-err", 1, 1),
        "bad name!": NewTopic("bad name!", 1, 1),
        "cf-badcfg": NewTopic("cf-badcfg", 1, 1, config={"retention.ms": "forever"}),
    }
    futures = client.create_topics(list(cases.values()), operation_timeout=TIMEOUT_S)
    codes = {name: error_code(future) for name, future in futures.items()}
    assert codes == {
        "cf-rf3": KafkaError.INVALID_REPLICATION_FACTOR,
        "cf-err": KafkaError.TOPIC_ALREADY_EXISTS,
        "bad name!": KafkaError.TOPIC_EXCEPTION,
        "cf-badcfg": KafkaError.INVALID_CONFIG,
    }
    [shrink] = client.create_partitions([NewPartitions("cf-err", 1)]).values()
    assert error_code(shrink) == KafkaError.INVALID_PARTITIONS
    [missing] = client.describe_configs([ConfigResource("topic", "cf-missing")]).values()
    assert error_code(missing) == KafkaError.UNKNOWN_TOPIC_OR_PART
    [gone] = client.delete_topics(["cf-missing"], operation_timeout=TIMEOUT_S).values()
    assert error_code(gone) == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_topics_and_configs_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "broker"
    with run_broker(data_dir) as broker:
        client = admin(broker)
        new = NewTopic("kept", 2, 1, config={"retention.ms": "99000"})
        wait_all(client.create_topics([new], operation_timeout=TIMEOUT_S))
        wait_all(client.create_partitions([NewPartitions("kept", 3)]))
        wait_all(client.create_topics([NewTopic("dropped", 1, 1)]))
        wait_all(client.delete_topics(["dropped"], operation_timeout=TIMEOUT_S))
        topic_id = broker.image.topic("kept").topic_id
        cluster_id = broker.cluster_id
    with run_broker(data_dir) as broker:
        client = admin(broker)
        listed = client.list_topics(timeout=TIMEOUT_S)
        assert set(listed.topics) == {"kept"} and len(listed.topics["kept"].partitions) == 3
        assert listed.cluster_id == cluster_id
        [configs] = wait_all(client.describe_configs([ConfigResource("topic", "kept")])).values()
        assert configs["retention.ms"].value == "99000"
        assert broker.image.topic("kept").topic_id == topic_id
        handle = broker.partition("kept", 2)
        assert handle is not None and handle.log.config.retention_ms == 99_000


# -- kafka-python ---------------------------------------------------------------------------


def test_kafka_python_admin(ferrokafka_broker: RunningBroker) -> None:
    client = KafkaAdminClient(
        bootstrap_servers=ferrokafka_broker.bootstrap_servers, request_timeout_ms=TIMEOUT_MS
    )
    try:
        client.create_topics(
            [KpNewTopic("kp-admin", 2, 1, topic_configs={"retention.ms": "42000"})],
            timeout_ms=TIMEOUT_MS,
        )
        assert "kp-admin" in client.list_topics()
        [described] = client.describe_topics(["kp-admin"])
        assert len(described["partitions"]) == 2
        # kafka-python 3 answers {type: {name: {key: {...}}}}, by default only modified keys
        described = client.describe_configs(
            [KpConfigResource(ConfigResourceType.TOPIC, "kp-admin")]
        )
        assert described["topic"]["kp-admin"]["retention.ms"]["value"] == "42000"
        with pytest.raises(kafka.errors.TopicAlreadyExistsError):
            client.create_topics([KpNewTopic("kp-admin", 1, 1)], timeout_ms=TIMEOUT_MS)
        client.delete_topics(["kp-admin"], timeout_ms=TIMEOUT_MS)
        assert "kp-admin" not in client.list_topics()
    finally:
        client.close()


def test_kafka_python_producer_metadata_auto_creates(ferrokafka_broker: RunningBroker) -> None:
    producer = KafkaProducer(
        bootstrap_servers=ferrokafka_broker.bootstrap_servers,
        max_block_ms=TIMEOUT_MS,
        request_timeout_ms=TIMEOUT_MS,
    )
    try:
        # partitions_for fetches metadata (allow_auto_topic_creation on) and waits for it
        assert producer.partitions_for("kp-auto") == {0}
    finally:
        producer.close(timeout=TIMEOUT_S)
    assert ferrokafka_broker.image.topic("kp-auto") is not None


# -- aiokafka -------------------------------------------------------------------------------


def test_aiokafka_admin(ferrokafka_broker: RunningBroker) -> None:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin import NewTopic as AioNewTopic

    async def main() -> list[str]:
        client = AIOKafkaAdminClient(
            bootstrap_servers=ferrokafka_broker.bootstrap_servers, request_timeout_ms=TIMEOUT_MS
        )
        await client.start()
        try:
            await client.create_topics([AioNewTopic("aio-admin", 2, 1)], timeout_ms=TIMEOUT_MS)
            return list(await client.list_topics())
        finally:
            await client.close()

    topics = asyncio.run(asyncio.wait_for(main(), TIMEOUT_S * 2))
    assert "aio-admin" in topics
    topic = ferrokafka_broker.image.topic("aio-admin")
    assert topic is not None and len(topic.partitions) == 2
