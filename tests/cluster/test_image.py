"""The image: records applied in order make a new image, old images never change, Kafka's
partition-change and broker-registration semantics, and ids."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from ferrokafka.cluster import (
    EMPTY_IMAGE,
    MetadataDelta,
    MetadataImage,
    MetadataReplayError,
    random_topic_id,
    topic_id_str,
)
from ferrokafka.cluster.image import RESERVED_UUIDS
from ferrokafka.cluster.records import (
    BrokerRegistrationChangeRecord,
    ConfigRecord,
    FeatureLevelRecord,
    PartitionChangeRecord,
    PartitionRecord,
    RegisterBrokerRecord,
    RemoveTopicRecord,
    TopicRecord,
)
from ferrokafka.protocol.schema import Message

TOPIC_ID = uuid.UUID("b88d4c25-dc1f-4702-89cd-7f628d0e4f13")


def apply(image: MetadataImage, *records: Message) -> MetadataImage:
    delta = MetadataDelta(image)
    delta.replay_all(records, image.offset + len(records))
    return delta.apply()


def topic_records(name: str = "orders", topic_id: uuid.UUID = TOPIC_ID) -> list[Message]:
    return [
        TopicRecord(name=name, topic_id=topic_id),
        ConfigRecord(resource_type=2, resource_name=name, name="retention.ms", value="1000"),
        *(
            PartitionRecord(
                partition_id=i, topic_id=topic_id, replicas=[1], isr=[1], leader=1,
                leader_epoch=0, partition_epoch=0,
            )
            for i in range(2)
        ),
    ]  # fmt: skip


def test_topics_by_name_and_id() -> None:
    image = apply(EMPTY_IMAGE, *topic_records())
    topic = image.topic("orders")
    assert topic is not None and image.topic_by_id(TOPIC_ID) is topic
    assert sorted(topic.partitions) == [0, 1] and topic.replication_factor == 1
    assert image.partition("orders", 1).leader == 1
    assert image.topic_config("orders") == {"retention.ms": "1000"}
    assert image.offset == 3


def test_old_images_stay_valid_and_immutable() -> None:
    first = apply(EMPTY_IMAGE, *topic_records())
    second = apply(
        first,
        PartitionChangeRecord(partition_id=0, topic_id=TOPIC_ID, isr=[], leader=-1),
        ConfigRecord(resource_type=2, resource_name="orders", name="retention.ms", value=None),
    )
    assert first.partition("orders", 0).leader == 1 and first.partition("orders", 0).isr == (1,)
    assert first.topic_config("orders") == {"retention.ms": "1000"}
    assert second.partition("orders", 0).leader == -1
    assert second.topic_config("orders") == {}
    # Unchanged partitions are shared, not copied.
    assert second.partition("orders", 1) is first.partition("orders", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.offset = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.topics_by_name["x"] = first.topic("orders")  # type: ignore[index]
    with pytest.raises(TypeError):
        first.topic("orders").partitions[5] = None  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.partition("orders", 0).leader = 3  # type: ignore[misc]


def test_unchanged_topics_are_shared_between_images() -> None:
    other = random_topic_id()
    first = apply(EMPTY_IMAGE, *topic_records(), *topic_records("logs", other))
    second = apply(first, PartitionChangeRecord(partition_id=0, topic_id=TOPIC_ID, leader=1))
    assert second.topic("logs") is first.topic("logs")
    assert second.topic("orders") is not first.topic("orders")


def test_partition_change_follows_kafkas_merge() -> None:
    image = apply(EMPTY_IMAGE, *topic_records())
    image = apply(image, PartitionChangeRecord(partition_id=0, topic_id=TOPIC_ID, isr=[]))
    part = image.partition("orders", 0)
    # An ISR change alone bumps the partition epoch, not the leader epoch.
    assert (part.leader, part.leader_epoch, part.partition_epoch, part.isr) == (1, 0, 1, ())
    image = apply(image, PartitionChangeRecord(partition_id=0, topic_id=TOPIC_ID, leader=-1))
    part = image.partition("orders", 0)
    assert (part.leader, part.leader_epoch, part.partition_epoch) == (-1, 1, 2)


def test_remove_topic_drops_partitions_and_configs() -> None:
    image = apply(EMPTY_IMAGE, *topic_records())
    image = apply(image, RemoveTopicRecord(topic_id=TOPIC_ID))
    assert image.topic("orders") is None and image.topic_by_id(TOPIC_ID) is None
    assert image.topic_config("orders") == {}


def test_broker_registration_and_fencing() -> None:
    register = RegisterBrokerRecord(
        broker_id=1,
        incarnation_id=uuid.uuid4(),
        broker_epoch=7,
        end_points=[RegisterBrokerRecord.BrokerEndpoint(name="PLAINTEXT", host="h", port=9092)],
        fenced=True,
    )
    image = apply(EMPTY_IMAGE, register)
    assert image.broker(1).fenced and image.active_brokers() == []
    image = apply(image, BrokerRegistrationChangeRecord(broker_id=1, broker_epoch=7, fenced=-1))
    assert image.active_brokers() == [image.broker(1)]
    assert image.broker(1).endpoint("PLAINTEXT").port == 9092
    with pytest.raises(MetadataReplayError, match="unknown broker 1 epoch 8"):
        apply(image, BrokerRegistrationChangeRecord(broker_id=1, broker_epoch=8, fenced=1))


def test_features_and_broker_configs() -> None:
    image = apply(
        EMPTY_IMAGE,
        FeatureLevelRecord(name="metadata.version", feature_level=30),
        ConfigRecord(resource_type=4, resource_name="", name="log.cleaner.threads", value="2"),
        ConfigRecord(resource_type=4, resource_name="1", name="log.cleaner.threads", value="3"),
    )
    assert image.metadata_version == 30
    assert image.broker_config(None) == {"log.cleaner.threads": "2"}
    assert image.broker_config(1) == {"log.cleaner.threads": "3"}
    image = apply(image, FeatureLevelRecord(name="metadata.version", feature_level=0))
    assert image.metadata_version == 0


def test_records_that_contradict_the_image_are_refused() -> None:
    with pytest.raises(MetadataReplayError, match="unknown topic id"):
        apply(EMPTY_IMAGE, *topic_records()[2:])
    image = apply(EMPTY_IMAGE, *topic_records())
    with pytest.raises(MetadataReplayError, match="registered twice"):
        apply(image, TopicRecord(name="again", topic_id=TOPIC_ID))
    with pytest.raises(MetadataReplayError, match="share a name"):
        apply(image, TopicRecord(name="orders", topic_id=random_topic_id()))


def test_random_topic_ids() -> None:
    ids = {random_topic_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert not ids & RESERVED_UUIDS
    assert all(i.version == 4 and not topic_id_str(i).startswith("-") for i in ids)
    assert topic_id_str(uuid.UUID(int=1)) == "AAAAAAAAAAAAAAAAAAAAAQ"
