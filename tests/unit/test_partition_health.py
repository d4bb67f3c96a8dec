"""The partition-health filters of `ferrokafka topics describe` (cli/ferrokafka_cli/
partition_health.py), case by case as Kafka's TopicCommand decides them; the comparison with
Kafka's own tool on a live cluster is in tests/cluster/test_bounce_processes.py."""

from __future__ import annotations

import pytest

from ferrokafka_cli.client import ClientError, PartitionInfo
from ferrokafka_cli.partition_health import (
    AT_MIN_ISR,
    UNAVAILABLE,
    UNDER_MIN_ISR,
    UNDER_REPLICATED,
    Reassignment,
    matches,
    min_insync_replicas,
    replication_factor,
)

LIVE = {1, 2, 3}


def partition(leader: int, replicas: list[int], isr: list[int]) -> PartitionInfo:
    return PartitionInfo(0, leader, 0, replicas, isr, 0)


def shown(p: PartitionInfo, min_isr: int, moving: Reassignment | None = None) -> set[str]:
    return {
        f
        for f in (UNDER_REPLICATED, UNDER_MIN_ISR, AT_MIN_ISR, UNAVAILABLE)
        if matches({f}, p, moving, min_isr, LIVE)
    }


def test_full_isr_matches_nothing_but_at_min_when_equal() -> None:
    assert shown(partition(1, [1, 2, 3], [1, 2, 3]), 2) == set()
    assert shown(partition(1, [1, 2, 3], [1, 2, 3]), 3) == {AT_MIN_ISR}


def test_one_replica_out() -> None:
    assert shown(partition(1, [1, 2, 3], [1, 2]), 2) == {UNDER_REPLICATED, AT_MIN_ISR}
    assert shown(partition(1, [1, 2, 3], [1]), 2) == {UNDER_REPLICATED, UNDER_MIN_ISR}


def test_no_leader_is_unavailable_and_under_min_isr() -> None:
    # Kafka keeps the last replica in the ISR of a leaderless partition.
    assert shown(partition(-1, [2], [2]), 1) == {UNDER_MIN_ISR, UNAVAILABLE, AT_MIN_ISR}


def test_a_leader_that_is_not_a_live_broker_is_unavailable() -> None:
    assert shown(partition(9, [9, 1, 2], [9, 1, 2]), 2) == {UNAVAILABLE}


def test_filters_combine_as_any() -> None:
    p = partition(1, [1, 2, 3], [1, 2])
    assert matches({UNAVAILABLE, AT_MIN_ISR}, p, None, 2, LIVE)
    assert not matches({UNAVAILABLE, UNDER_MIN_ISR}, p, None, 2, LIVE)


def test_replication_factor_during_a_reassignment_leaves_out_the_adding_replicas() -> None:
    p = partition(1, [1, 2, 3, 4], [1, 2, 3])
    moving = Reassignment(replicas=[1, 2, 3, 4], adding=[4], removing=[3])
    assert replication_factor(p, moving) == 3
    assert shown(p, 2, moving) == set()  # 4 is still catching up: not under-replicated
    assert shown(p, 2) == {UNDER_REPLICATED}
    # A reassignment that completed between the two answers no longer counts.
    done = partition(1, [1, 2, 4], [1, 2, 4])
    assert replication_factor(done, Reassignment([1, 2, 4], [], [9])) == 3


def test_min_insync_replicas_from_the_full_config() -> None:
    assert min_insync_replicas({"min.insync.replicas": "2"}) == 2
    assert min_insync_replicas({}) == 1
    with pytest.raises(ClientError, match="min.insync.replicas"):
        min_insync_replicas({"min.insync.replicas": "two"})
