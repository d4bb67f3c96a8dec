"""Kafka's sampled rate: a ``Rate`` over a ``WindowedSum`` (clients' ``SampledStat``), and the
throttle time of a value over its bound (``QuotaUtils.throttleTime``).

A rate keeps up to ``samples + 1`` samples (one extra overlaps the monitored window), each of
``window_ms``; a record starts a new sample once the current one is ``window_ms`` old. A sample
whose last event is ``samples * window_ms`` old is reset. The rate is the samples' sum over the
elapsed time since the oldest sample started, counted as at least ``samples - 1`` full windows
(so the first second of a 11-second window does not read as a huge rate), and at least 1 ms.

Sans-io: the caller gives the time (ms) of every call; tests use a fake clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Kafka's QuotaConfig defaults: quota.window.num, quota.window.size.seconds.
QUOTA_WINDOW_NUM_DEFAULT = 11
QUOTA_WINDOW_SIZE_SECONDS_DEFAULT = 1
MS_PER_S = 1000.0


@dataclass(frozen=True, slots=True)
class RateConfig:
    samples: int = QUOTA_WINDOW_NUM_DEFAULT
    window_ms: int = QUOTA_WINDOW_SIZE_SECONDS_DEFAULT * 1000


DEFAULT_RATE_CONFIG = RateConfig()


class _Sample:
    __slots__ = ("event_count", "last_event_ms", "start_ms", "value")

    def __init__(self, now_ms: int) -> None:
        self.reset(now_ms)

    def reset(self, now_ms: int) -> None:
        self.value = 0.0
        self.event_count = 0
        self.start_ms = now_ms
        self.last_event_ms = now_ms


class SampledRate:
    """A per-second rate of recorded values over ``config``'s samples."""

    def __init__(self, config: RateConfig) -> None:
        self.config = config
        self._samples: list[_Sample] = []
        self._current = 0

    def record(self, value: float, now_ms: int) -> None:
        sample = self._current_sample(now_ms)
        if now_ms - sample.start_ms >= self.config.window_ms:
            sample = self._advance(now_ms)
        sample.value += value
        sample.event_count += 1
        sample.last_event_ms = now_ms

    def measure(self, now_ms: int) -> float:
        """The rate per second (Kafka's ``Rate.measure``)."""
        window_ms = self.window_ms(now_ms)  # purges first
        return sum(s.value for s in self._samples) / (window_ms / MS_PER_S)

    def window_ms(self, now_ms: int) -> int:
        """The elapsed time the rate divides by (Kafka's ``Rate.windowSize``)."""
        self._purge(now_ms)
        elapsed = now_ms - self._oldest(now_ms).start_ms
        full_windows = elapsed // self.config.window_ms
        min_full_windows = self.config.samples - 1
        if full_windows < min_full_windows:
            elapsed += (min_full_windows - full_windows) * self.config.window_ms
        return max(elapsed, 1)

    def _current_sample(self, now_ms: int) -> _Sample:
        if not self._samples:
            self._samples.append(_Sample(now_ms))
        return self._samples[self._current]

    def _advance(self, now_ms: int) -> _Sample:
        # One extra sample overlaps the monitored window (Kafka's SampledStat.advance).
        self._current = (self._current + 1) % (self.config.samples + 1)
        if self._current >= len(self._samples):
            sample = _Sample(now_ms)
            self._samples.append(sample)
            return sample
        sample = self._samples[self._current]
        sample.reset(now_ms)
        return sample

    def _oldest(self, now_ms: int) -> _Sample:
        if not self._samples:
            self._samples.append(_Sample(now_ms))
        return min(self._samples, key=lambda s: s.start_ms)

    def _purge(self, now_ms: int) -> None:
        expire_ms = self.config.samples * self.config.window_ms
        for sample in self._samples:
            if now_ms - sample.last_event_ms >= expire_ms:
                sample.reset(now_ms)


def throttle_time_ms(value: float, bound: float, window_ms: int) -> int:
    """How long a client over ``bound`` waits for its rate to come back to it: the excess as
    a share of the bound, times the window the rate was measured over (rounded as Java's
    Math.round)."""
    return int(math.floor((value - bound) / bound * window_ms + 0.5))


def record_and_throttle(rate: SampledRate, bound: float, value: float, now_ms: int) -> int:
    """Record ``value`` and, when the rate is then over ``bound``, the throttle time (ms) Kafka
    gives (a sensor's record with its quota checked); 0 when within it."""
    rate.record(value, now_ms)
    measured = rate.measure(now_ms)
    window_ms = rate.window_ms(now_ms)
    if measured <= bound:
        return 0
    return throttle_time_ms(measured, bound, window_ms)


class TokenBucket:
    """Kafka's ``TokenBucket`` (KIP-599, controller mutations): starts full with ``samples *
    window`` seconds of the quota, refills at the quota per second, and may go negative; a
    negative level is a violation, whose throttle time is what refills it to zero."""

    __slots__ = ("config", "last_update_ms", "tokens")

    def __init__(self, config: RateConfig) -> None:
        self.config = config
        self.tokens = 0.0
        # None: never used. Kafka starts at time 0 of the epoch, so its first refill fills the
        # bucket; so does ours, whatever the clock reads.
        self.last_update_ms: int | None = None

    def measure(self, bound: float, now_ms: int) -> float:
        self._refill(bound, now_ms)
        return self.tokens

    def record(self, bound: float, value: float, now_ms: int) -> None:
        self._refill(bound, now_ms)
        self.tokens = min(self._burst(bound), self.tokens - value)

    def _burst(self, bound: float) -> float:
        return self.config.samples * self.config.window_ms / MS_PER_S * bound

    def _refill(self, bound: float, now_ms: int) -> None:
        if self.last_update_ms is None:
            self.tokens = self._burst(bound)
        else:
            elapsed_s = (now_ms - self.last_update_ms) / MS_PER_S
            self.tokens = min(self._burst(bound), self.tokens + bound * elapsed_s)
        self.last_update_ms = now_ms


def token_throttle_ms(tokens: float, bound: float) -> int:
    """Kafka's ``ControllerMutationQuotaManager.throttleTimeMs``: the time to refill to zero."""
    return int(math.floor(-tokens / bound * MS_PER_S + 0.5))
