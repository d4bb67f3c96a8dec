"""Consumer groups (KIP-848) inside the group coordinator: write-then-adopt of heartbeats, the
deadline timers and the replay at load are :mod:`~ferrokafka.groups.heartbeat_service`'s; this
module gives them the consumer group's config, topics and rebalance log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferrokafka.config.group import GROUP_RESOURCE, effective_group_value
from ferrokafka.groups.consumer.group import ConsumerGroup, GroupConfig, Heartbeat, Topics
from ferrokafka.groups.consumer.records import RECORDS
from ferrokafka.groups.heartbeat_service import HeartbeatService, new_member_id  # noqa: F401
from ferrokafka.groups.member_records import Snapshot
from ferrokafka.groups.rebalance_log import log_consumer_rebalance

if TYPE_CHECKING:
    from ferrokafka.coordinator import CoordinatorHost
    from ferrokafka.groups.consumer.group import HeartbeatResult


def topics_of(node: CoordinatorHost) -> Topics:
    return {
        name: (topic.topic_id, len(topic.partitions))
        for name, topic in node.image.topics_by_name.items()
    }


class ConsumerGroups(HeartbeatService[ConsumerGroup]):
    """The consumer groups of one coordinator."""

    group_type = ConsumerGroup
    records = RECORDS
    DEADLINES_TIMER = "consumer-group-deadlines"
    NOT_FOUND = "Consumer group {} not found."
    OTHER_KIND = "Group {} is not a consumer group"

    def group_config(self, group_id: str | None = None) -> GroupConfig:
        """The broker's consumer group settings, with the group's own configs (resource type
        GROUP: ``consumer.session.timeout.ms``, ``consumer.heartbeat.interval.ms``) over them."""
        broker = self.node.broker_config()
        overrides = self.node.image.configs.get((GROUP_RESOURCE, group_id or ""), {})
        return GroupConfig(
            session_timeout_ms=int(
                effective_group_value(broker, overrides, "consumer.session.timeout.ms")
            ),
            heartbeat_interval_ms=int(
                effective_group_value(broker, overrides, "consumer.heartbeat.interval.ms")
            ),
            max_size=int(broker["group.consumer.max.size"]),
        )

    async def apply(self, work: ConsumerGroup, hb: Heartbeat) -> HeartbeatResult:
        return work.heartbeat(hb, topics_of(self.node), self.coordinator.now_ms())

    def written(self, before: Snapshot, group: ConsumerGroup) -> None:
        log_consumer_rebalance(before.assignment_epoch, group)  # INFO, on a new target
