"""Replication by Fetch, as KafkaRaftClient does it: pull-based, the follower asks.

A mixin of :class:`~ferrokafka.cluster.raft.replica.RaftReplica`.

Follower side: send ``Fetch(fetch_offset = log end, last_fetched_epoch = epoch of the last
record)`` to the leader (or, not knowing one, to a random voter to discover it). The answer
either carries records to append and the leader's high watermark (the follower's becomes
min(that, its log end)), or a diverging epoch: the leader's log stops matching ours there, so
we truncate (``truncate_to_end_offset``) and fetch again. A successful answer resets the fetch
timer; if none comes within the fetch timeout a voter starts a pre-vote.

Leader side (``handleFetchRequest``): sanity checks, then the epoch must be the leader's own
(FENCED_LEADER_EPOCH below it, UNKNOWN_LEADER_EPOCH above it, NOT_LEADER_OR_FOLLOWER if this
node does not lead it). The position is validated against the leader's log; only a valid one
counts as the replica's progress (for the high watermark and for check-quorum). A fetch with
nothing to return waits, parked, until the log grows or its ``max_wait_ms`` passes (Kafka's
fetch purgatory), so an idle quorum does not spin — unless the fetcher's high watermark (sent
from Fetch v18, KIP-1166) is behind the leader's: then it is answered at once, and a parked one
as soon as the leader's moves past it, so followers learn of commits without waiting.

FetchSnapshot: snapshots are not written yet, so the leader answers SNAPSHOT_NOT_FOUND; the
RPC is here so the driver maps it like the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferrokafka.cluster.raft.election_rpc import INCONSISTENT_CLUSTER_ID, optional_leader
from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.log import VALID, truncate_to_end_offset, validate_offset_and_epoch
from ferrokafka.cluster.raft.messages import (
    NO_LEADER,
    ZERO_UUID,
    FetchRequest,
    FetchResponse,
    FetchSnapshotRequest,
    FetchSnapshotResponse,
    Inbound,
    Send,
)
from ferrokafka.cluster.raft.state import NEVER, FollowerState
from ferrokafka.protocol.error_codes import (
    BROKER_NOT_AVAILABLE,
    FENCED_LEADER_EPOCH,
    INVALID_REQUEST,
    NONE,
    NOT_LEADER_OR_FOLLOWER,
    UNKNOWN_LEADER_EPOCH,
)

SNAPSHOT_NOT_FOUND = 98


@dataclass(slots=True)
class ParkedFetch:
    source: int
    correlation_id: int
    request: FetchRequest
    deadline_ms: int


class FetchRpc:
    """Fetch and FetchSnapshot for RaftReplica."""

    def _init_fetch_rpc(self) -> None:
        self._parked: list[ParkedFetch] = []

    # --- leader side ---------------------------------------------------------------------------

    def _validate_leader_only_request(self, epoch: int) -> int:
        quorum = self.quorum
        if epoch < quorum.epoch:
            return FENCED_LEADER_EPOCH
        if epoch > quorum.epoch:
            return UNKNOWN_LEADER_EPOCH
        if not isinstance(quorum.state, LeaderState):
            # Possible in our epoch: observers and Unattached voters fetch from any voter to
            # find the leader.
            return NOT_LEADER_OR_FOLLOWER
        if self._shutting_down:
            return BROKER_NOT_AVAILABLE
        return NONE

    def _fetch_error(self, error: int) -> FetchResponse:
        return FetchResponse(error, -1, self._leader_or_nil(), self.quorum.epoch)

    def _handle_fetch_request(self, inbound: Inbound, now_ms: int) -> FetchResponse | None:
        request: FetchRequest = inbound.message
        if not self._valid_cluster_id(request.cluster_id):
            return FetchResponse(
                NONE, -1, NO_LEADER, -1, top_level_error_code=INCONSISTENT_CLUSTER_ID
            )
        if (
            request.max_wait_ms < 0
            or request.fetch_offset < 0
            or request.last_fetched_epoch < 0
            or request.last_fetched_epoch > request.current_leader_epoch
        ):
            return self._fetch_error(INVALID_REQUEST)
        response = self._try_complete_fetch(request, now_ms)
        if (
            response.error_code != NONE
            or response.records
            or request.max_wait_ms == 0
            or response.diverging_epoch is not None
            or response.snapshot_id is not None
            or request.high_watermark < response.high_watermark
        ):
            return response
        self._parked.append(
            ParkedFetch(
                inbound.source, inbound.correlation_id, request, now_ms + request.max_wait_ms
            )
        )
        return None

    def _try_complete_fetch(self, request: FetchRequest, now_ms: int) -> FetchResponse:
        error = self._validate_leader_only_request(request.current_leader_epoch)
        if error != NONE:
            return self._fetch_error(error)
        state = self.quorum.state
        assert isinstance(state, LeaderState)
        kind, offset_and_epoch = validate_offset_and_epoch(
            self.log, request.fetch_offset, request.last_fetched_epoch
        )
        hw = -1 if state.high_watermark is None else state.high_watermark
        if kind != VALID:
            return FetchResponse(
                NONE, hw, state.local_id, state.epoch, diverging_epoch=offset_and_epoch
            )
        records = self.log.read(request.fetch_offset, request.max_bytes)
        if state.update_replica_state(
            request.replica_id, now_ms, request.fetch_offset, request.replica_directory_id
        ):
            hw = state.high_watermark
        return FetchResponse(NONE, hw, state.local_id, state.epoch, records)

    def _answer_parked(self, parked: ParkedFetch, now_ms: int) -> None:
        response = self._try_complete_fetch(parked.request, now_ms)
        self._sends.append(Send(parked.source, parked.correlation_id, response))

    def _complete_parked_fetches(self, now_ms: int) -> None:
        """The leader's log grew: answer every parked fetch that now has data."""
        if not self._parked:
            return
        end = self.log.end_offset()
        waiting = []
        for parked in self._parked:
            if parked.request.fetch_offset < end:
                self._answer_parked(parked, now_ms)
            else:
                waiting.append(parked)
        self._parked = waiting

    def _answer_parked_fetches(self, now_ms: int) -> None:
        """Leadership moved: answer every parked fetch (with the error that says so)."""
        parked, self._parked = self._parked, []
        for p in parked:
            self._answer_parked(p, now_ms)

    def _expire_parked_fetches(self, now_ms: int) -> float:
        """Answer parked fetches whose max wait is over, or (Kafka 4.4, KIP-1166) whose
        fetcher is behind the leader's high watermark."""
        if not self._parked:
            return NEVER
        hw = self.quorum.high_watermark if isinstance(self.quorum.state, LeaderState) else None
        waiting = []
        for parked in self._parked:
            if now_ms >= parked.deadline_ms or (
                hw is not None and parked.request.high_watermark < hw
            ):
                self._answer_parked(parked, now_ms)
            else:
                waiting.append(parked)
        self._parked = waiting
        return min((p.deadline_ms - now_ms for p in waiting), default=NEVER)

    def _handle_fetch_snapshot_request(
        self, inbound: Inbound, now_ms: int
    ) -> FetchSnapshotResponse:
        request: FetchSnapshotRequest = inbound.message
        error = self._validate_leader_only_request(request.current_leader_epoch)
        if not self._valid_cluster_id(request.cluster_id):
            return FetchSnapshotResponse(
                NONE,
                NO_LEADER,
                -1,
                request.snapshot_id,
                top_level_error_code=INCONSISTENT_CLUSTER_ID,
            )
        return FetchSnapshotResponse(
            error if error != NONE else SNAPSHOT_NOT_FOUND,
            self._leader_or_nil(),
            self.quorum.epoch,
            request.snapshot_id,
        )

    # --- follower side -------------------------------------------------------------------------

    def _build_fetch_request(self, destination: int) -> FetchRequest:
        return FetchRequest(
            cluster_id=self.cluster_id,
            replica_id=-1 if self.node_id is None else self.node_id,
            max_wait_ms=self.config.fetch_max_wait_ms,
            current_leader_epoch=self.quorum.epoch,
            fetch_offset=self.log.end_offset(),
            last_fetched_epoch=self.log.last_fetched_epoch(),
            max_bytes=self.config.fetch_max_bytes,
            high_watermark=-1 if self.quorum.high_watermark is None else self.quorum.high_watermark,
            # KIP-853: the leader keys replicas by (id, directory id).
            replica_directory_id=self.local_directory_id or ZERO_UUID,
        )

    def _fetch_from_any_bootstrap(self, now_ms: int) -> float:
        node = self.requests.find_ready_bootstrap_server(now_ms)
        if node is not None:
            return self._send_request(node, self._build_fetch_request, now_ms)
        return self.requests.backoff_before_available_bootstrap_server(now_ms)

    def _fetch_from_best_node(self, state: FollowerState, now_ms: int) -> float:
        """Kafka's ``maybeSendFetchToBestNode``: the leader, unless it is failing us, in which
        case a random voter, to learn whether leadership moved."""
        leader = state.leader_id
        requests = self.requests
        if requests.has_request_timed_out(leader, now_ms):
            requests.reset(leader)
            wait = self._fetch_from_any_bootstrap(now_ms)
        elif requests.is_backing_off(leader, now_ms):
            wait = self._fetch_from_any_bootstrap(now_ms)
        elif not requests.has_any_inflight_request(now_ms):
            wait = self._send_request(leader, self._build_fetch_request, now_ms)
        else:
            wait = requests.backoff_before_available_bootstrap_server(now_ms)
        return min(wait, state.fetch_deadline_ms - now_ms)

    def _handle_fetch_response(self, source: int, response: FetchResponse, now_ms: int) -> bool:
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
        if not isinstance(state, FollowerState):
            raise AssertionError(f"Fetch answered while {state!r}")
        if response.diverging_epoch is not None:
            diverging = response.diverging_epoch
            if state.high_watermark is not None and diverging.offset < state.high_watermark:
                raise AssertionError(
                    f"node {self.node_id}: leader asks to truncate to {diverging.offset}, "
                    f"below the high watermark {state.high_watermark}"
                )
            self._note_truncated(truncate_to_end_offset(self.log, diverging), now_ms)
            self._log_dirty = True
        elif response.snapshot_id is not None:
            return False  # no snapshots yet: never sent by a ferrokafka leader
        else:
            if response.records:
                self.log.append_as_follower(response.records)
                self._log_dirty = True
                self._note_appended(response.records, now_ms)
            if response.high_watermark >= 0:
                state.update_high_watermark(min(self.log.end_offset(), response.high_watermark))
        state.reset_fetch_timeout_for_successful_fetch(now_ms)
        return True

    def _handle_fetch_snapshot_response(
        self, source: int, response: FetchSnapshotResponse, now_ms: int
    ) -> bool:
        return False  # never requested: no leader sends a snapshot id yet
