"""The Leader state: Kafka's ``LeaderState`` — where replicas are, the high watermark, and
the leader's own liveness check.

High watermark (Kafka's ``maybeUpdateHighWatermark``): the largest offset a majority of the
voters have reached (the leader's own log end counts for it; a follower's Fetch offset says it
has, durably, everything before it), but only once that offset is past the start of the
leader's epoch. The leader wrote a LeaderChange record at that start offset, so the first
high watermark of an epoch commits a record of the epoch itself. That is the Raft rule "a
leader commits entries of earlier terms only by committing one of its own": counting replicas
of an older entry is not enough, because a later leader that never saw it could still be
elected and overwrite it (the Raft paper's figure 8). Within the epoch it never goes back.

Check-quorum (Kafka's ``timeUntilCheckQuorumExpires``): a leader that has not received a
Fetch from a majority of the voters (itself included) within 1.5 x the fetch timeout resigns,
so a partitioned leader stops answering as leader instead of waiting to be told.

BeginQuorumEpoch: sent to every other voter when the epoch starts and again every half fetch
timeout, so voters that missed the election learn the leader without waiting for timeouts.
"""

from __future__ import annotations

import uuid

from ferrokafka.cluster.raft.election import ElectionState
from ferrokafka.cluster.raft.state import NEVER, EpochState

CHECK_QUORUM_TIMEOUT_FACTOR = 1.5
OBSERVER_SESSION_TIMEOUT_MS = 300_000  # forget an observer that has not fetched for this long
CAUGHT_UP_WINDOW_MS = 3_600_000  # Kafka's isReplicaCaughtUp: fetched within the last hour


class ReplicaProgress:
    """What the leader knows of one replica (Kafka's ``LeaderState.ReplicaState``).

    ``last_caught_up_ms``: the latest time the replica is known to have had everything the
    leader had: the time of a fetch at or past the leader's log end then, or the time of the
    previous fetch when this one reached the leader's end as of that previous fetch. Times are
    the replica's clock (the driver's monotonic milliseconds); -1 while unknown.
    """

    __slots__ = (
        "end_offset",
        "last_fetch_ms",
        "last_caught_up_ms",
        "last_fetch_leader_end_offset",
        "directory_id",
        "acknowledged",
    )

    def __init__(self, acknowledged: bool = False) -> None:
        self.end_offset: int | None = None
        self.last_fetch_ms = -1
        self.last_caught_up_ms = -1
        self.last_fetch_leader_end_offset = -1
        self.directory_id: uuid.UUID | None = None  # as its last Fetch gave it
        self.acknowledged = acknowledged

    def update_follower_state(
        self, now_ms: int, fetch_offset: int, leader_end_offset: int | None
    ) -> None:
        """A fetch at ``fetch_offset`` (Kafka's ``updateFollowerState``): the caught-up time
        is judged before the fetch time moves, so a fetch that reached the leader's end as of
        the previous fetch dates the catch-up to that previous fetch."""
        if leader_end_offset is not None:
            if fetch_offset >= leader_end_offset:
                self.last_caught_up_ms = max(self.last_caught_up_ms, now_ms)
            elif 0 < self.last_fetch_leader_end_offset <= fetch_offset:
                self.last_caught_up_ms = max(self.last_caught_up_ms, self.last_fetch_ms)
            self.last_fetch_leader_end_offset = leader_end_offset
        self.last_fetch_ms = max(self.last_fetch_ms, now_ms)
        self.end_offset = fetch_offset
        self.acknowledged = True

    def __repr__(self) -> str:
        return (
            f"ReplicaProgress(end={self.end_offset}, last_fetch={self.last_fetch_ms}, "
            f"caught_up={self.last_caught_up_ms})"
        )


class LeaderState(EpochState):
    name = "Leader"

    def __init__(
        self,
        local_id: int,
        epoch: int,
        epoch_start_offset: int,
        voters: frozenset[int],
        granting_voters: frozenset[int],
        fetch_timeout_ms: int,
        now_ms: int,
    ) -> None:
        self.local_id = local_id
        self.epoch = epoch
        self.epoch_start_offset = epoch_start_offset
        self.voters = voters
        self.leader_id = local_id
        self.voted_id = local_id
        self.granting_voters = granting_voters
        self.high_watermark: int | None = None
        self.voter_states = {v: ReplicaProgress(acknowledged=v == local_id) for v in voters}
        self.observer_states: dict[int, ReplicaProgress] = {}
        self.check_quorum_timeout_ms = int(fetch_timeout_ms * CHECK_QUORUM_TIMEOUT_FACTOR)
        self.check_quorum_deadline_ms = now_ms + self.check_quorum_timeout_ms
        self._fetched_voters: set[int] = set()
        self.begin_quorum_epoch_timeout_ms = fetch_timeout_ms // 2
        self.begin_quorum_epoch_deadline_ms = now_ms  # send at once
        self.resign_requested = False
        # The voter change in progress (KIP-853, ``voter_changes.py``): one at a time.
        self.voter_change: object | None = None

    def election(self) -> ElectionState:
        return ElectionState(self.epoch, self.local_id, self.local_id, self.voters)

    def can_grant_vote(self, candidate_id: int, log_up_to_date: bool, pre_vote: bool) -> bool:
        return False

    # --- check-quorum ----------------------------------------------------------------------

    def check_quorum_deadline(self) -> float:
        # A single voter can never lose its quorum.
        return NEVER if len(self.voters) == 1 else self.check_quorum_deadline_ms

    def update_check_quorum(self, replica_id: int, now_ms: int) -> None:
        """A replica is following (a snapshot fetch, which moves no offset): Kafka's
        ``updateCheckQuorumForFollowingVoter``."""
        self._update_check_quorum(replica_id, now_ms)

    def _update_check_quorum(self, replica_id: int, now_ms: int) -> None:
        if replica_id not in self.voter_states:
            return
        self._fetched_voters.add(replica_id)
        majority = len(self.voter_states) // 2 + 1
        if self.local_id in self.voter_states:
            majority -= 1  # the leader counts itself without fetching
        if len(self._fetched_voters) >= majority:
            self._fetched_voters.clear()
            self.check_quorum_deadline_ms = now_ms + self.check_quorum_timeout_ms

    # --- replication progress --------------------------------------------------------------

    def update_local_state(self, end_offset: int) -> bool:
        """The leader's log end moved; True if the high watermark moved."""
        state = self.voter_states.get(self.local_id)
        if state is None:  # a leader outside the voter set (not before KIP-853)
            return False
        if state.end_offset is not None and end_offset < state.end_offset:
            raise AssertionError(f"leader end offset went back {state.end_offset} -> {end_offset}")
        state.end_offset = end_offset
        return self._maybe_update_high_watermark()

    def update_replica_state(
        self,
        replica_id: int,
        now_ms: int,
        fetch_offset: int,
        directory_id: uuid.UUID | None = None,
    ) -> bool:
        """A replica fetched at ``fetch_offset``; True if the high watermark moved."""
        if replica_id < 0:  # a consumer, not a replica
            return False
        if replica_id == self.local_id:
            raise AssertionError("the leader fetched from itself")
        state = self.voter_states.get(replica_id)
        if state is None:
            state = self.observer_states.setdefault(replica_id, ReplicaProgress())
        leader = self.voter_states.get(self.local_id)
        state.update_follower_state(
            now_ms, fetch_offset, None if leader is None else leader.end_offset
        )
        if directory_id is not None:
            state.directory_id = directory_id
        self._update_check_quorum(replica_id, now_ms)
        return replica_id in self.voter_states and self._maybe_update_high_watermark()

    def _maybe_update_high_watermark(self) -> bool:
        offsets = sorted(
            (-1 if s.end_offset is None else s.end_offset for s in self.voter_states.values()),
            reverse=True,
        )
        candidate = offsets[len(offsets) // 2]
        if candidate <= self.epoch_start_offset:
            # Not even this epoch's LeaderChange record is on a majority yet.
            return False
        if self.high_watermark is None or candidate > self.high_watermark:
            self.high_watermark = candidate
            return True
        # A smaller majority offset only happens if a voter lost committed data (or, with
        # dynamic voters, the set changed): the high watermark never goes back.
        return False

    def update_voter_set(self, voters: frozenset[int]) -> bool:
        """The latest voter set in the log changed (KIP-853; Kafka's
        ``updateVoterAndObserverStates``): progress moves between voters and observers, the
        high watermark is counted over the new set from now on. True if it moved."""
        if voters == frozenset(self.voter_states):
            return False
        old_voters, old_observers = self.voter_states, self.observer_states
        self.voter_states = {}
        for v in voters:
            progress = old_voters.get(v) or old_observers.get(v)
            self.voter_states[v] = progress or ReplicaProgress(acknowledged=v == self.local_id)
        self.observer_states = {
            r: p for r, p in {**old_observers, **old_voters}.items() if r not in voters
        }
        self.observer_states.pop(self.local_id, None)
        self.voters = voters
        self._fetched_voters &= voters
        return self._maybe_update_high_watermark()

    def is_replica_caught_up(
        self, replica_id: int, directory_id: uuid.UUID | None, now_ms: int
    ) -> bool:
        """Kafka's ``isReplicaCaughtUp`` for AddRaftVoter: an observer (with that directory)
        that has been caught up at some point and fetched within the last hour."""
        state = self.observer_states.get(replica_id)
        return (
            state is not None
            and state.directory_id == directory_id
            and state.last_caught_up_ms > 0
            and state.last_fetch_ms > 0
            and state.last_fetch_ms > now_ms - CAUGHT_UP_WINDOW_MS
        )

    def non_leader_voters_by_descending_fetch_offset(self) -> tuple[int, ...]:
        ranked = sorted(
            (v for v in self.voter_states if v != self.local_id),
            key=lambda v: (
                -(
                    -1
                    if self.voter_states[v].end_offset is None
                    else self.voter_states[v].end_offset
                ),
                v,
            ),
        )
        return tuple(ranked)

    def add_acknowledgement_from(self, voter_id: int) -> None:
        state = self.voter_states.get(voter_id)
        if state is None:
            # Removed from the voter set (KIP-853) after the BeginQuorumEpoch went out.
            return
        state.acknowledged = True

    def expire_observers(self, now_ms: int) -> None:
        for replica_id in [
            r
            for r, s in self.observer_states.items()
            if now_ms - s.last_fetch_ms >= OBSERVER_SESSION_TIMEOUT_MS
        ]:
            del self.observer_states[replica_id]

    def __repr__(self) -> str:
        return (
            f"Leader(epoch={self.epoch}, start={self.epoch_start_offset}, "
            f"hw={self.high_watermark}, voters={self.voter_states})"
        )
