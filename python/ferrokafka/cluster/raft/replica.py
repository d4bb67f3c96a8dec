"""One member of the KRaft quorum as a sans-io state machine: Kafka's ``KafkaRaftClient``.

The driver (trio and the network later; a simulated network in the tests) feeds it events and
carries out what it returns::

    replica = RaftReplica(node_id=1, voters=frozenset({1, 2, 3}), log=log, config=config,
                          random=Random(seed), now_ms=now, election=stored_quorum_state)
    effects = replica.tick(now)                 # timers: elections, fetches, heartbeats
    effects = replica.handle(inbound, now)      # a request or response from a peer
    offset = replica.append([b"..."], now)      # leader only; the effects come with the next tick
    wake_at = replica.next_deadline_ms          # when to tick next without any message

Each call returns a list of :mod:`~ferrokafka.cluster.raft.messages` effects to execute in
order: ``PersistElection`` (write the quorum-state file), ``FlushLog``, then the ``Send`` s,
then ``Committed`` (the high watermark moved). Persisting first is what makes a granted vote
or a fetch offset a promise: nothing leaves the node before the state it depends on is on disk.

The replica owns no clock, socket, file or thread; time is ``now_ms``, randomness (election
timeouts) comes from the ``random`` it is given, so a seeded simulation replays exactly.
The RPC handlers live in ``election_rpc`` (Vote, BeginQuorumEpoch, EndQuorumEpoch) and
``fetch_rpc`` (Fetch, FetchSnapshot); this module has the polling of each state (Kafka's
``pollLeader``, ``pollCandidate``, ...) and the transitions' side effects.
"""

from __future__ import annotations

import logging
import uuid
from random import Random

from ferrokafka.cluster.raft.election import ElectionState
from ferrokafka.cluster.raft.election_rpc import INCONSISTENT_CLUSTER_ID, ElectionRpc
from ferrokafka.cluster.raft.fetch_rpc import FetchRpc
from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.log import LeaderChange, OffsetAndEpoch, RaftLog
from ferrokafka.cluster.raft.messages import (
    REQUEST_TYPES,
    BeginQuorumEpochRequest,
    BeginQuorumEpochResponse,
    Committed,
    EndQuorumEpochRequest,
    EndQuorumEpochResponse,
    FetchRequest,
    FetchResponse,
    FetchSnapshotRequest,
    FetchSnapshotResponse,
    FlushLog,
    Inbound,
    Outbound,
    PersistElection,
    Send,
    VoteRequest,
    VoteResponse,
)
from ferrokafka.cluster.raft.quorum import QuorumConfig, QuorumState
from ferrokafka.cluster.raft.requests import RequestManager
from ferrokafka.cluster.raft.state import (
    NEVER,
    CandidateState,
    EpochState,
    FollowerState,
    ProspectiveState,
    ResignedState,
    UnattachedState,
)
from ferrokafka.cluster.raft.voter_changes import (
    UPDATE_VOTER_PERIOD_FETCH_TIMEOUTS,
    VOTER_REQUEST_TYPES,
    AddVoterRequest,
    ApiVersionsResult,
    RemoveVoterRequest,
    UpdateVoterRequest,
    UpdateVoterResponse,
    VoterChangeRpc,
)
from ferrokafka.cluster.raft.voters import VoterEndpoint, VoterSet, VoterSetHistory
from ferrokafka.protocol.error_codes import NONE

log = logging.getLogger(__name__)

# Transitions one call may chain (e.g. Follower -> Prospective -> Candidate -> Leader).
POLLS_PER_CALL_MAX = 8
# Peers of another cluster reported once each (a bound: any id may knock).
PEERS_REPORTED_MAX = 64


class NotLeaderError(Exception):
    """``append`` or ``resign`` on a replica that is not the leader (Kafka's NotLeaderException)."""


class RaftReplica(ElectionRpc, FetchRpc, VoterChangeRpc):
    def __init__(
        self,
        *,
        node_id: int | None,
        voters: frozenset[int] | VoterSetHistory,
        log: RaftLog,
        config: QuorumConfig,
        random: Random,
        now_ms: int,
        election: ElectionState | None = None,
        cluster_id: str | None = None,
        directory_id: uuid.UUID | None = None,
        endpoints: tuple[VoterEndpoint, ...] = (),
        listener_name: str = "CONTROLLER",
        bootstrap_servers: tuple[int, ...] = (),
    ) -> None:
        """``voters``: static ids, or (KIP-853) a history holding the configured or
        checkpointed voter set, which the log's VotersRecords then extend. ``directory_id``
        and ``endpoints`` are this node's (what it would be listed with as a voter);
        ``bootstrap_servers``: ids (Kafka's -2, -3, ...) of ``controller.quorum.bootstrap
        .servers``, asked when no leader is known, instead of the voters."""
        self.node_id = node_id
        self.log = log
        self.config = config
        self.random = random
        self.cluster_id = cluster_id
        self.listener_name = listener_name
        history = (
            voters
            if isinstance(voters, VoterSetHistory)
            else VoterSetHistory(VoterSet.of_ids(voters))
        )
        self._init_voter_changes(history, directory_id, endpoints)
        self._load_voter_history()
        self.quorum = QuorumState(node_id, history, config, random, directory_id)
        self._has_bootstrap_servers = bool(bootstrap_servers)
        self.requests = RequestManager(
            bootstrap_servers or tuple(sorted(v for v in self.quorum.voters if v != node_id)),
            config.retry_backoff_ms,
            config.request_timeout_ms,
            random,
        )
        self._sends: list[Send] = []
        # (peer, whether it sent the request) already reported as of another cluster.
        self._cluster_id_reported: set[tuple[int, bool]] = set()
        self._log_dirty = False
        self._reported_high_watermark: int | None = None
        # Random start so a restarted node never reuses an id a stale response could carry.
        self._next_correlation_id = random.randrange(1 << 30)
        self._init_fetch_rpc()
        self._shutdown_deadline_ms: float | None = None
        self.shutdown_complete = False
        self.next_deadline_ms: float = now_ms

        end = OffsetAndEpoch(log.end_offset(), log.last_fetched_epoch())
        self.quorum.initialize(election, end, now_ms)
        if isinstance(self.quorum.state, CandidateState):
            self._on_become_candidate(now_ms)
        elif isinstance(self.quorum.state, FollowerState):
            self._on_become_follower(now_ms)
        if self.quorum.is_only_voter and not isinstance(self.quorum.state, CandidateState):
            self._transition_to_prospective(now_ms)

    # --- the driver's interface ----------------------------------------------------------------

    @property
    def state(self) -> EpochState:
        """The current state: a LeaderState, FollowerState, CandidateState, ..."""
        return self.quorum.state

    @property
    def epoch(self) -> int:
        return self.quorum.epoch

    @property
    def leader_id(self) -> int | None:
        return self.quorum.leader_id

    @property
    def high_watermark(self) -> int | None:
        return self.quorum.high_watermark

    @property
    def is_leader(self) -> bool:
        return isinstance(self.quorum.state, LeaderState)

    def handle(self, inbound: Inbound, now_ms: int) -> list[Outbound]:
        message = inbound.message
        if isinstance(message, ApiVersionsResult):
            self._handle_api_versions_result(inbound, now_ms)
        elif isinstance(message, (*REQUEST_TYPES, *VOTER_REQUEST_TYPES)):
            response = _REQUEST_HANDLERS[type(message)](self, inbound, now_ms)
            if response is not None:  # None: a Fetch parked until data or its max wait
                self._sends.append(Send(inbound.source, inbound.correlation_id, response))
                self._report_cluster_id_mismatch(inbound, response)
        elif self.requests.is_response_expected(inbound.source, inbound.correlation_id):
            self._report_cluster_id_mismatch(inbound, message)
            ok = _RESPONSE_HANDLERS[type(message)](self, inbound.source, message, now_ms)
            self.requests.on_response_result(inbound.source, inbound.correlation_id, ok, now_ms)
        self._poll(now_ms)
        return self._drain()

    def tick(self, now_ms: int) -> list[Outbound]:
        self._poll(now_ms)
        return self._drain()

    def _report_cluster_id_mismatch(self, inbound: Inbound, response: object) -> None:
        """Say once per peer (and direction) that it belongs to another cluster: a node
        formatted with another cluster id is refused INCONSISTENT_CLUSTER_ID forever, and
        without this line only its silence would show it."""
        if getattr(response, "top_level_error_code", NONE) != INCONSISTENT_CLUSTER_ID:
            return
        incoming = inbound.message is not response
        key = (inbound.source, incoming)
        if key in self._cluster_id_reported or len(self._cluster_id_reported) >= PEERS_REPORTED_MAX:
            return
        self._cluster_id_reported.add(key)
        if incoming:
            log.warning(
                "refused %s from node %d: its cluster id %s is not this cluster's %s "
                "(INCONSISTENT_CLUSTER_ID)",
                type(inbound.message).__name__,
                inbound.source,
                getattr(inbound.message, "cluster_id", None),
                self.cluster_id,
            )
        else:
            log.error(
                "node %d refused our requests with INCONSISTENT_CLUSTER_ID: this node's cluster "
                "id %s is not the quorum's (was its storage formatted with another cluster id?)",
                inbound.source,
                self.cluster_id,
            )

    def on_send_failed(self, destination: int, correlation_id: int, now_ms: int) -> list[Outbound]:
        """The driver could not deliver a request (no connection): back off that node."""
        self.requests.on_response_result(destination, correlation_id, False, now_ms)
        return self.tick(now_ms)

    def append(self, values: list[bytes], now_ms: int) -> int:
        """Append records as the leader; the offset of the last one. Committed once the high
        watermark passes it (a ``Committed`` effect); lost if leadership changes first."""
        state = self.quorum.state
        if not isinstance(state, LeaderState) or state.resign_requested:
            raise NotLeaderError(f"node {self.node_id} is {state!r}")
        offset = self.log.append_as_leader(values, state.epoch)
        self._log_dirty = True
        self._on_leader_log_end_changed(state, now_ms)
        return offset

    def resign(self, epoch: int) -> None:
        """Give up leadership of ``epoch`` (Kafka's ``resign``); a no-op for an older epoch."""
        state = self.quorum.state
        if epoch > state.epoch:
            raise ValueError(f"resign from epoch {epoch} beyond the current {state.epoch}")
        if epoch == state.epoch:
            if not isinstance(state, LeaderState):
                raise NotLeaderError(f"node {self.node_id} does not lead epoch {epoch}")
            state.resign_requested = True

    def shutdown(self, now_ms: int, timeout_ms: int) -> None:
        """Begin a graceful shutdown: a leader resigns and tells the voters (EndQuorumEpoch);
        :attr:`shutdown_complete` turns true once another leader is known (or at once for a
        follower, an observer or a single voter), or when ``timeout_ms`` runs out."""
        self._shutdown_deadline_ms = now_ms + timeout_ms

    # --- effects -------------------------------------------------------------------------------

    def _drain(self) -> list[Outbound]:
        out: list[Outbound] = []
        if self.quorum.pending_election is not None:
            out.append(PersistElection(self.quorum.pending_election))
            self.quorum.pending_election = None
        if self._log_dirty:
            out.append(FlushLog(self.log.end_offset()))
            self._log_dirty = False
        out.extend(self._sends)
        self._sends.clear()
        hw = self.quorum.high_watermark
        if hw is not None and (
            self._reported_high_watermark is None or hw > self._reported_high_watermark
        ):
            self._reported_high_watermark = hw
            out.append(Committed(hw))
        return out

    def _send_request(self, destination: int, build, now_ms: int) -> float:
        """Kafka's ``maybeSendRequest``: send if the connection is ready; the ms to wait."""
        requests = self.requests
        if requests.is_backing_off(destination, now_ms):
            return requests.remaining_ms(destination, now_ms)
        if requests.is_ready(destination, now_ms):
            correlation_id = self._next_correlation_id
            self._next_correlation_id += 1
            requests.on_request_sent(destination, correlation_id, now_ms)
            self._sends.append(Send(destination, correlation_id, build(destination)))
        return requests.remaining_ms(destination, now_ms)

    # --- polling each state --------------------------------------------------------------------

    @property
    def _shutting_down(self) -> bool:
        return self._shutdown_deadline_ms is not None

    def _poll(self, now_ms: int) -> None:
        # Kafka polls again at once after a transition (its poll returns a 0 timeout); here
        # the new state is polled in the same call, so one tick leaves nothing due.
        for _ in range(POLLS_PER_CALL_MAX):
            before = self.quorum.state
            wait = self._poll_current_state(now_ms)
            if self.quorum.state is before:
                break
        else:
            raise AssertionError(
                f"node {self.node_id}: no stable state after {POLLS_PER_CALL_MAX} polls"
            )
        wait = min(wait, self._expire_parked_fetches(now_ms))
        self._expire_voter_change(now_ms)
        self._trim_voter_history()
        if self._shutting_down and not self.shutdown_complete:
            assert self._shutdown_deadline_ms is not None
            if (
                now_ms >= self._shutdown_deadline_ms
                or not self.quorum.is_voter
                or self.quorum.is_only_voter
                or (self.quorum.leader_id is not None and self.quorum.leader_id != self.node_id)
            ):
                self.shutdown_complete = True
            wait = min(wait, max(0, self._shutdown_deadline_ms - now_ms))
        self.next_deadline_ms = now_ms + max(0, wait)

    def _poll_current_state(self, now_ms: int) -> float:
        state = self.quorum.state
        if isinstance(state, LeaderState):
            return self._poll_leader(state, now_ms)
        if isinstance(state, CandidateState):
            return self._poll_nominee(state, now_ms)
        if isinstance(state, ProspectiveState):
            return self._poll_nominee(state, now_ms)
        if isinstance(state, FollowerState):
            return self._poll_follower(state, now_ms)
        if isinstance(state, UnattachedState):
            return self._poll_unattached(state, now_ms)
        assert isinstance(state, ResignedState)
        return self._poll_resigned(state, now_ms)

    def _poll_leader(self, state: LeaderState, now_ms: int) -> float:
        if len(state.voter_states) == 1 and self.node_id in state.voter_states:
            # Kafka's timeUntilCheckQuorumExpires: the only voter keeps its timer fresh, so a
            # voter added later (KIP-853) gets a whole check-quorum timeout to fetch.
            state.check_quorum_deadline_ms = now_ms + state.check_quorum_timeout_ms
        if self._shutting_down or state.resign_requested or now_ms >= state.check_quorum_deadline():
            self._transition_to_resigned(
                state.non_leader_voters_by_descending_fetch_offset(), now_ms
            )
            return 0
        state.expire_observers(now_ms)
        if now_ms >= state.begin_quorum_epoch_deadline_ms:
            for voter in sorted(state.voters):
                if voter != self.node_id:
                    self._send_request(voter, self._build_begin_quorum_epoch_request, now_ms)
            state.begin_quorum_epoch_deadline_ms = now_ms + state.begin_quorum_epoch_timeout_ms
        return min(
            state.begin_quorum_epoch_deadline_ms - now_ms,
            state.check_quorum_deadline() - now_ms,
            self._poll_voter_change(now_ms),
        )

    def _poll_nominee(self, state: CandidateState | ProspectiveState, now_ms: int) -> float:
        """Kafka's ``pollCandidate`` and ``pollProspective``."""
        if not self._shutting_down and (
            state.votes.is_vote_rejected or now_ms >= state.election_deadline_ms
        ):
            if isinstance(state, CandidateState):
                self._transition_to_prospective(now_ms)
            elif state.leader_id is not None and state.leader_id != self.node_id:
                # Lost the pre-vote: back to the leader it knew; the voters still hear it.
                self._transition_to_follower(state.epoch, state.leader_id, now_ms)
            else:
                # No leader to go back to: wait (and keep any vote) in the same epoch.
                self._transition_to_unattached(state.epoch, now_ms, state.leader_id)
            return 0
        wait: float = NEVER
        if not state.votes.is_vote_rejected:
            for voter in state.votes.unrecorded_voters:
                wait = min(wait, self._send_request(voter, self._build_vote_request, now_ms))
        if self._shutting_down:
            return wait
        return min(wait, state.election_deadline_ms - now_ms)

    def _poll_follower(self, state: FollowerState, now_ms: int) -> float:
        if self.quorum.is_voter:
            if self._shutting_down:
                return NEVER  # done at once: a follower knows another leader
            if now_ms >= state.fetch_deadline_ms:
                self._transition_to_prospective(now_ms)
                return 0
            update_wait = self._update_voter_wait(state, now_ms)
            if update_wait is not None:
                return min(update_wait, state.fetch_deadline_ms - now_ms)
        elif now_ms >= state.fetch_deadline_ms:
            return self._fetch_from_any_bootstrap(now_ms)
        return self._fetch_from_best_node(state, now_ms)

    def _poll_unattached(self, state: UnattachedState, now_ms: int) -> float:
        if self.quorum.is_voter:
            if self._shutting_down:
                return NEVER
            if now_ms >= state.election_deadline_ms:
                self._transition_to_prospective(now_ms)
                return 0
            return min(self._fetch_from_any_bootstrap(now_ms), state.election_deadline_ms - now_ms)
        # An observer (Kafka's pollUnattachedAsObserver) has no election timer, even one set
        # while it was a voter or cast a vote (KIP-853: a replica removed, or not yet added).
        return self._fetch_from_any_bootstrap(now_ms)

    def _poll_resigned(self, state: ResignedState, now_ms: int) -> float:
        wait: float = NEVER
        for voter in sorted(state.unacked_voters):
            wait = min(
                wait, self._send_request(voter, self._build_end_quorum_epoch_request, now_ms)
            )
        if self._shutting_down:
            return wait
        if now_ms >= state.election_deadline_ms:
            # Kafka 4.x: on to the next epoch as Unattached (whose expired timer makes a voter
            # Prospective at once), rather than a pre-vote in the epoch this node led.
            self._transition_to_unattached(state.epoch + 1, now_ms)
            return 0
        return min(wait, state.election_deadline_ms - now_ms)

    # --- transitions and what they set off (KafkaRaftClient's onBecome* / transitionTo*) ---------

    def _reset_connections(self) -> None:
        self.requests.reset_all()

    def _transition_to_prospective(self, now_ms: int) -> None:
        self.quorum.transition_to_prospective(now_ms)
        state = self.quorum.state
        assert isinstance(state, ProspectiveState)
        if state.votes.is_vote_granted:  # the only voter
            self._transition_to_candidate(now_ms)
        else:
            self._reset_connections()

    def _transition_to_candidate(self, now_ms: int) -> None:
        self.quorum.transition_to_candidate(now_ms)
        self._on_become_candidate(now_ms)

    def _on_become_candidate(self, now_ms: int) -> None:
        state = self.quorum.state
        assert isinstance(state, CandidateState)
        if state.votes.is_vote_granted:
            self._on_become_leader(now_ms)
        else:
            self._reset_connections()

    def _on_become_leader(self, now_ms: int) -> None:
        state = self.quorum.transition_to_leader(self.log.end_offset(), now_ms)
        # A record of the new epoch at once: the high watermark can only move past it.
        change = LeaderChange(
            state.local_id, tuple(sorted(state.voters)), tuple(sorted(state.granting_voters))
        )
        values: list[object] = [change, *self._start_of_epoch_voter_records()]
        last = self.log.append_as_leader(values, state.epoch)
        self._log_dirty = True
        for i, value in enumerate(values):
            self.history.apply(last - len(values) + 1 + i, value)
        self._update_voter_due_ms = 0
        self.reported_static_voters.clear()  # Kafka's volatile voters live in LeaderState
        self._on_leader_log_end_changed(state, now_ms)
        self._reset_connections()

    def _on_leader_log_end_changed(self, state: LeaderState, now_ms: int) -> None:
        state.update_local_state(self.log.end_offset())
        self._complete_parked_fetches(now_ms)

    def _transition_to_unattached(
        self, epoch: int, now_ms: int, leader_id: int | None = None
    ) -> None:
        self.quorum.transition_to_unattached(epoch, now_ms, leader_id)
        self._answer_parked_fetches(now_ms)
        self._reset_connections()

    def _transition_to_resigned(self, preferred: tuple[int, ...], now_ms: int) -> None:
        self.quorum.transition_to_resigned(preferred, now_ms)
        self._answer_parked_fetches(now_ms)
        self._reset_connections()

    def _transition_to_follower(self, epoch: int, leader_id: int, now_ms: int) -> None:
        self.quorum.transition_to_follower(epoch, leader_id, now_ms)
        self._on_become_follower(now_ms)

    def _on_become_follower(self, now_ms: int) -> None:
        # Fetches parked while this node led are answered now (with the new leader), so
        # their senders retry at once instead of at their max wait.
        self._answer_parked_fetches(now_ms)
        self._reset_connections()
        # Kafka's FollowerState.updateVoterPeriodTimer: a few fetch rounds before the first
        # UpdateRaftVoter, so the follower has read the voter set the leader has.
        self._update_voter_due_ms = now_ms + UPDATE_VOTER_PERIOD_FETCH_TIMEOUTS * (
            self.config.fetch_timeout_ms
        )


_REQUEST_HANDLERS = {
    AddVoterRequest: RaftReplica._handle_add_voter_request,
    RemoveVoterRequest: RaftReplica._handle_remove_voter_request,
    UpdateVoterRequest: RaftReplica._handle_update_voter_request,
    VoteRequest: RaftReplica._handle_vote_request,
    BeginQuorumEpochRequest: RaftReplica._handle_begin_quorum_epoch_request,
    EndQuorumEpochRequest: RaftReplica._handle_end_quorum_epoch_request,
    FetchRequest: RaftReplica._handle_fetch_request,
    FetchSnapshotRequest: RaftReplica._handle_fetch_snapshot_request,
}
_RESPONSE_HANDLERS = {
    UpdateVoterResponse: RaftReplica._handle_update_voter_response,
    VoteResponse: RaftReplica._handle_vote_response,
    BeginQuorumEpochResponse: RaftReplica._handle_begin_quorum_epoch_response,
    EndQuorumEpochResponse: RaftReplica._handle_end_quorum_epoch_response,
    FetchResponse: RaftReplica._handle_fetch_response,
    FetchSnapshotResponse: RaftReplica._handle_fetch_snapshot_response,
}
