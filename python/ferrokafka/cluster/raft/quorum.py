"""The quorum's configuration and the transitions between epoch states: Kafka's
``QuorumConfig`` and ``QuorumState``.

Every transition Kafka makes durable (``durableTransitionTo``: the epoch, leader or vote
changed) leaves the new :class:`ElectionState` in :attr:`QuorumState.pending_election`, which
the replica turns into a ``PersistElection`` effect ahead of its sends. Prospective and
Resigned change nothing on disk (same epoch, same leader or vote), as in Kafka.

The transitions (Kafka 4.x, with KIP-996)::

    Unattached  -> Unattached (higher epoch, or a vote), Prospective (election timeout),
                   Follower (a leader of this or a higher epoch)
    Prospective -> Candidate (majority of pre-votes), Follower / Unattached (pre-vote lost or
                   timed out: back to the leader it knew, if any), higher epochs as above
    Candidate   -> Leader (majority), Prospective (lost or timed out), higher epochs
    Leader      -> Resigned (shutdown, resign, check-quorum), higher epochs
    Follower    -> Prospective (fetch timeout), higher epochs
    Resigned    -> Unattached in the next epoch (election timeout), higher epochs

Observers (not in the voter set) only move between Unattached and Follower.

On start (Kafka's ``initialize``): a node that was leader comes back Resigned in the same epoch
(so it cannot vote for another leader of that epoch, nor reuse offsets it may have lost), one
that knew a leader comes back Follower (with its vote), a candidate that knew none comes back
Candidate; if the log holds a larger epoch than the quorum-state file, the log wins (Unattached
there). Kafka checks "voted for itself" before "knows a leader"; see ``initialize``.

The voter set is the latest in the replica's :class:`VoterSetHistory` (``voters.py``): static
``controller.quorum.voters``, or with KIP-853 the log's VotersRecords; each state keeps the ids
it was made with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from random import Random

from ferrokafka.cluster.raft.election import ElectionState
from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.log import OffsetAndEpoch
from ferrokafka.cluster.raft.state import (
    NEVER,
    CandidateState,
    EpochState,
    FollowerState,
    ProspectiveState,
    ResignedState,
    UnattachedState,
)
from ferrokafka.cluster.raft.voters import VoterSetHistory


@dataclass(frozen=True, slots=True)
class QuorumConfig:
    """Kafka's ``controller.quorum.*`` settings (defaults as Kafka's)."""

    election_timeout_ms: int = 1000  # controller.quorum.election.timeout.ms
    fetch_timeout_ms: int = 2000  # controller.quorum.fetch.timeout.ms
    election_backoff_max_ms: int = 1000  # controller.quorum.election.backoff.max.ms
    request_timeout_ms: int = 2000  # controller.quorum.request.timeout.ms
    retry_backoff_ms: int = 20  # controller.quorum.retry.backoff.ms
    fetch_max_wait_ms: int = 500  # KafkaRaftManager's FETCH_MAX_WAIT_MS
    fetch_max_bytes: int = 8 * 1024 * 1024  # KafkaRaftClient's MAX_FETCH_SIZE_BYTES
    # FetchSnapshot's max_bytes (Kafka asks MAX_FETCH_SIZE_BYTES too); a leader also caps the
    # chunks it serves at this.
    fetch_snapshot_max_bytes: int = 8 * 1024 * 1024


class InvalidTransition(AssertionError):
    """A transition Kafka's QuorumState refuses: a bug in the caller, never input."""


class QuorumState:
    def __init__(
        self,
        local_id: int | None,
        voters: VoterSetHistory,
        config: QuorumConfig,
        random: Random,
        local_directory_id: uuid.UUID | None = None,
    ) -> None:
        self.local_id = local_id
        self.local_directory_id = local_directory_id
        self.history = voters
        self.config = config
        self.random = random
        self.state: EpochState = UnattachedState(0, self.voters, NEVER)
        self.pending_election: ElectionState | None = None

    @property
    def voters(self) -> frozenset[int]:
        """The ids of the latest voter set in the log (Kafka's ``lastVoterSet``): a state made
        now counts these, as Kafka's QuorumState does at each transition."""
        return self.history.last_voters().ids

    # --- queries ---------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self.state.epoch

    @property
    def leader_id(self) -> int | None:
        return self.state.leader_id

    @property
    def high_watermark(self) -> int | None:
        return self.state.high_watermark

    @property
    def is_voter(self) -> bool:
        """Kafka's ``isVoter``: the id, and the metadata directory when the set names one."""
        return self.history.last_voters().is_voter(self.local_id, self.local_directory_id)

    @property
    def is_only_voter(self) -> bool:
        return self.is_voter and len(self.voters) == 1

    def random_election_timeout_ms(self) -> int:
        """Kafka's: uniform in [timeout, 2 x timeout), so voters rarely time out together."""
        timeout = self.config.election_timeout_ms
        return timeout + self.random.randrange(timeout) if timeout else 0

    def _election_deadline(self, now_ms: int) -> float:
        return now_ms + self.random_election_timeout_ms() if self.is_voter else NEVER

    # --- start -----------------------------------------------------------------------------

    def initialize(
        self, stored: ElectionState | None, log_end: OffsetAndEpoch, now_ms: int
    ) -> None:
        election = stored or ElectionState(0, voters=self.voters)
        if election.voted_id is not None and self.local_id is None:
            raise InvalidTransition(f"{election} has a vote but this replica has no id")
        deadline = self._election_deadline(now_ms)
        local = self.local_id
        state: EpochState
        if election.epoch < log_end.epoch:
            state = UnattachedState(log_end.epoch, self.voters, deadline)
        elif local is not None and election.is_leader(local):
            # Its own timer even when no longer a voter (KIP-853: a leader that removed itself):
            # Resigned ends in an election timeout, then Unattached (an observer) fetches.
            resign_deadline = now_ms + self.random_election_timeout_ms()
            state = ResignedState(local, election.epoch, self.voters, resign_deadline, ())
        elif (
            local is not None
            and self.is_voter
            and election.is_voted_candidate(local)
            and election.leader_id is None
        ):
            state = CandidateState(local, election.epoch, self.voters, deadline)
        elif election.leader_id is not None:
            # Before the voted-candidate case, unlike Kafka: a candidate that lost to another
            # leader of its epoch keeps its own vote on disk as it follows; Kafka restarts it
            # as a Candidate of an epoch whose records its log may already hold, and the Vote
            # requests it then sends are invalid (INVALID_REQUEST, which Kafka's response
            # handling raises on). Following the known leader is what it was doing.
            state = FollowerState(
                election.epoch,
                election.leader_id,
                self.voters,
                self.config.fetch_timeout_ms,
                now_ms,
                voted_id=election.voted_id,
            )
        else:
            state = UnattachedState(
                election.epoch, self.voters, deadline, voted_id=election.voted_id
            )
        self._durable(state)

    # --- transitions -----------------------------------------------------------------------

    def transition_to_resigned(self, preferred_successors: tuple[int, ...], now_ms: int) -> None:
        if not isinstance(self.state, LeaderState):
            raise InvalidTransition(f"resign from {self.state}")
        assert self.local_id is not None
        self.state = ResignedState(
            self.local_id,
            self.epoch,
            self.voters,
            now_ms + self.random_election_timeout_ms(),
            preferred_successors,
        )

    def transition_to_unattached(
        self, epoch: int, now_ms: int, leader_id: int | None = None
    ) -> None:
        """A higher epoch with no known leader, or back from a lost pre-vote (same epoch)."""
        current = self.state
        if epoch < current.epoch or (
            epoch == current.epoch and not isinstance(current, ProspectiveState)
        ):
            raise InvalidTransition(f"unattached in epoch {epoch} from {current}")
        deadline: float
        if not self.is_voter:
            deadline = NEVER
        elif isinstance(current, (CandidateState, UnattachedState, ResignedState)) or (
            isinstance(current, ProspectiveState) and not current.votes.is_vote_rejected
        ):
            # Keep the running timer: learning of a new epoch is no reason to wait longer.
            deadline = current.election_deadline_ms
        else:
            deadline = now_ms + self.random_election_timeout_ms()
        # Same epoch (from Prospective): keep the vote, so it is never cast twice.
        voted = current.voted_id if epoch == current.epoch else None
        self._durable(
            UnattachedState(
                epoch,
                self.voters,
                deadline,
                leader_id=leader_id,
                voted_id=voted,
                high_watermark=current.high_watermark,
            )
        )

    def unattached_add_voted_state(self, epoch: int, candidate_id: int, now_ms: int) -> None:
        current = self.state
        if candidate_id == self.local_id:
            raise InvalidTransition("vote for itself as unattached")
        if not (isinstance(current, UnattachedState) and current.voted_id is None):
            raise InvalidTransition(f"add a vote to {current}")
        if epoch != current.epoch:
            raise InvalidTransition(f"vote in epoch {epoch} from {current}")
        self._durable(
            UnattachedState(
                epoch,
                self.voters,
                now_ms + self.random_election_timeout_ms(),
                leader_id=current.leader_id,
                voted_id=candidate_id,
                high_watermark=current.high_watermark,
            )
        )

    def prospective_add_voted_state(self, epoch: int, candidate_id: int, now_ms: int) -> None:
        current = self.state
        if not (isinstance(current, ProspectiveState) and current.voted_id is None):
            raise InvalidTransition(f"add a vote to {current}")
        if epoch != current.epoch or candidate_id == self.local_id:
            raise InvalidTransition(f"vote for {candidate_id} in epoch {epoch} from {current}")
        self._durable(
            ProspectiveState(
                current.local_id,
                epoch,
                self.voters,
                now_ms + self.random_election_timeout_ms(),
                leader_id=current.leader_id,
                voted_id=candidate_id,
                high_watermark=current.high_watermark,
            )
        )

    def transition_to_follower(self, epoch: int, leader_id: int, now_ms: int) -> None:
        current = self.state
        if leader_id == self.local_id:
            raise InvalidTransition(f"follow itself in epoch {epoch}")
        if epoch < current.epoch or (
            epoch == current.epoch and isinstance(current, (FollowerState, LeaderState))
        ):
            raise InvalidTransition(f"follow {leader_id} in epoch {epoch} from {current}")
        self._durable(
            FollowerState(
                epoch,
                leader_id,
                self.voters,
                self.config.fetch_timeout_ms,
                now_ms,
                voted_id=current.voted_id if epoch == current.epoch else None,
                high_watermark=current.high_watermark,
            )
        )

    def transition_to_prospective(self, now_ms: int) -> None:
        current = self.state
        if not self.is_voter or isinstance(current, (LeaderState, ProspectiveState)):
            raise InvalidTransition(f"prospective from {current} (voter={self.is_voter})")
        assert self.local_id is not None
        # Nothing to persist: same epoch, same leader and vote.
        self.state = ProspectiveState(
            self.local_id,
            current.epoch,
            self.voters,
            now_ms + self.random_election_timeout_ms(),
            leader_id=current.leader_id,
            voted_id=current.voted_id,
            high_watermark=current.high_watermark,
        )

    def transition_to_candidate(self, now_ms: int) -> None:
        current = self.state
        if not self.is_voter or not isinstance(current, ProspectiveState):
            raise InvalidTransition(f"candidate from {current}")
        self._durable(
            CandidateState(
                current.local_id,
                current.epoch + 1,
                self.voters,
                now_ms + self.random_election_timeout_ms(),
                high_watermark=current.high_watermark,
            )
        )

    def transition_to_leader(self, epoch_start_offset: int, now_ms: int) -> LeaderState:
        current = self.state
        if not isinstance(current, CandidateState) or not current.votes.is_vote_granted:
            raise InvalidTransition(f"leader from {current}")
        # The high watermark is not carried over: a new leader learns it only by committing a
        # record of its own epoch, which keeps the cluster's high watermark monotonic.
        leader = LeaderState(
            current.local_id,
            current.epoch,
            epoch_start_offset,
            self.voters,
            current.votes.granting_voters,
            self.config.fetch_timeout_ms,
            now_ms,
        )
        self._durable(leader)
        return leader

    def _durable(self, state: EpochState) -> None:
        self.pending_election = state.election()
        self.state = state
