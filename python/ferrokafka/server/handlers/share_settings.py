"""A share group's settings for its share-partition leaders: the group's configs (resource
type GROUP: ``share.record.lock.duration.ms``, ``share.delivery.count.limit``,
``share.partition.max.record.locks``, ``share.auto.offset.reset``, ``share.isolation.level``)
over the broker's ``group.share.*`` values, clamped to the broker's bounds."""

from __future__ import annotations

from typing import Any

from ferrokafka.config.group import GROUP_RESOURCE, effective_group_value
from ferrokafka.server.handlers.api_versions import SHARE_VERSION_LEVEL
from ferrokafka.server.node import Node
from ferrokafka.share.manager import GroupShareSettings
from ferrokafka.share.partition import ShareConfig

# ShareVersion.SV_2 (Kafka 4.4, metadata.version 4.4-IV0's default) turns on the share
# groups' dead-letter queues (KIP-1191).
DLQ_SHARE_VERSION = 2


def share_settings(node: Node, group_id: str) -> GroupShareSettings:
    broker = node.broker_config()
    overrides = node.image.configs.get((GROUP_RESOURCE, group_id), {})

    def value(name: str) -> Any:
        return effective_group_value(broker, overrides, name)

    return GroupShareSettings(
        config=ShareConfig(
            record_lock_duration_ms=int(value("share.record.lock.duration.ms")),
            delivery_count_limit=int(value("share.delivery.count.limit")),
            max_record_locks=int(value("share.partition.max.record.locks")),
            dead_letter=share_version(node) >= DLQ_SHARE_VERSION
            and bool(value("errors.deadletterqueue.topic.name")),
        ),
        auto_offset_reset=str(value("share.auto.offset.reset")),
        isolation_level=str(value("share.isolation.level")),
    )


def share_version(node: Node) -> int:
    """The cluster's finalized ``share.version``; the single node's fixed level (that of
    ApiVersions, 2) unless its metadata log finalized one."""
    level = node.image.features.get("share.version")
    if level is None:
        return SHARE_VERSION_LEVEL if node.own_controller is not None else 0
    return level


def share_enabled(node: Node) -> bool:
    """Whether the cluster's finalized ``share.version`` is at least 1 (SV_1): else Kafka
    answers the share APIs UNSUPPORTED_VERSION."""
    return share_version(node) >= 1
