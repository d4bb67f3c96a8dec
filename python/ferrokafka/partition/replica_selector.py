"""Fetch from the closest replica (KIP-392): which replica a consumer should read from.

A leader answers a consumer's Fetch (v11+, with the consumer's ``client.rack`` as ``rack_id``)
with a *preferred read replica* when ``replica.selector.class`` names a selector and the selector
picks a follower; the consumer then fetches from that follower, which serves up to its own high
watermark. Kafka's two selectors:

- ``LeaderSelector``: always the leader (the same as no selector).
- ``RackAwareReplicaSelector``: with a client rack, the leader if it is in that rack, else the
  most caught-up replica in that rack (highest log end, then the most recently caught up, then
  the highest id, as Kafka's ``ReplicaView.comparator``); without a rack match, the leader.

Candidates are the leader and the followers in the ISR whose log covers the fetch offset (Kafka
excludes out-of-sync followers so a consumer is never sent to a lagging replica). Sans-io: the
caller gives the partition's state, the racks and the time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ferrokafka.config.broker_keys import LEADER_SELECTOR
from ferrokafka.partition.isr import FollowerProgress

NO_PREFERRED_REPLICA = -1


@dataclass(frozen=True, slots=True)
class ReplicaView:
    broker_id: int
    log_end_offset: int
    since_caught_up_ms: float


def _rank(view: ReplicaView) -> tuple[int, float, int]:
    # Highest log end, then the smallest time since caught up, then the highest id.
    return (view.log_end_offset, -view.since_caught_up_ms, view.broker_id)


def rack_aware(
    client_rack: str,
    leader: ReplicaView,
    candidates: list[ReplicaView],
    rack_of: Mapping[int, str | None],
) -> int:
    """Kafka's RackAwareReplicaSelector over ``candidates`` (the leader among them)."""
    if not client_rack:
        return leader.broker_id
    same_rack = [v for v in candidates if rack_of.get(v.broker_id) == client_rack]
    if not same_rack or any(v.broker_id == leader.broker_id for v in same_rack):
        return leader.broker_id
    return max(same_rack, key=_rank).broker_id


def preferred_read_replica(
    selector: str | None,
    *,
    client_rack: str,
    leader_id: int,
    leader_end_offset: int,
    isr: tuple[int, ...],
    followers: Mapping[int, FollowerProgress],
    fetch_offset: int,
    now_ms: float,
    rack_of: Mapping[int, str | None],
    is_live: Callable[[int], bool] = lambda _broker: True,
) -> int:
    """The follower a consumer should fetch from, or -1 for the leader itself (Kafka's
    ``ReplicaManager.findPreferredReadReplica``)."""
    if selector is None or selector == LEADER_SELECTOR:
        return NO_PREFERRED_REPLICA
    leader = ReplicaView(leader_id, leader_end_offset, 0.0)
    candidates = [leader]
    for broker_id, progress in followers.items():
        if (
            broker_id in isr
            and is_live(broker_id)
            and progress.log_end_offset >= fetch_offset
            and progress.log_start_offset <= fetch_offset
        ):
            since = max(0.0, now_ms - progress.last_caught_up_ms)
            candidates.append(ReplicaView(broker_id, progress.log_end_offset, since))
    chosen = rack_aware(client_rack, leader, candidates, rack_of)
    return NO_PREFERRED_REPLICA if chosen == leader_id else chosen
