"""INFO lines for completed rebalances, of both protocols: a classic group's generation once
its leader's assignment is written (the group is Stable), a consumer-protocol group's new
target assignment once it is written (Kafka's "computed a new target assignment")."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ferrokafka.groups.classic.group import ClassicGroup
    from ferrokafka.groups.consumer.group import ConsumerGroup

log = logging.getLogger("ferrokafka.groups")


def log_classic_rebalance(group: ClassicGroup) -> None:
    protocol_type, protocol_name = group.protocol_type, group.protocol_name
    log.info(
        "group %s rebalanced (classic protocol): generation %d, protocol %s/%s, %d members",
        group.group_id,
        group.generation_id,
        protocol_type,
        protocol_name,
        len(group.members),
        extra={
            "fields": {
                "event": "group_rebalanced",
                "group": group.group_id,
                "group_protocol": "classic",
                "generation": group.generation_id,
                "protocol_type": protocol_type,
                "protocol_name": protocol_name,
                "members": len(group.members),
            }
        },
    )


def log_consumer_rebalance(previous_epoch: int, group: ConsumerGroup) -> None:
    """Log when the written change gave ``group`` a new target assignment."""
    if group.assignment_epoch == previous_epoch:
        return
    log.info(
        "group %s rebalanced (consumer protocol): epoch %d, protocol %s/%s, %d members",
        group.group_id,
        group.assignment_epoch,
        group.protocol_type,
        group.assignor_name,
        len(group.members),
        extra={
            "fields": {
                "event": "group_rebalanced",
                "group": group.group_id,
                "group_protocol": "consumer",
                "generation": group.assignment_epoch,
                "protocol_type": group.protocol_type,
                "protocol_name": group.assignor_name,
                "members": len(group.members),
            }
        },
    )
