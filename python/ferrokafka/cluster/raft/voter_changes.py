"""Changing the voter set (KIP-853): AddRaftVoter, RemoveRaftVoter and UpdateRaftVoter, as
Kafka's ``AddVoterHandler``, ``RemoveVoterHandler`` and ``UpdateVoterHandler`` with the checks
``KafkaRaftClient`` makes before them. A mixin of
:class:`~ferrokafka.cluster.raft.replica.RaftReplica`, with the messages it handles.

The leader takes one change at a time, and only once its epoch has a high watermark and the
latest VotersRecord is committed (else REQUEST_TIMED_OUT, Kafka's "try again"); kraft.version 0
(static voters) refuses Add and Remove with UNSUPPORTED_VERSION.

- Add: the new voter (id + directory id, not yet a voter id: else DUPLICATE_VOTER) is first
  asked for its ApiVersions on the leader's listener (an :class:`ApiVersionsProbe` effect the
  driver carries out), whose kraft.version range must hold the finalized level (else
  INVALID_REQUEST); it must be a caught-up observer (else REQUEST_TIMED_OUT). Then the
  VotersRecord with it is appended; the answer comes when it commits (or at once when the
  request says ``ack_when_committed`` false), REQUEST_TIMED_OUT if that takes longer than the
  request timeout.
- Remove: the key must match a voter exactly and one must remain (else VOTER_NOT_FOUND); the
  answer comes when the record commits, and a leader that removed itself then resigns.
- Update (a voter tells the leader its endpoints and kraft.version range after it starts, when
  the log lists it differently): appended and answered at once, not waiting for the commit.
  At kraft.version 0 every voter sends it once per leadership (Kafka 4.4): the leader keeps
  the voters' directory ids, endpoints and ranges in memory (its "volatile voters", its own
  included) and answers NONE (only Add and Remove are UNSUPPORTED_VERSION there).

The kraft.version upgrade of a static quorum (KIP-853, Kafka 4.4's
``LeaderState.maybeAppendUpgradedKRaftVersion``; ``kafka-features upgrade --feature
kraft.version=1`` reaches it through the controller's UpdateFeatures): once every voter has
reported a range that holds the new version, the leader appends a KRaftVersionRecord and a
VotersRecord of the volatile voters in one control batch. From then on the voter set is the
log's, and Add/Remove work.

A leader that loses its epoch answers a pending change NOT_LEADER_OR_FOLLOWER.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.log import Record
from ferrokafka.cluster.raft.messages import NO_LEADER, Inbound, Send
from ferrokafka.cluster.raft.state import NEVER, FollowerState
from ferrokafka.cluster.raft.voters import (
    BOOTSTRAP_OFFSET,
    SUPPORTED_KRAFT_VERSIONS,
    KRaftVersionChange,
    VoterEndpoint,
    VoterNode,
    VotersChange,
    VoterSet,
    VoterSetHistory,
)
from ferrokafka.protocol.error_codes import (
    DUPLICATE_VOTER,
    INCONSISTENT_CLUSTER_ID,
    INVALID_REQUEST,
    INVALID_UPDATE_VERSION,
    NONE,
    NOT_LEADER_OR_FOLLOWER,
    REQUEST_TIMED_OUT,
    UNKNOWN_SERVER_ERROR,
    UNSUPPORTED_VERSION,
    VOTER_NOT_FOUND,
)

ZERO_UUID = uuid.UUID(int=0)
KRAFT_VERSION = "kraft.version"


class KRaftUpgradeError(Exception):
    """An upgrade the leader refuses: Kafka's InvalidUpdateVersionException (or, for what
    Kafka treats as impossible, IllegalStateException: UNKNOWN_SERVER_ERROR)."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


UPDATE_VOTER_PERIOD_FETCH_TIMEOUTS = 3  # Kafka's FollowerState.updateVoterPeriodMs
HISTORY_READ_BYTES = 1 << 20  # bytes of log read per step when loading the voter history

# --- the messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddVoterRequest:
    cluster_id: str | None
    timeout_ms: int
    voter_id: int
    voter_directory_id: uuid.UUID
    endpoints: tuple[VoterEndpoint, ...]
    ack_when_committed: bool = True


@dataclass(frozen=True, slots=True)
class AddVoterResponse:
    error_code: int
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class RemoveVoterRequest:
    cluster_id: str | None
    voter_id: int
    voter_directory_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class RemoveVoterResponse:
    error_code: int
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateVoterRequest:
    cluster_id: str | None
    current_leader_epoch: int
    voter_id: int
    voter_directory_id: uuid.UUID
    endpoints: tuple[VoterEndpoint, ...]
    kraft_versions: tuple[int, int]


@dataclass(frozen=True, slots=True)
class UpdateVoterResponse:
    error_code: int
    leader_id: int
    leader_epoch: int


@dataclass(frozen=True, slots=True)
class ApiVersionsProbe:
    """Ask the node at ``address`` for its ApiVersions (the driver answers with an
    :class:`ApiVersionsResult` carrying the same correlation id)."""

    address: tuple[str, int]


@dataclass(frozen=True, slots=True)
class ApiVersionsResult:
    error_code: int
    kraft_versions: tuple[int, int] | None  # its supported kraft.version, None if it names none


VOTER_REQUEST_TYPES = (AddVoterRequest, RemoveVoterRequest, UpdateVoterRequest)
VoterRequest = AddVoterRequest | RemoveVoterRequest | UpdateVoterRequest
VoterResponse = AddVoterResponse | RemoveVoterResponse | UpdateVoterResponse


@dataclass(slots=True)
class PendingVoterChange:
    """The add or remove in progress (Kafka's Add/RemoveVoterHandlerState)."""

    kind: str  # "add" or "remove"
    epoch: int
    source: int
    correlation_id: int
    deadline_ms: int
    voter: VoterNode
    ack_when_committed: bool = True
    probe_correlation_id: int | None = None
    last_offset: int | None = None  # the VotersRecord, once appended
    done: bool = field(default=False)


class VoterChangeRpc:
    """AddRaftVoter, RemoveRaftVoter, UpdateRaftVoter and the voter history for RaftReplica."""

    def _init_voter_changes(
        self,
        history: VoterSetHistory,
        local_directory_id: uuid.UUID | None,
        local_endpoints: tuple[VoterEndpoint, ...],
    ) -> None:
        self.history = history
        self.local_directory_id = local_directory_id
        self.local_endpoints = local_endpoints
        self._voter_change: PendingVoterChange | None = None
        self._update_voter_due_ms: float = 0
        # kraft.version 0: what static voters reported with UpdateRaftVoter (Kafka 4.4 keeps it).
        self.reported_static_voters: dict[int, VoterNode] = {}
        self._history_log_start = 0  # the log start the history was last trimmed to

    # --- the history follows the log -------------------------------------------------------

    def _load_voter_history(self) -> None:
        """Kafka's state machine at start: the latest snapshot's kraft.version and voter set
        (a bootstrap checkpoint's too: it sits at offset -1) replace what the history was
        given, then the control records of the log after it."""
        offset, end = self.log.start_offset(), self.log.end_offset()
        latest = self.log.latest_snapshot_id()
        if latest is not None:
            self.history.load_snapshot(latest.offset - 1, self.log.snapshot_control_values(latest))
            offset = max(offset, latest.offset)
        while offset < end:
            records = self.log.read(offset, HISTORY_READ_BYTES)
            if not records:
                break
            for record in records:
                self.history.apply(record.offset, record.value)
            offset = records[-1].offset + 1

    def _note_appended(self, records: tuple[Record, ...] | list[Record], now_ms: int) -> None:
        changed = False
        for record in records:
            if record.is_control:
                changed |= self.history.apply(record.offset, record.value)
        if changed:
            self._on_voters_changed(now_ms)

    def _trim_voter_history(self) -> None:
        """The log prefix went (prefix deletion, by the snapshot generator): entries older than
        the one in force at the new log start go too (Kafka's ``truncateOldEntries``), so the
        history stays as long as the log."""
        start = self.log.start_offset()
        if start != self._history_log_start:
            self._history_log_start = start
            self.history.truncate_old_entries(start)

    def _note_snapshot_installed(self, snapshot_id, now_ms: int) -> None:
        """The log now starts empty at ``snapshot_id`` (downloaded from the leader): the voter
        history is the snapshot's, nothing of the old log's (Kafka's ``maybeLoadSnapshot``,
        as the log start passed the history's next offset)."""
        values = self.log.snapshot_control_values(snapshot_id)
        if self.history.load_snapshot(snapshot_id.offset - 1, values):
            self._on_voters_changed(now_ms)

    def _note_truncated(self, offset: int, now_ms: int) -> None:
        if self.history.truncate_new_entries(offset):
            self._on_voters_changed(now_ms)

    def upgrade_kraft_version(
        self, epoch: int, version: int, validate_only: bool, now_ms: int
    ) -> bool:
        """Kafka's ``upgradeKRaftVersion`` on the leader of ``epoch``: True if the control
        batch was appended (it commits like any record); False for nothing to do (already at
        ``version``, or ``validate_only``). Raises KRaftUpgradeError, NotLeaderError."""
        from ferrokafka.cluster.raft.replica import NotLeaderError

        state = self.quorum.state
        if not isinstance(state, LeaderState) or state.epoch != epoch:
            raise NotLeaderError(f"node {self.node_id} does not lead epoch {epoch}")
        current = self.history.kraft_version()
        if version == current:
            return False
        if version < current:
            raise KRaftUpgradeError(
                INVALID_UPDATE_VERSION,
                f"Invalid upgrade of {KRAFT_VERSION} from version {current} to {version} "
                f"because the new version is a downgrade",
            )
        persisted = self.history.last_voters()
        volatile = self._volatile_voters(persisted)
        if volatile.ids != persisted.ids:
            raise KRaftUpgradeError(
                UNKNOWN_SERVER_ERROR,
                f"Unable to update {KRAFT_VERSION} to {version} due to missing voters "
                f"{sorted(volatile.ids)} compared to {sorted(persisted.ids)}",
            )
        if not all(n.kraft_versions[0] <= version <= n.kraft_versions[1] for n in volatile.nodes()):
            raise KRaftUpgradeError(
                INVALID_UPDATE_VERSION,
                f"Invalid upgrade of {KRAFT_VERSION} to {version} because not all of the voters "
                f"support it",
            )
        if any(n.directory_id is None for n in volatile.nodes()):
            raise KRaftUpgradeError(
                UNKNOWN_SERVER_ERROR,
                f"Directory id must be known for all of the voters: {volatile}",
            )
        if validate_only:
            return False
        values = [KRaftVersionChange(version), VotersChange(volatile)]
        last = self.log.append_as_leader(values, state.epoch)
        self._log_dirty = True
        for i, value in enumerate(values):
            self.history.apply(last - len(values) + 1 + i, value)
        self.reported_static_voters.clear()
        self._on_voters_changed(now_ms)
        self._on_leader_log_end_changed(state, now_ms)
        return True

    def _volatile_voters(self, persisted: VoterSet) -> VoterSet:
        """The static voters as they reported themselves (UpdateRaftVoter at kraft.version
        0), this leader included; a voter that has not reported keeps its static entry (no
        directory id, kraft.version 0 only)."""
        reported = dict(self.reported_static_voters)
        if self.node_id is not None and self.node_id in persisted.ids:
            reported[self.node_id] = self._local_voter_node()
        return VoterSet(reported.get(n.node_id, n) for n in persisted.nodes())

    def _on_voters_changed(self, now_ms: int) -> None:
        state = self.quorum.state
        if isinstance(state, LeaderState) and state.update_voter_set(self.quorum.voters):
            self._complete_parked_fetches(now_ms)
        if not self._has_bootstrap_servers:
            # Static voters are the bootstrap list (Kafka's RequestManager with voters).
            self.requests.bootstrap_servers = tuple(
                sorted(v for v in self.quorum.voters if v != self.node_id)
            )

    def _local_voter_node(self) -> VoterNode:
        return VoterNode(
            -1 if self.node_id is None else self.node_id,
            self.local_directory_id,
            self.local_endpoints,
            SUPPORTED_KRAFT_VERSIONS,
        )

    def _start_of_epoch_voter_records(self) -> list[object]:
        """Kafka's ``appendStartOfEpochControlRecords``: with kraft.version 1, a new leader
        writes the voter set into the log when only the checkpoint had it, or when it lists
        the leader's own endpoints differently."""
        version = self.history.kraft_version()
        if version < 1:
            return []
        voters = self.history.last_voters()
        local = self._local_voter_node()
        at = self.history.last_voters_offset()
        if at != BOOTSTRAP_OFFSET and not voters.voter_node_needs_update(local):
            return []
        updated = voters.update_voter(local) or voters
        return [KRaftVersionChange(version), VotersChange(updated)]

    # --- leader side: the three requests ---------------------------------------------------

    def _voter_change_precheck(self, state: LeaderState, now_ms: int) -> tuple[int, str] | None:
        """The checks every change makes first (Kafka's, in Kafka's order)."""
        self._expire_voter_change(now_ms)
        if self._voter_change is not None:
            return REQUEST_TIMED_OUT, (
                "Request timed out waiting for leader to handle previous voter change request"
            )
        hw = state.high_watermark
        if hw is None:
            return REQUEST_TIMED_OUT, (
                "Request timed out waiting for leader to establish HWM and fence previous voter "
                "changes"
            )
        version = self.history.kraft_version()
        if version < 1:
            return UNSUPPORTED_VERSION, (
                f"Cluster doesn't support changing voters because the kraft.version feature is "
                f"{version}"
            )
        at = self.history.last_voters_offset()
        if at is None or at >= hw:
            return REQUEST_TIMED_OUT, (
                f"Request timed out waiting for voters to commit the latest voter change at "
                f"{at} with HWM {hw}"
            )
        return None

    def _leader_for_voter_change(
        self, cluster_id: str | None, epoch: int
    ) -> tuple[int, str | None]:
        if not self._valid_cluster_id(cluster_id):
            return INCONSISTENT_CLUSTER_ID, (
                f'The given id "{cluster_id}" doesn\'t match the cluster id "{self.cluster_id}"'
            )
        error = self._validate_leader_only_request(epoch)
        return error, None

    def _handle_add_voter_request(self, inbound: Inbound, now_ms: int) -> AddVoterResponse | None:
        request: AddVoterRequest = inbound.message
        error, message = self._leader_for_voter_change(request.cluster_id, self.quorum.epoch)
        if error != NONE:
            return AddVoterResponse(error, message)
        if request.voter_id < 0 or request.voter_directory_id == ZERO_UUID:
            return AddVoterResponse(
                INVALID_REQUEST, "Add voter request didn't include a valid voter"
            )
        address = _address(request.endpoints, self.listener_name)
        if address is None:
            return AddVoterResponse(
                INVALID_REQUEST,
                f"Add voter request didn't include the endpoint for the default listener "
                f"{self.listener_name}",
            )
        state = self.quorum.state
        assert isinstance(state, LeaderState)
        refused = self._voter_change_precheck(state, now_ms)
        if refused is not None:
            return AddVoterResponse(*refused)
        voters = self.history.last_voters()
        if request.voter_id in voters.ids:
            return AddVoterResponse(
                DUPLICATE_VOTER,
                f"The voter id for ReplicaKey(id={request.voter_id}, directoryId="
                f"{request.voter_directory_id}) is already part of the set of voters "
                f"{sorted(voters.ids)}.",
            )
        probe_id = self._next_correlation_id
        self._next_correlation_id += 1
        self._voter_change = PendingVoterChange(
            "add",
            state.epoch,
            inbound.source,
            inbound.correlation_id,
            now_ms + self.config.request_timeout_ms,
            VoterNode(request.voter_id, request.voter_directory_id, request.endpoints),
            ack_when_committed=request.ack_when_committed,
            probe_correlation_id=probe_id,
        )
        self._sends.append(Send(request.voter_id, probe_id, ApiVersionsProbe(address)))
        return None

    def _handle_api_versions_result(self, inbound: Inbound, now_ms: int) -> None:
        result: ApiVersionsResult = inbound.message
        change = self._voter_change
        state = self.quorum.state
        if (
            change is None
            or change.kind != "add"
            or change.probe_correlation_id != inbound.correlation_id
            or change.last_offset is not None
            or not isinstance(state, LeaderState)
        ):
            return  # not expected (any more): ignored, as Kafka does
        voter = change.voter
        if result.error_code != NONE:
            self._finish_voter_change(
                REQUEST_TIMED_OUT,
                f"Aborted add voter operation since API_VERSIONS returned an error "
                f"{result.error_code}",
            )
            return
        version = self.history.kraft_version()
        kraft = result.kraft_versions
        if kraft is None or not kraft[0] <= version <= kraft[1]:
            self._finish_voter_change(
                INVALID_REQUEST,
                f"Aborted add voter operation for {voter.node_id} since the kraft.version range "
                f"{kraft or (0, 0)} doesn't support the finalized version {version}",
            )
            return
        if not state.is_replica_caught_up(voter.node_id, voter.directory_id, now_ms):
            self._finish_voter_change(
                REQUEST_TIMED_OUT,
                f"Aborted add voter operation for {voter.node_id} since it is lagging behind",
            )
            return
        new_voters = self.history.last_voters().add_voter(
            VoterNode(voter.node_id, voter.directory_id, voter.endpoints, kraft)
        )
        if new_voters is None:
            self._finish_voter_change(DUPLICATE_VOTER, f"{voter.node_id} is already a voter")
            return
        change.last_offset = self._append_voters(state, new_voters, now_ms)
        if not change.ack_when_committed:
            self._finish_voter_change(NONE, None)

    def _handle_remove_voter_request(
        self, inbound: Inbound, now_ms: int
    ) -> RemoveVoterResponse | None:
        request: RemoveVoterRequest = inbound.message
        error, message = self._leader_for_voter_change(request.cluster_id, self.quorum.epoch)
        if error != NONE:
            return RemoveVoterResponse(error, message)
        if request.voter_id < 0 or request.voter_directory_id == ZERO_UUID:
            return RemoveVoterResponse(
                INVALID_REQUEST, "Remove voter request didn't include a valid voter"
            )
        state = self.quorum.state
        assert isinstance(state, LeaderState)
        refused = self._voter_change_precheck(state, now_ms)
        if refused is not None:
            return RemoveVoterResponse(*refused)
        voters = self.history.last_voters()
        new_voters = voters.remove_voter(request.voter_id, request.voter_directory_id)
        if new_voters is None:
            return RemoveVoterResponse(
                VOTER_NOT_FOUND,
                f"Cannot remove voter ReplicaKey(id={request.voter_id}, directoryId="
                f"{request.voter_directory_id}) from the set of voters {voters}",
            )
        self._voter_change = PendingVoterChange(
            "remove",
            state.epoch,
            inbound.source,
            inbound.correlation_id,
            now_ms + self.config.request_timeout_ms,
            voters.get(request.voter_id),  # type: ignore[arg-type]
        )
        self._voter_change.last_offset = self._append_voters(state, new_voters, now_ms)
        return None

    def _handle_update_voter_request(self, inbound: Inbound, now_ms: int) -> UpdateVoterResponse:
        request: UpdateVoterRequest = inbound.message

        def answer(error: int) -> UpdateVoterResponse:
            return UpdateVoterResponse(error, self._leader_or_nil(), self.quorum.epoch)

        if not self._valid_cluster_id(request.cluster_id):
            return answer(INCONSISTENT_CLUSTER_ID)
        error = self._validate_leader_only_request(request.current_leader_epoch)
        if error != NONE:
            return answer(error)
        if request.voter_id < 0 or request.voter_directory_id == ZERO_UUID:
            return answer(INVALID_REQUEST)
        if _address(request.endpoints, self.listener_name) is None:
            return answer(INVALID_REQUEST)
        low, high = request.kraft_versions
        if low < 0 or high < 0 or high < low:
            return answer(INVALID_REQUEST)
        state = self.quorum.state
        assert isinstance(state, LeaderState)
        version = self.history.kraft_version()
        voter = VoterNode(
            request.voter_id, request.voter_directory_id, request.endpoints, (low, high)
        )
        if version < 1:
            return answer(self._update_static_voter(state, voter))
        refused = self._voter_change_precheck(state, now_ms)
        if refused is not None:
            return answer(refused[0])
        if not low <= version <= high:
            return answer(INVALID_REQUEST)
        updated = self.history.last_voters().update_voter(voter)
        if updated is None:
            return answer(VOTER_NOT_FOUND)
        self._append_voters(state, updated, now_ms)
        return answer(NONE)

    def _update_static_voter(self, state: LeaderState, voter: VoterNode) -> int:
        """Kafka 4.4 at kraft.version 0: nothing is written; the leader keeps the voters'
        reported endpoints in memory (its "volatile voters", for a later kraft.version
        upgrade: :meth:`upgrade_kraft_version`) and answers NONE; the id alone must match."""
        if self._voter_change is not None or state.high_watermark is None:
            return REQUEST_TIMED_OUT
        low, high = voter.kraft_versions
        if not low <= 0 <= high:
            return INVALID_REQUEST
        if voter.node_id not in self.history.last_voters().ids:
            return VOTER_NOT_FOUND
        self.reported_static_voters[voter.node_id] = voter
        return NONE

    def _append_voters(self, state: LeaderState, voters: VoterSet, now_ms: int) -> int:
        offset = self.log.append_as_leader([VotersChange(voters)], state.epoch)
        self._log_dirty = True
        self.history.apply(offset, VotersChange(voters))
        self._on_voters_changed(now_ms)
        self._on_leader_log_end_changed(state, now_ms)
        return offset

    # --- leader side: completion -----------------------------------------------------------

    def _finish_voter_change(self, error: int, message: str | None) -> None:
        change = self._voter_change
        if change is None:
            return
        self._voter_change = None
        response: AddVoterResponse | RemoveVoterResponse
        if change.kind == "add":
            response = AddVoterResponse(error, message)
        else:
            response = RemoveVoterResponse(error, message)
        self._sends.append(Send(change.source, change.correlation_id, response))

    def _expire_voter_change(self, now_ms: int) -> None:
        change = self._voter_change
        if change is None:
            return
        state = self.quorum.state
        if not isinstance(state, LeaderState) or state.epoch != change.epoch:
            self._finish_voter_change(NOT_LEADER_OR_FOLLOWER, None)
        elif now_ms >= change.deadline_ms:
            self._finish_voter_change(REQUEST_TIMED_OUT, "Request timed out")

    def _poll_voter_change(self, now_ms: int) -> float:
        """Complete, expire or abandon the change in progress; the ms until its deadline."""
        self._expire_voter_change(now_ms)
        change = self._voter_change
        if change is None:
            return NEVER
        state = self.quorum.state
        assert isinstance(state, LeaderState)
        hw = state.high_watermark
        if change.last_offset is not None and hw is not None and hw > change.last_offset:
            self._finish_voter_change(NONE, None)
            if change.kind == "remove" and not self.quorum.is_voter:
                state.resign_requested = True  # Kafka's requestResign: no longer a voter
            return NEVER
        return change.deadline_ms - now_ms

    # --- follower side: UpdateRaftVoter ----------------------------------------------------

    def _update_voter_wait(self, state: FollowerState, now_ms: int) -> float | None:
        """Kafka's ``pollFollowerAsVoter`` update-voter branch: every 3 fetch timeouts, tell
        the leader our endpoints if the log lists them differently. None: nothing sent now."""
        if now_ms < self._update_voter_due_ms:
            return None
        period_ms = UPDATE_VOTER_PERIOD_FETCH_TIMEOUTS * self.config.fetch_timeout_ms
        if self.history.kraft_version() < 1:
            # Kafka 4.4: a static voter reports itself once to each leader, for a later
            # kraft.version upgrade.
            if state.has_updated_leader or self.local_directory_id is None:
                self._update_voter_due_ms = now_ms + period_ms
                return None  # (without a directory id it could never be upgraded)
        elif not self.history.last_voters().voter_node_needs_update(self._local_voter_node()):
            self._update_voter_due_ms = now_ms + period_ms
            return None
        # Due until it is sent: while the leader's connection carries a fetch, no new fetch
        # goes (Kafka's pollFollowerAsVoter sends the update instead of fetching), so the
        # update goes when that fetch is answered. (Pushing the period on before the send
        # could skip it period after period: a follower's fetch is nearly always parked.)
        sent = len(self._sends)
        wait = self._send_request(state.leader_id, self._build_update_voter_request, now_ms)
        if len(self._sends) > sent:
            self._update_voter_due_ms = now_ms + period_ms
        return wait

    def _build_update_voter_request(self, destination: int) -> UpdateVoterRequest:
        local = self._local_voter_node()
        return UpdateVoterRequest(
            cluster_id=self.cluster_id,
            current_leader_epoch=self.quorum.epoch,
            voter_id=local.node_id,
            voter_directory_id=self.local_directory_id or ZERO_UUID,
            endpoints=self.local_endpoints,
            kraft_versions=SUPPORTED_KRAFT_VERSIONS,
        )

    def _handle_update_voter_response(
        self, source: int, response: UpdateVoterResponse, now_ms: int
    ) -> bool:
        leader = None if response.leader_id == NO_LEADER else response.leader_id
        handled = self._maybe_handle_common_response(
            response.error_code, leader, response.leader_epoch, now_ms
        )
        state = self.quorum.state
        if response.error_code == NONE and isinstance(state, FollowerState):
            state.has_updated_leader = True
        return True if handled is None else handled


def _address(endpoints: tuple[VoterEndpoint, ...], listener: str) -> tuple[str, int] | None:
    for endpoint in endpoints:
        if endpoint.name == listener:
            return (endpoint.host, endpoint.port)
    return None
