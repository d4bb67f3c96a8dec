"""The leader's view of its followers and the ISR rules (sans-io; Kafka's ``Replica`` state and
``Partition.getOutOfSyncReplicas`` / ``isFollowerInSync``).

A follower's Fetch tells the leader its log end offset (the fetch offset) and log start
offset. It is *caught up* at the fetch time when it fetched from the leader's log end; when it
fetched at least as far as the leader's log end at its previous fetch, it was caught up at
that previous fetch's time (Kafka's ``lastCaughtUpTimeMs`` rule). A member of the ISR not
caught up for ``replica.lag.time.max.ms`` is out of sync and leaves the ISR; a follower
outside it rejoins once its log end reaches the high watermark and the start of the leader's
epoch, and its broker is eligible (unfenced, not shutting down, same broker epoch: KIP-903).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

UNKNOWN_OFFSET = -1
NO_BROKER_EPOCH = -1


@dataclass(slots=True)
class FollowerProgress:
    """What the leader learnt of one follower from its fetches in this leader epoch."""

    log_end_offset: int = UNKNOWN_OFFSET
    log_start_offset: int = UNKNOWN_OFFSET
    last_caught_up_ms: float = 0.0
    last_fetch_leader_end_offset: int = 0
    last_fetch_ms: float = 0.0
    broker_epoch: int = NO_BROKER_EPOCH

    def fetched(
        self,
        fetch_offset: int,
        log_start_offset: int,
        now_ms: float,
        leader_end_offset: int,
        broker_epoch: int,
    ) -> None:
        """A fetch at ``fetch_offset`` arrived at ``now_ms`` while the leader's log ended at
        ``leader_end_offset`` (Kafka's ``Replica.updateFetchStateOrThrow``)."""
        if fetch_offset >= leader_end_offset:
            self.last_caught_up_ms = max(self.last_caught_up_ms, now_ms)
        elif fetch_offset >= self.last_fetch_leader_end_offset:
            self.last_caught_up_ms = max(self.last_caught_up_ms, self.last_fetch_ms)
        self.log_end_offset = fetch_offset
        if log_start_offset >= 0:
            self.log_start_offset = log_start_offset
        self.last_fetch_leader_end_offset = leader_end_offset
        self.last_fetch_ms = now_ms
        self.broker_epoch = broker_epoch

    def is_caught_up(self, leader_end_offset: int, now_ms: float, lag_max_ms: float) -> bool:
        """Kafka's ``ReplicaState.isCaughtUp``: at the leader's log end, or caught up within
        the last ``lag_max_ms``."""
        return (
            self.log_end_offset == leader_end_offset
            or now_ms - self.last_caught_up_ms <= lag_max_ms
        )


def stale_broker_epoch(fetch_epoch: int, registered_epoch: int | None) -> bool:
    """Kafka fences a fetch whose broker epoch is older than the registration's (-1: not
    checked)."""
    return (
        fetch_epoch != NO_BROKER_EPOCH
        and registered_epoch is not None
        and registered_epoch > fetch_epoch
    )


def out_of_sync(
    isr: Iterable[int],
    leader_id: int,
    followers: Mapping[int, FollowerProgress],
    leader_end_offset: int,
    now_ms: float,
    lag_max_ms: float,
) -> list[int]:
    """The ISR members (not the leader) to remove (Kafka's ``getOutOfSyncReplicas``)."""
    gone = []
    for replica in isr:
        if replica == leader_id:
            continue
        progress = followers.get(replica)
        if progress is None or not progress.is_caught_up(leader_end_offset, now_ms, lag_max_ms):
            gone.append(replica)
    return gone


def may_join(
    progress: FollowerProgress | None,
    high_watermark: int,
    leader_epoch_start_offset: int,
) -> bool:
    """Whether a follower outside the ISR has caught up enough to join it (Kafka's
    ``isFollowerInSync``; broker eligibility is checked by the caller)."""
    if progress is None or progress.log_end_offset < 0:
        return False
    end = progress.log_end_offset
    return end >= high_watermark and end >= leader_epoch_start_offset


def shrunk(isr: tuple[int, ...], gone: Iterable[int]) -> tuple[int, ...]:
    removed = set(gone)
    return tuple(r for r in isr if r not in removed)


def expanded(isr: tuple[int, ...], replica: int) -> tuple[int, ...]:
    return isr if replica in isr else (*isr, replica)
