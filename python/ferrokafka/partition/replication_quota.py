"""Replication throttles (KIP-73; Kafka's ``ReplicationQuotaManager``): how fast a reassignment
copies a partition to its new replicas.

Two quotas per broker, configured from the metadata image as Kafka's dynamic configs are:

* ``leader``: the rate ``leader.replication.throttled.rate`` (broker config of this broker,
  else the cluster-wide default; unset: no limit) over the partitions that
  ``leader.replication.throttled.replicas`` (a topic config: ``partition:broker`` entries, or
  ``*``) names with this broker. While the bytes sent for them exceed the rate, a follower
  outside the ISR gets no records of them (Kafka's ``shouldLeaderThrottle``);
* ``follower``: ``follower.replication.throttled.rate`` / ``.replicas`` alike; while exceeded,
  this broker's fetchers leave throttled partitions that lag the leader out of their requests
  (Kafka's ``shouldFollowerThrottle``).

The rate is Kafka's sampled rate: bytes in the last ``WINDOW_SAMPLES`` one-second samples over
the time they span, counted as at least ``WINDOW_SAMPLES - 1`` whole samples (so a start is
not a burst of infinite rate). Sans-io but for the clock, which is injectable.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from ferrokafka.cluster.image import TOPIC_RESOURCE, MetadataImage

LEADER = "leader"
FOLLOWER = "follower"
# Kafka's replication.quota.window.num and replication.quota.window.size.seconds defaults.
WINDOW_SAMPLES = 11
SAMPLE_S = 1.0
# Every partition of the topic (a throttled-replicas value of "*").
ALL_PARTITIONS = "*"

Clock = Callable[[], float]


class SampledRate:
    """Bytes per second over the last ``samples`` windows of ``sample_s`` seconds."""

    def __init__(self, samples: int = WINDOW_SAMPLES, sample_s: float = SAMPLE_S) -> None:
        self.samples = samples
        self.sample_s = sample_s
        # (window start, bytes), oldest first; at most ``samples`` entries.
        self._windows: deque[tuple[float, int]] = deque(maxlen=samples)

    def record(self, nbytes: int, now: float) -> None:
        if self._windows and now < self._windows[-1][0] + self.sample_s:
            start, total = self._windows[-1]
            self._windows[-1] = (start, total + nbytes)
        else:
            self._windows.append((now, nbytes))

    def rate(self, now: float) -> float:
        oldest = now - self.samples * self.sample_s
        while self._windows and self._windows[0][0] < oldest:
            self._windows.popleft()
        if not self._windows:
            return 0.0
        total = sum(nbytes for _, nbytes in self._windows)
        elapsed = now - self._windows[0][0]
        return total / max(elapsed, (self.samples - 1) * self.sample_s)


class ReplicationQuota:
    """One side (``LEADER`` or ``FOLLOWER``) of this broker's replication throttle."""

    def __init__(self, broker_id: int, side: str, clock: Clock = time.monotonic) -> None:
        assert side in (LEADER, FOLLOWER), side
        self.broker_id = broker_id
        self.side = side
        self._clock = clock
        self._rate = SampledRate()
        self.limit_bytes_per_s: int | None = None
        # topic -> throttled partition indexes, or ALL_PARTITIONS.
        self._throttled: dict[str, frozenset[int] | str] = {}
        self._image: MetadataImage | None = None

    @property
    def _rate_key(self) -> str:
        return f"{self.side}.replication.throttled.rate"

    @property
    def _replicas_key(self) -> str:
        return f"{self.side}.replication.throttled.replicas"

    def configure(self, image: MetadataImage) -> None:
        """Take the rate and the throttled partitions from ``image`` (each new image)."""
        if image is self._image:
            return
        self._image = image
        own = image.broker_config(self.broker_id).get(self._rate_key)
        default = image.broker_config(None).get(self._rate_key)
        value = own if own is not None else default
        self.limit_bytes_per_s = int(value) if value is not None else None
        throttled: dict[str, frozenset[int] | str] = {}
        for (resource, name), values in image.configs.items():
            if resource != TOPIC_RESOURCE:
                continue
            parsed = self.parse_replicas(values.get(self._replicas_key))
            if parsed:
                throttled[name] = parsed
        self._throttled = throttled

    def parse_replicas(self, value: str | None) -> frozenset[int] | str:
        """Kafka's ``parseThrottledPartitions``: the partitions of ``partition:broker`` entries
        naming this broker, or ALL_PARTITIONS for ``*``."""
        if value is None or not value.strip():
            return frozenset()
        if value.strip() == ALL_PARTITIONS:
            return ALL_PARTITIONS
        partitions = set()
        for entry in value.split(","):
            partition, _, broker = entry.strip().partition(":")
            if broker.strip() == str(self.broker_id) and partition.strip().isdigit():
                partitions.add(int(partition))
        return frozenset(partitions)

    def is_throttled(self, topic: str, partition: int) -> bool:
        found = self._throttled.get(topic)
        return found is not None and (found == ALL_PARTITIONS or partition in found)

    def exceeded(self) -> bool:
        """Whether the throttled bytes' rate is over the limit now (never without a limit)."""
        limit = self.limit_bytes_per_s
        return limit is not None and self._rate.rate(self._clock()) > limit

    def record(self, nbytes: int) -> None:
        if nbytes > 0:
            self._rate.record(nbytes, self._clock())
