"""A metadata image as the records that rebuild it: what a metadata snapshot holds.

Kafka's ``MetadataImage.write`` in its order — features (metadata.version first), the cluster
(every registered broker as one RegisterBrokerRecord with its current fencing and
controlled-shutdown state), topics (a TopicRecord, then a PartitionRecord per partition),
configurations (a ConfigRecord per key), client quotas (a ClientQuotaRecord per key), producer
ids (one ProducerIdsRecord with broker id and epoch -1, as ``ProducerIdsImage.write``) and SCRAM
credentials (a UserScramCredentialRecord per user and mechanism, by mechanism then user);
registered controllers follow the brokers, as their RegisterControllerRecords. ACLs follow, one
AccessControlEntryRecord each (Kafka's AclsImage). Delegation tokens, which this image does not
hold, are not written. Replaying the records on an empty image gives the image back
(:func:`image_from_records`, checked by the tests), which is what makes a snapshot a valid start
for the log after it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ferrokafka.cluster import client_quotas
from ferrokafka.cluster.acls.control import record_from_binding
from ferrokafka.cluster.delta import MetadataDelta
from ferrokafka.cluster.image import (
    EMPTY_IMAGE,
    METADATA_VERSION_FEATURE,
    BrokerRegistration,
    MetadataImage,
    PartitionImage,
    TopicImage,
)
from ferrokafka.cluster.records import (
    ConfigRecord,
    FeatureLevelRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RegisterBrokerRecord,
    TopicRecord,
)
from ferrokafka.cluster.scram_store import credential_record
from ferrokafka.protocol.schema import Message

# ProducerIdsImage.write: the image keeps no owner of the last block.
NO_BROKER = -1


def image_records(image: MetadataImage) -> list[Message]:
    """The records of ``image``, in Kafka's snapshot order."""
    out: list[Message] = []
    out.extend(_features(image))
    out.extend(_broker_record(b) for _, b in sorted(image.brokers.items()))
    out.extend(record for _, record in sorted(image.controllers.items()))
    for topic in image.topics_by_id.values():
        out.extend(_topic_records(topic))
    for (resource_type, resource_name), values in image.configs.items():
        out.extend(
            ConfigRecord(
                resource_type=resource_type, resource_name=resource_name, name=name, value=value
            )
            for name, value in values.items()
        )
    out.extend(client_quotas.image_records(image.client_quotas))
    if image.next_producer_id >= 0:
        out.append(
            ProducerIdsRecord(
                broker_id=NO_BROKER, broker_epoch=NO_BROKER, next_producer_id=image.next_producer_id
            )
        )
    for (user, _), credential in sorted(
        image.scram.items(), key=lambda item: (item[1].mechanism.kafka_type, item[0][0])
    ):
        out.append(credential_record(user, credential))
    out.extend(record_from_binding(acl_id, acl) for acl_id, acl in image.acls.items())
    return out


def image_from_records(
    messages: Iterable[Message], offset: int
) -> tuple[MetadataImage, MetadataDelta]:
    """The image ``messages`` build on an empty image, as of ``offset`` (a snapshot's end
    offset - 1), and the delta that built it."""
    delta = MetadataDelta(EMPTY_IMAGE)
    delta.replay_all(messages, offset)
    return delta.apply(), delta


def _features(image: MetadataImage) -> Iterable[Message]:
    levels = dict(image.features)
    version = levels.pop(METADATA_VERSION_FEATURE, None)
    if version is not None:
        yield FeatureLevelRecord(name=METADATA_VERSION_FEATURE, feature_level=version)
    for name, level in sorted(levels.items()):
        yield FeatureLevelRecord(name=name, feature_level=level)


def _broker_record(broker: BrokerRegistration) -> RegisterBrokerRecord:
    return RegisterBrokerRecord(
        broker_id=broker.broker_id,
        incarnation_id=broker.incarnation_id,
        broker_epoch=broker.broker_epoch,
        end_points=[
            RegisterBrokerRecord.BrokerEndpoint(
                name=ep.name, host=ep.host, port=ep.port, security_protocol=ep.security_protocol
            )
            for ep in broker.endpoints
        ],
        features=[
            RegisterBrokerRecord.BrokerFeature(
                name=name, min_supported_version=low, max_supported_version=high
            )
            for name, (low, high) in broker.features.items()
        ],
        rack=broker.rack,
        fenced=broker.fenced,
        in_controlled_shutdown=broker.in_controlled_shutdown,
        log_dirs=list(broker.log_dirs),
    )


def _topic_records(topic: TopicImage) -> Iterable[Message]:
    yield TopicRecord(name=topic.name, topic_id=topic.topic_id)
    for _, partition in sorted(topic.partitions.items()):
        yield _partition_record(topic, partition)


def _partition_record(topic: TopicImage, p: PartitionImage) -> PartitionRecord:
    return PartitionRecord(
        partition_id=p.partition,
        topic_id=topic.topic_id,
        replicas=list(p.replicas),
        isr=list(p.isr),
        removing_replicas=list(p.removing_replicas),
        adding_replicas=list(p.adding_replicas),
        leader=p.leader,
        leader_recovery_state=p.leader_recovery_state,
        leader_epoch=p.leader_epoch,
        partition_epoch=p.partition_epoch,
        directories=list(p.directories),
        eligible_leader_replicas=None if p.elr is None else list(p.elr),
        last_known_elr=None if p.last_known_elr is None else list(p.last_known_elr),
    )
