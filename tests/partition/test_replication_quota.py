"""The replication throttle's quota (partition/replication_quota.py): Kafka's sampled rate,
the throttled replicas a topic config names for this broker, and the rate limit from the
broker's own dynamic config or the cluster-wide default."""

from __future__ import annotations

import uuid

from ferrokafka.cluster.delta import MetadataDelta
from ferrokafka.cluster.image import BROKER_RESOURCE, EMPTY_IMAGE, TOPIC_RESOURCE, MetadataImage
from ferrokafka.cluster.records import ConfigRecord, TopicRecord
from ferrokafka.partition.replication_quota import (
    ALL_PARTITIONS,
    FOLLOWER,
    LEADER,
    ReplicationQuota,
    SampledRate,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def image_with(*configs: tuple[int, str, str, str]) -> MetadataImage:
    delta = MetadataDelta(EMPTY_IMAGE)
    delta.replay(TopicRecord(name="t", topic_id=uuid.UUID(int=7)))
    for resource, name, key, value in configs:
        delta.replay(
            ConfigRecord(resource_type=resource, resource_name=name, name=key, value=value)
        )
    return delta.apply()


def test_the_rate_counts_at_least_ten_windows_and_forgets_old_samples() -> None:
    rate = SampledRate(samples=11, sample_s=1.0)
    rate.record(1000, now=0.0)
    assert rate.rate(0.5) == 100.0  # 1000 bytes over the minimum span of 10 windows
    rate.record(1000, now=0.9)  # same window
    assert rate.rate(0.9) == 200.0
    rate.record(2200, now=22.0)  # 22 s later: only this sample is left
    assert rate.rate(22.0) == 220.0
    assert rate.rate(40.0) == 0.0


def test_throttled_replicas_name_partitions_of_this_broker() -> None:
    quota = ReplicationQuota(2, LEADER)
    assert quota.parse_replicas("0:1,0:2,1:2,3:3") == frozenset({0, 1})
    assert quota.parse_replicas("*") == ALL_PARTITIONS
    assert quota.parse_replicas("") == frozenset()
    assert quota.parse_replicas(None) == frozenset()


def test_configured_from_the_image_and_exceeded_over_the_limit() -> None:
    clock = Clock()
    quota = ReplicationQuota(2, FOLLOWER, clock)
    quota.configure(EMPTY_IMAGE)
    quota.record(10**9)
    assert quota.limit_bytes_per_s is None and not quota.exceeded()  # no limit: never
    image = image_with(
        (BROKER_RESOURCE, "", "follower.replication.throttled.rate", "500"),
        (TOPIC_RESOURCE, "t", "follower.replication.throttled.replicas", "1:2,0:3"),
        (TOPIC_RESOURCE, "t", "leader.replication.throttled.replicas", "*"),
    )
    quota.configure(image)
    assert quota.limit_bytes_per_s == 500  # the cluster-wide default
    assert quota.is_throttled("t", 1) and not quota.is_throttled("t", 0)
    assert not quota.is_throttled("other", 1)
    assert quota.exceeded()  # 10**9 bytes over 10 s
    own = image_with((BROKER_RESOURCE, "2", "follower.replication.throttled.rate", "10"))
    fresh = ReplicationQuota(2, FOLLOWER, clock)
    fresh.configure(own)
    assert fresh.limit_bytes_per_s == 10
    fresh.record(100)
    assert not fresh.exceeded()  # 100 bytes over 10 s is 10 B/s: not over
    fresh.record(1)
    assert fresh.exceeded()
    clock.now += 12.0  # the samples left the window
    assert not fresh.exceeded()
