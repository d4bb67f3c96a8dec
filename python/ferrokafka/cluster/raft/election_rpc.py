"""The election RPCs of KafkaRaftClient: Vote (with KIP-996 pre-vote), BeginQuorumEpoch and
EndQuorumEpoch — building requests, answering them, and handling the answers.

A mixin of :class:`~ferrokafka.cluster.raft.replica.RaftReplica` (it uses the replica's
quorum, log and transitions); kept apart so each file reads whole.

Vote, as Kafka's ``handleVoteRequest``:

- the request must be sane: a candidate bumped its epoch, so its last log epoch is below it
  (a pre-vote does not bump, so its last epoch may equal it); else INVALID_REQUEST;
- an epoch below ours is FENCED_LEADER_EPOCH; an epoch above ours moves us to Unattached in
  it first (even for a pre-vote: that epoch exists);
- "up to date" compares (last epoch, end offset) of the two logs, epoch first;
- the current state decides (``state.py``); a granted real vote is persisted (Unattached or
  Prospective "add voted state") before the response leaves, through the effect order.
"""

from __future__ import annotations

import uuid

from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.messages import (
    NO_LEADER,
    ZERO_UUID,
    BeginQuorumEpochRequest,
    BeginQuorumEpochResponse,
    EndQuorumEpochRequest,
    EndQuorumEpochResponse,
    Inbound,
    VoteRequest,
    VoteResponse,
)
from ferrokafka.cluster.raft.state import (
    CandidateState,
    FollowerState,
    ProspectiveState,
    ResignedState,
    UnattachedState,
)
from ferrokafka.protocol.error_codes import (
    BROKER_NOT_AVAILABLE,
    FENCED_LEADER_EPOCH,
    INVALID_REQUEST,
    NONE,
    NOT_LEADER_OR_FOLLOWER,
    UNKNOWN_LEADER_EPOCH,
    UNSUPPORTED_VERSION,
)

INCONSISTENT_CLUSTER_ID = 104
INVALID_VOTER_KEY = 125


def optional_leader(leader_id: int) -> int | None:
    return None if leader_id < 0 else leader_id


class ElectionRpc:
    """Vote, BeginQuorumEpoch and EndQuorumEpoch for RaftReplica."""

    # --- helpers shared with fetch_rpc ---------------------------------------------------------

    def _valid_cluster_id(self, cluster_id: str | None) -> bool:
        # Kafka enforces the cluster id only when the request carries one.
        return cluster_id is None or cluster_id == self.cluster_id

    def _validate_voter_only_request(self, remote_id: int, epoch: int) -> int:
        if epoch < self.quorum.epoch:
            return FENCED_LEADER_EPOCH
        if remote_id < 0:
            return INVALID_REQUEST
        return NONE

    def _leader_or_nil(self) -> int:
        leader = self.quorum.leader_id
        return NO_LEADER if leader is None else leader

    def _maybe_handle_common_response(
        self, error: int, leader_id: int | None, epoch: int, now_ms: int
    ) -> bool | None:
        """Kafka's ``maybeHandleCommonResponse``: what every response says about epochs.
        None means "not handled here, go on"; a bool is the outcome (False backs off)."""
        quorum = self.quorum
        if epoch < quorum.epoch or error == UNKNOWN_LEADER_EPOCH:
            return True  # we are ahead: the answer no longer matters
        if epoch > quorum.epoch or error in (FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER):
            self._maybe_transition(leader_id, epoch, now_ms)
            return True
        if leader_id is not None and quorum.leader_id is None:
            # The leader of our own epoch, which we did not know yet: follow it, and let the
            # handler use the answer (an observer discovers the leader and appends at once).
            self._transition_to_follower(epoch, leader_id, now_ms)
            return None if error == NONE else True
        if error == BROKER_NOT_AVAILABLE:
            return False
        if error == INVALID_VOTER_KEY:
            return True
        if error == INVALID_REQUEST:
            raise AssertionError(f"node {self.node_id} sent an invalid request")
        return None

    def _maybe_transition(self, leader_id: int | None, epoch: int, now_ms: int) -> None:
        """Kafka's ``maybeTransition``: follow what a request or response says about the
        epoch and its leader, refusing anything inconsistent with what this node knows."""
        quorum = self.quorum
        if not self._has_consistent_leader(epoch, leader_id):
            raise AssertionError(
                f"node {self.node_id}: leader {leader_id} in epoch {epoch} contradicts "
                f"{quorum.state!r}"
            )
        if epoch > quorum.epoch:
            # Not only a voter: with KIP-853 the leader may be one this node has not yet
            # read into its voter set (an observer learns the voters from the leader's log).
            if leader_id is not None:
                self._transition_to_follower(epoch, leader_id, now_ms)
            else:
                self._transition_to_unattached(epoch, now_ms, leader_id)
        elif leader_id is not None and quorum.leader_id is None:
            self._transition_to_follower(epoch, leader_id, now_ms)

    def _has_consistent_leader(self, epoch: int, leader_id: int | None) -> bool:
        if leader_id is not None and leader_id == self.node_id:
            return self.is_leader
        return (
            epoch != self.quorum.epoch
            or leader_id is None
            or self.quorum.leader_id is None
            or leader_id == self.quorum.leader_id
        )

    # --- Vote ----------------------------------------------------------------------------------

    def _build_vote_request(self, destination: int) -> VoteRequest:
        return VoteRequest(
            cluster_id=self.cluster_id,
            voter_id=destination,
            replica_epoch=self.quorum.epoch,
            replica_id=self.node_id,
            last_offset_epoch=self.log.last_fetched_epoch(),
            last_offset=self.log.end_offset(),
            pre_vote=isinstance(self.quorum.state, ProspectiveState),
            voter_directory_id=self._voter_directory_id(destination),
        )

    def _is_valid_voter_key(self, voter_id: int, directory_id: uuid.UUID) -> bool:
        """Kafka's voter-key check: the request is meant for this node (and, when it names a
        directory, this node's metadata directory: a reformatted node is another voter)."""
        if voter_id >= 0 and voter_id != self.node_id:
            return False
        local = self.local_directory_id
        return directory_id == ZERO_UUID or local is None or directory_id == local

    def _voter_directory_id(self, voter_id: int) -> uuid.UUID:
        """The receiver's directory id as the voter set lists it (KIP-853; zero if static),
        which the receiver checks against its own (INVALID_VOTER_KEY)."""
        voter = self.history.last_voters().get(voter_id)
        return ZERO_UUID if voter is None or voter.directory_id is None else voter.directory_id

    def _vote_response(self, error: int, granted: bool) -> VoteResponse:
        return VoteResponse(error, self._leader_or_nil(), self.quorum.epoch, granted)

    def _handle_vote_request(self, inbound: Inbound, now_ms: int) -> VoteResponse:
        request: VoteRequest = inbound.message
        if not self._valid_cluster_id(request.cluster_id):
            return VoteResponse(NONE, NO_LEADER, -1, False, INCONSISTENT_CLUSTER_ID)
        last_epoch, replica_epoch = request.last_offset_epoch, request.replica_epoch
        illegal = last_epoch > replica_epoch if request.pre_vote else last_epoch >= replica_epoch
        if request.last_offset < 0 or last_epoch < 0 or illegal:
            return self._vote_response(INVALID_REQUEST, False)
        error = self._validate_voter_only_request(request.replica_id, replica_epoch)
        if error != NONE:
            return self._vote_response(error, False)
        if replica_epoch > self.quorum.epoch:
            self._transition_to_unattached(replica_epoch, now_ms)
        if not self._is_valid_voter_key(request.voter_id, request.voter_directory_id):
            return self._vote_response(INVALID_VOTER_KEY, False)

        up_to_date = (last_epoch, request.last_offset) >= (
            self.log.last_fetched_epoch(),
            self.log.end_offset(),
        )
        state = self.quorum.state
        granted = state.can_grant_vote(request.replica_id, up_to_date, request.pre_vote)
        if granted and not request.pre_vote and state.voted_id is None:
            if isinstance(state, UnattachedState):
                self.quorum.unattached_add_voted_state(replica_epoch, request.replica_id, now_ms)
            elif isinstance(state, ProspectiveState):
                self.quorum.prospective_add_voted_state(replica_epoch, request.replica_id, now_ms)
        return self._vote_response(NONE, granted)

    def _handle_vote_response(self, source: int, response: VoteResponse, now_ms: int) -> bool:
        if response.top_level_error_code != NONE:
            if response.top_level_error_code == UNSUPPORTED_VERSION and isinstance(
                self.quorum.state, ProspectiveState
            ):
                # A voter too old for pre-vote: KIP-996 falls back to a plain election.
                self._transition_to_candidate(now_ms)
                return True
            return False
        handled = self._maybe_handle_common_response(
            response.error_code, optional_leader(response.leader_id), response.leader_epoch, now_ms
        )
        if handled is not None:
            return handled
        if response.error_code != NONE:
            return False
        state = self.quorum.state
        if isinstance(state, (ProspectiveState, CandidateState)):
            state.votes.record_vote(source, response.vote_granted)
            if state.votes.is_vote_granted:
                if isinstance(state, ProspectiveState):
                    self._transition_to_candidate(now_ms)
                else:
                    self._on_become_leader(now_ms)
        return True

    # --- BeginQuorumEpoch ----------------------------------------------------------------------

    def _build_begin_quorum_epoch_request(self, destination: int) -> BeginQuorumEpochRequest:
        return BeginQuorumEpochRequest(
            self.cluster_id,
            destination,
            self.node_id,
            self.quorum.epoch,
            voter_directory_id=self._voter_directory_id(destination),
        )

    def _handle_begin_quorum_epoch_request(
        self, inbound: Inbound, now_ms: int
    ) -> BeginQuorumEpochResponse:
        request: BeginQuorumEpochRequest = inbound.message
        if not self._valid_cluster_id(request.cluster_id):
            return BeginQuorumEpochResponse(NONE, NO_LEADER, -1, INCONSISTENT_CLUSTER_ID)
        error = self._validate_voter_only_request(request.leader_id, request.leader_epoch)
        if error == NONE:
            self._maybe_transition(request.leader_id, request.leader_epoch, now_ms)
            if not self._is_valid_voter_key(request.voter_id, request.voter_directory_id):
                error = INVALID_VOTER_KEY
        return BeginQuorumEpochResponse(error, self._leader_or_nil(), self.quorum.epoch)

    def _handle_begin_quorum_epoch_response(
        self, source: int, response: BeginQuorumEpochResponse, now_ms: int
    ) -> bool:
        if response.top_level_error_code != NONE:
            return False
        handled = self._maybe_handle_common_response(
            response.error_code, optional_leader(response.leader_id), response.leader_epoch, now_ms
        )
        if handled is not None:
            return handled
        if response.error_code != NONE:
            return False
        if isinstance(self.quorum.state, LeaderState):
            self.quorum.state.add_acknowledgement_from(source)
        return True

    # --- EndQuorumEpoch ------------------------------------------------------------------------

    def _build_end_quorum_epoch_request(self, destination: int) -> EndQuorumEpochRequest:
        state = self.quorum.state
        assert isinstance(state, ResignedState)
        return EndQuorumEpochRequest(
            self.cluster_id, self.node_id, state.epoch, state.preferred_successors
        )

    def _handle_end_quorum_epoch_request(
        self, inbound: Inbound, now_ms: int
    ) -> EndQuorumEpochResponse:
        request: EndQuorumEpochRequest = inbound.message
        if not self._valid_cluster_id(request.cluster_id):
            return EndQuorumEpochResponse(NONE, NO_LEADER, -1, INCONSISTENT_CLUSTER_ID)
        error = self._validate_voter_only_request(request.leader_id, request.leader_epoch)
        if error == NONE:
            self._maybe_transition(request.leader_id, request.leader_epoch, now_ms)
            state = self.quorum.state
            if isinstance(state, FollowerState) and state.leader_id == request.leader_id:
                # The most caught-up successors go first: an election without waiting for the
                # fetch timeout, staggered by rank so the best candidate usually wins.
                backoff = self._end_epoch_election_backoff_ms(request.preferred_candidates)
                state.override_fetch_timeout(now_ms, backoff)
        return EndQuorumEpochResponse(error, self._leader_or_nil(), self.quorum.epoch)

    def _end_epoch_election_backoff_ms(self, preferred: tuple[int, ...]) -> int:
        """Kafka's ``strictExponentialElectionBackoffMs``: 0 for the first preferred
        successor, doubling per rank up to ``election_backoff_max_ms``; the max if absent."""
        position = preferred.index(self.node_id) if self.node_id in preferred else len(preferred)
        backoff_max = self.config.election_backoff_max_ms
        if position == 0:
            return 0
        if position >= len(preferred):
            return backoff_max
        base = backoff_max >> (len(preferred) - 1)
        return min(backoff_max, base << (position - 1))

    def _handle_end_quorum_epoch_response(
        self, source: int, response: EndQuorumEpochResponse, now_ms: int
    ) -> bool:
        if response.top_level_error_code != NONE:
            return False
        handled = self._maybe_handle_common_response(
            response.error_code, optional_leader(response.leader_id), response.leader_epoch, now_ms
        )
        if handled is not None:
            return handled
        if response.error_code != NONE:
            return False
        state = self.quorum.state
        if not isinstance(state, ResignedState):
            raise AssertionError(f"EndQuorumEpoch answered while {state!r}")
        state.unacked_voters.discard(source)
        return True
