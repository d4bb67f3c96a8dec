"""The partition-health view of `ferrokafka topics describe`: Kafka's kafka-topics filters
``--under-replicated-partitions``, ``--under-min-isr-partitions``, ``--at-min-isr-partitions``
and ``--unavailable-partitions``, computed as Kafka's TopicCommand computes them (its
``PartitionDescription``), from Metadata (leader, replicas, ISR, the live brokers), the
topic's effective ``min.insync.replicas`` (DescribeConfigs, defaults included) and the
ongoing reassignments (ListPartitionReassignments):

- under-replicated: the ISR is smaller than the replication factor, which during a
  reassignment is the replicas less those being added;
- under-min-isr: no leader, or the ISR is smaller than min.insync.replicas;
- at-min-isr: the ISR is exactly min.insync.replicas;
- unavailable: no leader, or a leader that is not a live broker.

Several filters show the partitions that match any of them; with any filter the topic
summary lines are left out, as Kafka's tool does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferrokafka.protocol.error_codes import CLUSTER_AUTHORIZATION_FAILED
from ferrokafka.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
)

from .client import ClientError, KafkaClient, PartitionInfo, check

UNDER_REPLICATED = "under-replicated-partitions"
UNDER_MIN_ISR = "under-min-isr-partitions"
AT_MIN_ISR = "at-min-isr-partitions"
UNAVAILABLE = "unavailable-partitions"
FILTERS = (UNDER_REPLICATED, UNDER_MIN_ISR, AT_MIN_ISR, UNAVAILABLE)
MIN_INSYNC_REPLICAS = "min.insync.replicas"
# Kafka's default when neither the topic nor the broker says otherwise.
DEFAULT_MIN_INSYNC_REPLICAS = 1
# How long the controller may take to answer ListPartitionReassignments.
REASSIGNMENTS_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Reassignment:
    replicas: list[int]
    adding: list[int]
    removing: list[int]


def in_progress(partition: PartitionInfo, reassignment: Reassignment | None) -> bool:
    """Still moving while a replica being added or removed is among the partition's
    replicas (it may have completed between the two answers)."""
    if reassignment is None:
        return False
    changing = set(reassignment.adding) | set(reassignment.removing)
    return any(r in changing for r in partition.replicas)


def replication_factor(partition: PartitionInfo, reassignment: Reassignment | None) -> int:
    if reassignment is not None and in_progress(partition, reassignment):
        return len(reassignment.replicas) - len(reassignment.adding)
    return len(partition.replicas)


def has_leader(partition: PartitionInfo) -> bool:
    return partition.leader >= 0


def matches(
    wanted: set[str],
    partition: PartitionInfo,
    reassignment: Reassignment | None,
    min_isr: int,
    live_brokers: set[int],
) -> bool:
    """Whether ``partition`` shows under any of the ``wanted`` filters."""
    isr = len(partition.isr)
    leader = has_leader(partition)
    found = {
        UNDER_REPLICATED: replication_factor(partition, reassignment) - isr > 0,
        UNDER_MIN_ISR: not leader or isr < min_isr,
        AT_MIN_ISR: isr == min_isr,
        UNAVAILABLE: not leader or partition.leader not in live_brokers,
    }
    return any(found[name] for name in wanted)


def min_insync_replicas(configs: dict[str, str]) -> int:
    """The effective min.insync.replicas from a topic's full DescribeConfigs answer."""
    value = configs.get(MIN_INSYNC_REPLICAS)
    try:
        return int(value) if value else DEFAULT_MIN_INSYNC_REPLICAS
    except ValueError:
        raise ClientError(f"{MIN_INSYNC_REPLICAS} is not a number: {value!r}") from None


def reassignments(client: KafkaClient) -> dict[tuple[str, int], Reassignment]:
    """Every ongoing reassignment; none when the cluster cannot say (an old broker, or not
    authorized), as Kafka's tool then assumes."""
    request = ListPartitionReassignmentsRequest(timeout_ms=REASSIGNMENTS_TIMEOUT_MS, topics=None)
    if request.API_KEY not in client.bootstrap.versions:
        return {}
    response = client.call(request)
    if response.error_code == CLUSTER_AUTHORIZATION_FAILED:
        return {}
    check(response.error_code, response.error_message)
    return {
        (topic.name, p.partition_index): Reassignment(
            list(p.replicas), list(p.adding_replicas), list(p.removing_replicas)
        )
        for topic in response.topics
        for p in topic.partitions
    }
