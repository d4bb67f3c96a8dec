"""INFO lines for the metadata changes users make: topics created and deleted, partitions
added, topic and broker configs changed — one line each, written by the active controller once
the records are committed (so a validate-only request or a failed append logs nothing, and a
cluster logs each change once, where Kafka's controller logs it).

Config values are logged with secrets hidden (:mod:`ferrokafka.config.redact`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from ferrokafka.cluster.image import BROKER_RESOURCE, TOPIC_RESOURCE, MetadataImage
from ferrokafka.cluster.records import (
    ConfigRecord,
    PartitionRecord,
    RemoveTopicRecord,
    TopicRecord,
)
from ferrokafka.config.redact import format_settings, redact_value
from ferrokafka.protocol.schema import Message

log = logging.getLogger(__name__)

# Config changes of one batch named one by one; more are summed up as "and N more".
CONFIG_CHANGES_LOGGED_MAX = 32
# Kafka's ConfigResource.Type.GROUP.
GROUP_RESOURCE = 32


def log_committed(before: MetadataImage, records: Sequence[Message]) -> None:
    """Log the user-visible changes ``records`` made to ``before`` (the image they applied to)."""
    if not records or not log.isEnabledFor(logging.INFO):
        return
    created: dict[uuid.UUID, str] = {}
    new_partitions: dict[uuid.UUID, list[PartitionRecord]] = {}
    configs: list[ConfigRecord] = []
    for record in records:
        if isinstance(record, TopicRecord):
            created[record.topic_id] = record.name
        elif isinstance(record, PartitionRecord):
            new_partitions.setdefault(record.topic_id, []).append(record)
        elif isinstance(record, ConfigRecord):
            configs.append(record)
        elif isinstance(record, RemoveTopicRecord):
            topic = before.topic_by_id(record.topic_id)
            name = topic.name if topic is not None else str(record.topic_id)
            count = len(topic.partitions) if topic is not None else 0
            log.info(
                "deleted topic %s (topic id %s, %d partitions)",
                name,
                record.topic_id,
                count,
                extra={"fields": {"event": "topic_deleted", "topic": name, "partitions": count}},
            )
    for topic_id, name in created.items():
        _log_created(name, topic_id, new_partitions.pop(topic_id, []), configs)
    for topic_id, partitions in new_partitions.items():
        _log_partitions_added(before, topic_id, partitions)
    _log_config_changes(configs, set(created.values()))


def _log_created(
    name: str, topic_id: uuid.UUID, partitions: list[PartitionRecord], configs: list[ConfigRecord]
) -> None:
    overrides = [
        (c.name, c.value)
        for c in configs
        if c.resource_type == TOPIC_RESOURCE and c.resource_name == name and c.value is not None
    ]
    replication = len(partitions[0].replicas) if partitions else 0
    log.info(
        "created topic %s (topic id %s, %d partitions, replication factor %d, configs: %s)",
        name,
        topic_id,
        len(partitions),
        replication,
        format_settings(overrides) or "defaults",
        extra={
            "fields": {
                "event": "topic_created",
                "topic": name,
                "partitions": len(partitions),
                "replication_factor": replication,
                "configs": {key: redact_value(key, value) for key, value in overrides},
            }
        },
    )


def _log_partitions_added(
    before: MetadataImage, topic_id: uuid.UUID, partitions: list[PartitionRecord]
) -> None:
    topic = before.topic_by_id(topic_id)
    if topic is None:
        return
    added = [p for p in partitions if p.partition_id not in topic.partitions]
    if not added:
        return  # a reassignment or a re-written partition, not growth
    total = len(topic.partitions) + len(added)
    log.info(
        "added %d partitions to topic %s (now %d)",
        len(added),
        topic.name,
        total,
        extra={
            "fields": {
                "event": "partitions_added",
                "topic": topic.name,
                "added": len(added),
                "partitions": total,
            }
        },
    )


def _log_config_changes(configs: list[ConfigRecord], new_topics: set[str]) -> None:
    changes = [
        c
        for c in configs
        if not (c.resource_type == TOPIC_RESOURCE and c.resource_name in new_topics)
    ]
    for record in changes[:CONFIG_CHANGES_LOGGED_MAX]:
        kind = _resource_kind(record.resource_type, record.resource_name)
        value = redact_value(record.name, record.value)
        change = "deleted (back to its default)" if value is None else f"set to {value}"
        log.info(
            "config of %s: %s %s",
            kind,
            record.name,
            change,
            extra={
                "fields": {
                    "event": "config_changed",
                    "resource": kind,
                    "key": record.name,
                    "value": value,
                }
            },
        )
    if len(changes) > CONFIG_CHANGES_LOGGED_MAX:
        log.info("... and %d more config changes", len(changes) - CONFIG_CHANGES_LOGGED_MAX)


def _resource_kind(resource_type: int, name: str) -> str:
    if resource_type == TOPIC_RESOURCE:
        return f"topic {name}"
    if resource_type == BROKER_RESOURCE:
        return f"broker {name}" if name else "every broker (cluster default)"
    if resource_type == GROUP_RESOURCE:
        return f"group {name}"
    return f"resource type {resource_type} {name!r}"
