"""The states a replica can be in within one epoch, other than Leader (``leader.py``): Kafka's
``EpochState`` implementations ``UnattachedState``, ``ProspectiveState`` (KIP-996 pre-vote),
``CandidateState``, ``FollowerState`` and ``ResignedState``.

Each state knows its epoch, what it would persist (:meth:`EpochState.election`), its timer (an
absolute deadline in ms: the state machine owns no clock) and whether it may grant a vote.
The vote rules are Kafka's, state by state:

- Unattached / Prospective: a pre-vote is granted if the requester's log is at least as up to
  date; a real vote also needs no vote for someone else and no known leader in the epoch.
- Candidate / Resigned: only pre-votes (with an up-to-date log); they voted for themselves
  (or led) in this epoch.
- Follower: only a pre-vote, and only if it has not fetched successfully from its leader since
  it started following (KIP-996: a voter that hears from a leader does not help unseat it).
- Leader: never.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ferrokafka.cluster.raft.election import ElectionState, EpochElection
from ferrokafka.cluster.raft.log import OffsetAndEpoch

NEVER = float("inf")


class EpochState(ABC):
    """Common face of the states."""

    name = "?"
    epoch: int
    voters: frozenset[int]
    high_watermark: int | None = None
    leader_id: int | None = None
    voted_id: int | None = None

    def election(self) -> ElectionState:
        return ElectionState(self.epoch, self.leader_id, self.voted_id, self.voters)

    @abstractmethod
    def can_grant_vote(self, candidate_id: int, log_up_to_date: bool, pre_vote: bool) -> bool:
        """Whether this state grants ``candidate_id`` a (pre-)vote (Kafka's canGrantVote)."""

    def __repr__(self) -> str:
        return f"{self.name}(epoch={self.epoch}, leader={self.leader_id}, voted={self.voted_id})"


def unattached_or_prospective_can_grant_vote(
    leader_id: int | None,
    voted_id: int | None,
    candidate_id: int,
    log_up_to_date: bool,
    pre_vote: bool,
) -> bool:
    """Kafka's ``QuorumState.unattachedOrProspectiveCanGrantVote``."""
    if pre_vote:
        return log_up_to_date
    if voted_id is not None:
        return voted_id == candidate_id
    if leader_id is not None:
        return False
    return log_up_to_date


class UnattachedState(EpochState):
    """An epoch is known but no leader yet (or the leader was lost); may have voted."""

    name = "Unattached"

    def __init__(
        self,
        epoch: int,
        voters: frozenset[int],
        election_deadline_ms: float,
        *,
        leader_id: int | None = None,
        voted_id: int | None = None,
        high_watermark: int | None = None,
    ) -> None:
        self.epoch = epoch
        self.voters = voters
        self.leader_id = leader_id
        self.voted_id = voted_id
        self.high_watermark = high_watermark
        self.election_deadline_ms = election_deadline_ms

    def can_grant_vote(self, candidate_id: int, log_up_to_date: bool, pre_vote: bool) -> bool:
        return unattached_or_prospective_can_grant_vote(
            self.leader_id, self.voted_id, candidate_id, log_up_to_date, pre_vote
        )


class ProspectiveState(EpochState):
    """KIP-996: asking for pre-votes in the current epoch before bumping it. Remembers the
    leader (and vote) of the epoch, to return to them if the pre-vote fails."""

    name = "Prospective"

    def __init__(
        self,
        local_id: int,
        epoch: int,
        voters: frozenset[int],
        election_deadline_ms: float,
        *,
        leader_id: int | None = None,
        voted_id: int | None = None,
        high_watermark: int | None = None,
    ) -> None:
        self.local_id = local_id
        self.epoch = epoch
        self.voters = voters
        self.leader_id = leader_id
        self.voted_id = voted_id
        self.high_watermark = high_watermark
        self.election_deadline_ms = election_deadline_ms
        self.votes = EpochElection(voters)
        self.votes.record_vote(local_id, True)

    def can_grant_vote(self, candidate_id: int, log_up_to_date: bool, pre_vote: bool) -> bool:
        return unattached_or_prospective_can_grant_vote(
            self.leader_id, self.voted_id, candidate_id, log_up_to_date, pre_vote
        )


class CandidateState(EpochState):
    """Voted for itself in a new epoch; asking the voters for theirs."""

    name = "Candidate"

    def __init__(
        self,
        local_id: int,
        epoch: int,
        voters: frozenset[int],
        election_deadline_ms: float,
        *,
        high_watermark: int | None = None,
    ) -> None:
        self.local_id = local_id
        self.epoch = epoch
        self.voters = voters
        self.voted_id = local_id
        self.high_watermark = high_watermark
        self.election_deadline_ms = election_deadline_ms
        self.votes = EpochElection(voters)
        self.votes.record_vote(local_id, True)

    def can_grant_vote(self, candidate_id: int, log_up_to_date: bool, pre_vote: bool) -> bool:
        # Its own vote is implicit, never "granted" to itself in a request.
        return pre_vote and log_up_to_date


class SnapshotDownload:
    """A snapshot being fetched from the leader chunk by chunk (Kafka's ``fetchingSnapshot``,
    a RawSnapshotWriter): its id, the bytes so far and the size the leader said."""

    __slots__ = ("snapshot_id", "data", "size")

    def __init__(self, snapshot_id: OffsetAndEpoch) -> None:
        self.snapshot_id = snapshot_id
        self.data = bytearray()
        self.size: int | None = None

    def __repr__(self) -> str:
        return f"SnapshotDownload({self.snapshot_id}, {len(self.data)}/{self.size})"


class FollowerState(EpochState):
    """Knows the leader of the epoch and fetches from it; becomes Prospective if no fetch
    succeeds within the fetch timeout."""

    name = "Follower"

    def __init__(
        self,
        epoch: int,
        leader_id: int,
        voters: frozenset[int],
        fetch_timeout_ms: int,
        now_ms: int,
        *,
        voted_id: int | None = None,
        high_watermark: int | None = None,
    ) -> None:
        self.epoch = epoch
        self.leader_id = leader_id
        self.voters = voters
        self.voted_id = voted_id
        self.high_watermark = high_watermark
        self.fetch_timeout_ms = fetch_timeout_ms
        self.fetch_deadline_ms = now_ms + fetch_timeout_ms
        self.has_fetched_from_leader = False
        self.fetching_snapshot: SnapshotDownload | None = None
        # kraft.version 0: this voter told the leader its directory id and endpoints
        # (UpdateRaftVoter), once per leadership (Kafka's FollowerState.hasUpdatedLeader).
        self.has_updated_leader = False

    def can_grant_vote(self, candidate_id: int, log_up_to_date: bool, pre_vote: bool) -> bool:
        return pre_vote and not self.has_fetched_from_leader and log_up_to_date

    def reset_fetch_timeout_for_successful_fetch(self, now_ms: int) -> None:
        self.fetch_deadline_ms = now_ms + self.fetch_timeout_ms
        self.has_fetched_from_leader = True

    def override_fetch_timeout(self, now_ms: int, timeout_ms: int) -> None:
        self.fetch_deadline_ms = now_ms + timeout_ms

    def update_high_watermark(self, high_watermark: int) -> bool:
        """Take a new high watermark; True if it moved. It never goes back (Kafka raises)."""
        if self.high_watermark is not None:
            if high_watermark < self.high_watermark:
                raise AssertionError(
                    f"non-monotonic high watermark {self.high_watermark} -> {high_watermark}"
                )
            if high_watermark == self.high_watermark:
                return False
        self.high_watermark = high_watermark
        return True


class ResignedState(EpochState):
    """A leader that gave up its epoch (shutdown, resign(), or check-quorum): tells the voters
    with EndQuorumEpoch and waits for an election. It still "is" the leader of the epoch in
    the persisted state, so it never votes for someone else in it."""

    name = "Resigned"

    def __init__(
        self,
        local_id: int,
        epoch: int,
        voters: frozenset[int],
        election_deadline_ms: float,
        preferred_successors: tuple[int, ...],
    ) -> None:
        self.local_id = local_id
        self.epoch = epoch
        self.voters = voters
        self.leader_id = local_id
        self.voted_id = local_id  # it voted for itself as the candidate of this epoch
        self.election_deadline_ms = election_deadline_ms
        self.preferred_successors = preferred_successors
        self.unacked_voters = set(voters - {local_id})

    def can_grant_vote(self, candidate_id: int, log_up_to_date: bool, pre_vote: bool) -> bool:
        return pre_vote and log_up_to_date

    def election(self) -> ElectionState:
        return ElectionState(self.epoch, self.local_id, self.local_id, self.voters)
