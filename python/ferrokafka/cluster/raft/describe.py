"""What the quorum's leader says of the quorum (DescribeQuorum, Kafka's
``KafkaRaftClient.handleDescribeQuorumRequest`` over ``LeaderState``): leader, epoch, high
watermark, and for every voter and observer its log end offset, the time of its last fetch
and the last time it was caught up with the leader.

Sans-io: the leader state's times are the replica's clock (the driver's monotonic
milliseconds); the caller says how far the wall clock is ahead of it (``wall_offset_ms``), and
the description is in wall-clock milliseconds, as Kafka's leader reports its clock's
``milliseconds()``.
As in Kafka's ``RaftUtil.toReplicaState``: the leader's own fetch and caught-up times are
now; an unknown end offset is -1; an unknown time stays -1. Observers that have not fetched
for ``OBSERVER_SESSION_TIMEOUT_MS`` are forgotten first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ferrokafka.cluster.raft.leader import LeaderState, ReplicaProgress

NO_DIRECTORY_ID = uuid.UUID(int=0)  # Kafka's ReplicaKey.NO_DIRECTORY_ID
UNKNOWN = -1


@dataclass(frozen=True)
class ReplicaDescription:
    replica_id: int
    directory_id: uuid.UUID
    log_end_offset: int
    last_fetch_timestamp_ms: int
    last_caught_up_timestamp_ms: int


@dataclass(frozen=True)
class QuorumDescription:
    leader_id: int
    leader_epoch: int
    high_watermark: int
    voters: tuple[ReplicaDescription, ...]
    observers: tuple[ReplicaDescription, ...]


def describe_quorum(state: LeaderState, now_ms: int, wall_offset_ms: int) -> QuorumDescription:
    """The leader's view now. Voters are described without a directory id (a static voter's
    key has none; the driver fills in what a dynamic voter set lists, KIP-853); an observer's
    is the one it fetched with.
    """
    state.expire_observers(now_ms)

    def wall(ms: int) -> int:
        return UNKNOWN if ms < 0 else ms + wall_offset_ms

    def describe(replica_id: int, progress: ReplicaProgress, voter: bool) -> ReplicaDescription:
        if replica_id == state.local_id:
            fetched = caught_up = now_ms + wall_offset_ms
        else:
            fetched, caught_up = wall(progress.last_fetch_ms), wall(progress.last_caught_up_ms)
        directory = None if voter else progress.directory_id
        return ReplicaDescription(
            replica_id=replica_id,
            directory_id=directory or NO_DIRECTORY_ID,
            log_end_offset=UNKNOWN if progress.end_offset is None else progress.end_offset,
            last_fetch_timestamp_ms=fetched,
            last_caught_up_timestamp_ms=caught_up,
        )

    return QuorumDescription(
        leader_id=state.local_id,
        leader_epoch=state.epoch,
        high_watermark=UNKNOWN if state.high_watermark is None else state.high_watermark,
        voters=tuple(describe(v, p, True) for v, p in sorted(state.voter_states.items())),
        observers=tuple(describe(o, p, False) for o, p in sorted(state.observer_states.items())),
    )
