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

Snapshots (KIP-630): a fetch the leader's log can no longer serve (below its start offset, see
``validate_offset_and_epoch``; or at offset 0 while a snapshot other than the bootstrap one
exists) is answered with the leader's latest ``snapshot_id``. The follower then asks
FetchSnapshot(snapshot_id, position = bytes so far) instead of Fetch until it has the
``size`` the leader reports, chunks of at most ``fetch_snapshot_max_bytes``; the leader
answers SNAPSHOT_NOT_FOUND for a snapshot it no longer has (or the bootstrap checkpoint, which
is never replicated) and POSITION_OUT_OF_RANGE for a position outside it. A complete download
is validated and installed by the log (Kafka's ``truncateToLatestSnapshot``: the log restarts
empty at the snapshot's end offset; the voter history becomes the snapshot header's
kraft.version and voter set, as Kafka's ``maybeLoadSnapshot``), the high watermark moves up
to that offset, and fetching goes on from there. A download that fails validation is dropped
and fetched again (Kafka would stop the node).
"""

from __future__ import annotations

from dataclasses import dataclass

from ferrokafka.cluster.raft.election_rpc import INCONSISTENT_CLUSTER_ID, optional_leader
from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.log import (
    BOOTSTRAP_SNAPSHOT_ID,
    SNAPSHOT,
    VALID,
    OffsetAndEpoch,
    SnapshotInstallError,
    truncate_to_end_offset,
    validate_offset_and_epoch,
)
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
from ferrokafka.cluster.raft.state import NEVER, FollowerState, SnapshotDownload
from ferrokafka.protocol.error_codes import (
    BROKER_NOT_AVAILABLE,
    FENCED_LEADER_EPOCH,
    INVALID_REQUEST,
    NONE,
    NOT_LEADER_OR_FOLLOWER,
    UNKNOWN_LEADER_EPOCH,
)

SNAPSHOT_NOT_FOUND = 98
POSITION_OUT_OF_RANGE = 99
# The largest snapshot a follower downloads (as snapshot_file.SNAPSHOT_BYTES_MAX): a leader
# announcing more is not believed.
SNAPSHOT_DOWNLOAD_BYTES_MAX = 1024 * 1024 * 1024


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
        latest = self.log.latest_snapshot_id()
        if request.fetch_offset == 0 and latest is not None and latest != BOOTSTRAP_SNAPSHOT_ID:
            # An empty follower: the snapshot is always cheaper than the log (Kafka).
            kind, offset_and_epoch = SNAPSHOT, latest
        else:
            kind, offset_and_epoch = validate_offset_and_epoch(
                self.log, request.fetch_offset, request.last_fetched_epoch
            )
        hw = -1 if state.high_watermark is None else state.high_watermark
        if kind == SNAPSHOT:
            state.update_check_quorum(request.replica_id, now_ms)
            return FetchResponse(
                NONE,
                hw,
                state.local_id,
                state.epoch,
                snapshot_id=offset_and_epoch,
                log_start_offset=self.log.start_offset(),
            )
        if kind != VALID:
            return FetchResponse(
                NONE,
                hw,
                state.local_id,
                state.epoch,
                diverging_epoch=offset_and_epoch,
                log_start_offset=self.log.start_offset(),
            )
        records = self.log.read(request.fetch_offset, request.max_bytes)
        if state.update_replica_state(
            request.replica_id, now_ms, request.fetch_offset, request.replica_directory_id
        ):
            hw = state.high_watermark
        return FetchResponse(
            NONE, hw, state.local_id, state.epoch, records, log_start_offset=self.log.start_offset()
        )

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
        """Kafka's ``handleFetchSnapshotRequest``: a chunk of the snapshot from ``position``."""
        request: FetchSnapshotRequest = inbound.message
        if not self._valid_cluster_id(request.cluster_id):
            return FetchSnapshotResponse(
                NONE,
                NO_LEADER,
                -1,
                request.snapshot_id,
                top_level_error_code=INCONSISTENT_CLUSTER_ID,
            )
        error = self._validate_leader_only_request(request.current_leader_epoch)
        if error != NONE:
            return self._fetch_snapshot_error(error, request.snapshot_id)
        snapshot_id = request.snapshot_id
        size = None if snapshot_id == BOOTSTRAP_SNAPSHOT_ID else self.log.snapshot_size(snapshot_id)
        if size is None:
            # Deleted since it was announced, or the bootstrap checkpoint (never replicated:
            # the first leader wrote its records into the log).
            return self._fetch_snapshot_error(SNAPSHOT_NOT_FOUND, snapshot_id)
        if not 0 <= request.position < size:
            return self._fetch_snapshot_error(POSITION_OUT_OF_RANGE, snapshot_id)
        max_bytes = max(1, min(request.max_bytes, self.config.fetch_snapshot_max_bytes))
        chunk = self.log.read_snapshot(snapshot_id, request.position, max_bytes)
        state = self.quorum.state
        assert isinstance(state, LeaderState)
        state.update_check_quorum(request.replica_id, now_ms)
        return FetchSnapshotResponse(
            NONE,
            state.local_id,
            state.epoch,
            snapshot_id,
            size=size,
            position=request.position,
            unaligned_records=chunk,
        )

    def _fetch_snapshot_error(
        self, error: int, snapshot_id: OffsetAndEpoch
    ) -> FetchSnapshotResponse:
        return FetchSnapshotResponse(error, self._leader_or_nil(), self.quorum.epoch, snapshot_id)

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

    def _build_fetch_snapshot_request(self, destination: int) -> FetchSnapshotRequest:
        state = self.quorum.state
        assert isinstance(state, FollowerState) and state.fetching_snapshot is not None
        download = state.fetching_snapshot
        return FetchSnapshotRequest(
            cluster_id=self.cluster_id,
            replica_id=-1 if self.node_id is None else self.node_id,
            current_leader_epoch=self.quorum.epoch,
            snapshot_id=download.snapshot_id,
            position=len(download.data),
            max_bytes=self.config.fetch_snapshot_max_bytes,
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
            build = (
                self._build_fetch_request
                if state.fetching_snapshot is None
                else self._build_fetch_snapshot_request
            )
            wait = self._send_request(leader, build, now_ms)
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
            snapshot_id = response.snapshot_id
            if snapshot_id.offset < 0 or snapshot_id.epoch < 0:
                return False  # Kafka logs this and ignores the response
            if state.fetching_snapshot is None:
                # Not validated against the local log: it is past it (Kafka).
                state.fetching_snapshot = SnapshotDownload(snapshot_id)
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
        """Kafka's ``handleFetchSnapshotResponse``: append the chunk; install when complete."""
        if response.top_level_error_code != NONE:
            return False
        handled = self._maybe_handle_common_response(
            response.error_code, optional_leader(response.leader_id), response.leader_epoch, now_ms
        )
        if handled is not None:
            return handled
        state = self.quorum.state
        if not isinstance(state, FollowerState):
            raise AssertionError(f"FetchSnapshot answered while {state!r}")
        download = state.fetching_snapshot
        snapshot_id = response.snapshot_id
        if (
            response.error_code == SNAPSHOT_NOT_FOUND
            or snapshot_id.offset < 0
            or snapshot_id.epoch < 0
        ):
            # The leader let it go before we had it all: start over with a Fetch.
            state.fetching_snapshot = None
            state.reset_fetch_timeout_for_successful_fetch(now_ms)
            return True
        if response.error_code != NONE:
            state.fetching_snapshot = None  # e.g. POSITION_OUT_OF_RANGE: start over
            return False
        if (
            download is None
            or download.snapshot_id != snapshot_id
            or response.position != len(download.data)
            or not 0 < response.size <= SNAPSHOT_DOWNLOAD_BYTES_MAX
            or (download.size is not None and download.size != response.size)
            or len(download.data) + len(response.unaligned_records) > response.size
            or not response.unaligned_records
        ):
            # Kafka treats these as impossible (IllegalStateException); here the download is
            # abandoned and begun again from a fresh Fetch.
            state.fetching_snapshot = None
            return False
        download.size = response.size
        download.data += response.unaligned_records
        if len(download.data) == download.size:
            state.fetching_snapshot = None
            try:
                truncated = self.log.install_snapshot(snapshot_id, bytes(download.data))
            except SnapshotInstallError:
                return False
            if truncated:
                self._log_dirty = True
                self._note_snapshot_installed(snapshot_id, now_ms)
            end = self.log.end_offset()
            if state.high_watermark is None or state.high_watermark < end:
                state.update_high_watermark(min(end, snapshot_id.offset))
        state.reset_fetch_timeout_for_successful_fetch(now_ms)
        return True
