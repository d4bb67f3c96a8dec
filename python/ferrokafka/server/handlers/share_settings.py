"""A share group's settings for its share-partition leaders: the group's configs (resource
type GROUP: ``share.record.lock.duration.ms``, ``share.delivery.count.limit``,
``share.partition.max.record.locks``, ``share.auto.offset.reset``, ``share.isolation.level``)
over the broker's ``group.share.*`` values, clamped to the broker's bounds."""

from __future__ import annotations

from typing import Any

from ferrokafka.config.group import GROUP_RESOURCE, effective_group_value
from ferrokafka.server.node import Node
from ferrokafka.share.manager import GroupShareSettings
from ferrokafka.share.partition import ShareConfig


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
        ),
        auto_offset_reset=str(value("share.auto.offset.reset")),
        isolation_level=str(value("share.isolation.level")),
    )


def share_enabled(node: Node) -> bool:
    """Whether the cluster's finalized ``share.version`` is at least 1 (SV_1): else Kafka
    answers the share APIs UNSUPPORTED_VERSION. The single node's fixed level is 1 unless its
    metadata log finalized another."""
    level = node.image.features.get("share.version")
    if level is None:
        return node.own_controller is not None
    return level >= 1
