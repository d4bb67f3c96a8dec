"""ferrokafka reads the ``__cluster_metadata`` log Apache Kafka 4.4 writes: every record value
decodes with our codecs and re-encodes to the same bytes, and replaying it builds the image
Kafka's own admin API described (topics, partitions, configs, the broker's registration)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import kafka_support as ks
from ferrokafka._ferrokafka import Log
from ferrokafka.cluster import (
    MetadataImage,
    MetadataLoader,
    SingleVoterLog,
    decode_record,
    topic_id_str,
)
from ferrokafka.cluster.records import (
    ConfigRecord,
    FeatureLevelRecord,
    PartitionRecord,
    RegisterBrokerRecord,
    RemoveTopicRecord,
    TopicRecord,
)
from ferrokafka.cluster.serde import WRITE_VERSIONS, encode_record

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOPIC_CONFIGS = {"retention.ms": "3600000", "cleanup.policy": "compact"}
PARTITIONS = 3


@dataclass(frozen=True)
class KafkaMetadata:
    data_dir: Path  # a copy of Kafka's log dirs, taken after a clean stop
    broker_port: int
    topic_ids: dict[str, str]  # name -> Kafka's base64 id, from its admin API


@pytest.fixture(scope="module")
def kafka_metadata(
    tmp_path_factory: pytest.TempPathFactory, kafka_classpath: str
) -> Iterator[KafkaMetadata]:
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
    )

    broker = ks.KafkaBroker(tmp_path_factory.mktemp("kafka-metadata"))
    broker.start()
    try:
        broker.create_topic("orders", partitions=PARTITIONS, config=TOPIC_CONFIGS)
        broker.create_topic("to.delete")
        admin = AdminClient(broker.client_config())
        change = ConfigEntry(
            "log.cleaner.threads", "2", incremental_operation=AlterConfigOpType.SET
        )
        resource = ConfigResource("BROKER", "1", incremental_configs=[change])
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(ks.broker.ADMIN_TIMEOUT_S)
        described = admin.describe_topics(TopicCollection(["orders"]))
        ids = {name: str(f.result(30).topic_id) for name, f in described.items()}
        for future in admin.delete_topics(["to.delete"]).values():
            future.result(ks.broker.ADMIN_TIMEOUT_S)
        broker.stop()
        copy = tmp_path_factory.mktemp("kafka-metadata-copy") / "data"
        shutil.copytree(broker.data_dir, copy)
        yield KafkaMetadata(copy, broker.port, ids)
    finally:
        broker.kill()


def test_every_record_decodes_and_re_encodes_byte_for_byte(kafka_metadata: KafkaMetadata):
    with Log(str(kafka_metadata.data_dir / "__cluster_metadata-0")) as raw:
        batches = raw.read_batches(0, 1 << 24)
    seen: dict[str, set[int]] = {}
    for batch in batches:
        if batch.is_control:
            continue
        for record in batch.records():
            assert record.key is None
            decoded = decode_record(record.value)
            assert encode_record(decoded.message, decoded.version) == record.value
            seen.setdefault(type(decoded.message).__name__, set()).add(decoded.version)
    for cls in (TopicRecord, PartitionRecord, ConfigRecord, RegisterBrokerRecord,
                RemoveTopicRecord, FeatureLevelRecord):  # fmt: skip
        assert cls.__name__ in seen, sorted(seen)
    # ferrokafka writes a version Kafka writes (Kafka picks BrokerRegistrationChangeRecord's
    # by the fields it changes; the fencing change ferrokafka makes is its v0).
    for name, versions in seen.items():
        if name in WRITE_VERSIONS:
            assert WRITE_VERSIONS[name] in versions, (name, versions)


@pytest.fixture(scope="module")
def kafka_image(kafka_metadata: KafkaMetadata) -> MetadataImage:
    log = SingleVoterLog(kafka_metadata.data_dir)
    try:
        return MetadataLoader().catch_up(log)
    finally:
        log.close()


def test_replaying_kafkas_log_builds_the_image(
    kafka_metadata: KafkaMetadata, kafka_image: MetadataImage
) -> None:
    image = kafka_image
    assert image.metadata_version >= 25  # Kafka 4.x
    assert "to.delete" not in image.topics_by_name
    orders = image.topic("orders")
    assert orders is not None
    # librdkafka prints ids in standard base64; Kafka's Uuid.toString (ours) is URL-safe.
    librdkafka_id = kafka_metadata.topic_ids["orders"]
    assert topic_id_str(orders.topic_id) == librdkafka_id.replace("/", "_").replace("+", "-")
    assert sorted(orders.partitions) == list(range(PARTITIONS))
    assert image.topic_config("orders") == TOPIC_CONFIGS
    assert image.broker_config(1) == {"log.cleaner.threads": "2"}
    broker = image.broker(1)
    assert broker is not None
    endpoint = broker.endpoint("PLAINTEXT")
    assert endpoint is not None and endpoint.port == kafka_metadata.broker_port
    assert endpoint.security_protocol == 0
    # Kafka's clean shutdown fences the broker and takes leadership away (ELR keeps it).
    for part in orders.partitions.values():
        assert part.replicas == (1,) and part.leader_epoch >= 0
