"""Eligible leader replicas (ELR, KIP-966) on the controller: whether they are on, and what a
partition change needs to know about them (sans-io).

ELR is on when the cluster finalized ``eligible.leader.replicas.version`` at 1 or more (Kafka
4.4's ``FeatureControlManager.isElrFeatureEnabled``; it needs metadata.version 4.0-IV1, which
the feature's dependency already ensures). Then every partition change is built with the
topic's effective ``min.insync.replicas`` — its value (the topic's override, else the
controller's dynamic broker config, else the cluster-wide dynamic default, else the static
config) capped at the replication factor of partition 0 (Kafka's ``getTopicEffectiveMinIsr``).

A ``min.insync.replicas`` change with ELR on is followed by a ClearElrRecord (Kafka's
``ConfigurationControlManager.createClearElrRecordsAsNeeded``): for that topic when the
change is a topic's, for every topic when it is a broker's or the cluster default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ferrokafka.cluster.image import TOPIC_RESOURCE, MetadataImage
from ferrokafka.cluster.records import ClearElrRecord, ConfigRecord
from ferrokafka.protocol.schema import Message

ELR_FEATURE = "eligible.leader.replicas.version"
MIN_ISR_KEY = "min.insync.replicas"

# Per topic name: its effective min.insync.replicas with ELR on, None with ELR off.
ElrMinIsr = Callable[[str], "int | None"]


def elr_off(_topic: str) -> int | None:
    """The :data:`ElrMinIsr` of a controller that never runs ELR."""
    return None


def elr_enabled(image: MetadataImage) -> bool:
    return image.features.get(ELR_FEATURE, 0) >= 1


def effective_min_isr(image: MetadataImage, topic: str, node_id: int, static_value: int) -> int:
    """Kafka's ``getTopicEffectiveMinIsr``: the topic's min.insync.replicas, at most its
    replication factor."""
    value = static_value
    for layer in (
        image.topic_config(topic),
        image.broker_config(node_id),
        image.broker_config(None),
    ):
        raw = layer.get(MIN_ISR_KEY)
        if raw is not None:
            value = int(raw)
            break
    found = image.topic(topic)
    replication_factor = found.replication_factor if found is not None else value
    return min(value, replication_factor)


def elr_min_isr(image: MetadataImage, topic: str, node_id: int, static_value: int) -> int | None:
    """The :data:`ElrMinIsr` value for ``topic`` in ``image``."""
    if not elr_enabled(image):
        return None
    return effective_min_isr(image, topic, node_id, static_value)


def clear_elr_records(image: MetadataImage, records: Sequence[Message]) -> list[Message]:
    """The ClearElrRecords that follow ``records`` (config changes) with ELR on."""
    if not elr_enabled(image):
        return []
    out: list[Message] = []
    for record in records:
        if not isinstance(record, ConfigRecord) or record.name != MIN_ISR_KEY:
            continue
        if record.resource_type == TOPIC_RESOURCE:
            out.append(ClearElrRecord(topic_name=record.resource_name))
        else:
            out.append(ClearElrRecord())
    return out
