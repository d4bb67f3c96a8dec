"""The KRaft quorum on trio: :class:`RaftDriver` runs a sans-io :class:`RaftReplica` over the
native metadata log, the quorum-state file and the network.

    driver = RaftDriver(
        node_id=1,
        voters={1: ("127.0.0.1", 9093), 2: ("127.0.0.1", 9094), 3: ("127.0.0.1", 9095)},
        cluster_id="MkU3OEVBNTcwNTJENDM2Qg",
        metadata_dir="/var/lib/kafka/meta",
    )
    register_raft_handlers(controller_dispatcher, driver)   # server/handlers/raft.py
    async with trio.open_nursery() as nursery:
        await nursery.start(driver.run)
        offset = await driver.append([record_bytes, ...])  # returns once committed
        ...
        await driver.shutdown()

What it does with the replica's effects, in the order the replica gives them (all calls into
the replica happen in the trio thread; one task carries the effects out):

- ``PersistElection``: the quorum-state file, written in a worker thread;
- ``FlushLog``: fsync of the log, in a worker thread;
- ``Send``: a request goes to the peer's connection (:mod:`.peer`), a response to the handler
  waiting for it (inbound requests come through :meth:`RaftDriver.handle_request`);
- ``Committed``: appends waiting for the high watermark return, committed-batch listeners get
  the batches now committed, in order.

Effects produced while earlier ones are being carried out wait and are taken together: the
latest election state is written once (it supersedes earlier ones: epochs only grow and a vote
is kept within its epoch), one flush covers every append, then the sends go — so nothing is
sent before the state it depends on is on disk, as the replica requires.

Timers: the replica says when it next needs a tick (``next_deadline_ms``); a task sleeps until
then on the trio clock, or until an event moves the deadline. Nothing polls.

Observers (a broker: ``node_id`` not among the voters) fetch from the leader and never vote.

Dynamic quorum (KIP-853, ``bootstrap_servers`` instead of ``voters``): the voter set comes from
the latest snapshot in the partition directory (the bootstrap checkpoint) and the log; a peer
connection is opened on first use for a voter (its endpoint on this listener, as the voter set
lists it), a bootstrap server (ids -2, -3, ... as Kafka's) or a leader a response named
(``node_endpoints``). AddRaftVoter's ApiVersions call to the new voter (an ``ApiVersionsProbe``
effect) goes on a connection of its own, at v4 (below it Kafka leaves kraft.version out,
KIP-1022), and comes back as an ``ApiVersionsResult``.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import random as _random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import trio

from ferrokafka.cluster.connector import PLAINTEXT, Connector
from ferrokafka.cluster.feature_levels import KRAFT_VERSION_FEATURE
from ferrokafka.cluster.metadata_log import (
    METADATA_PARTITION_DIR,
    SEGMENT_BYTES,
    SnapshotRequiredError,
)
from ferrokafka.cluster.node_client import (
    SOFTWARE_NAME,
    SOFTWARE_VERSION,
    NodeClient,
    NodeUnavailableError,
)
from ferrokafka.cluster.raft.describe import (
    QuorumDescription,
    ReplicaDescription,
    describe_quorum,
)
from ferrokafka.cluster.raft.election import ElectionState
from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.messages import (
    REQUEST_TYPES,
    BeginQuorumEpochRequest,
    Committed,
    EndQuorumEpochRequest,
    FetchRequest,
    FetchSnapshotRequest,
    FlushLog,
    Inbound,
    Outbound,
    PersistElection,
    RaftRequest,
    RaftResponse,
    Send,
    VoteRequest,
)
from ferrokafka.cluster.raft.native_log import NativeRaftLog, StoredBatch
from ferrokafka.cluster.raft.peer import Peer, PeerLimits
from ferrokafka.cluster.raft.quorum import QuorumConfig
from ferrokafka.cluster.raft.quorum_state import QuorumStateFile
from ferrokafka.cluster.raft.replica import NotLeaderError, RaftReplica
from ferrokafka.cluster.raft.voter_changes import (
    VOTER_REQUEST_TYPES,
    ApiVersionsProbe,
    ApiVersionsResult,
    UpdateVoterRequest,
    VoterRequest,
    VoterResponse,
)
from ferrokafka.cluster.raft.voters import VoterEndpoint, VoterSet, VoterSetHistory
from ferrokafka.cluster.raft.wire import Endpoint
from ferrokafka.cluster.snapshot_file import Snapshot, SnapshotId, read_snapshot
from ferrokafka.protocol.error_codes import REQUEST_TIMED_OUT
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest

log = logging.getLogger(__name__)

CONTROLLER_LISTENER = "CONTROLLER"
# The tick loop's shortest sleep when the replica is due again in the same millisecond.
TICK_MIN_S = 0.001
# Committed batches read per step for the listeners.
DELIVER_BATCHES_MAX = 1024
# Beyond the replica's shutdown timeout: time for the last sends to leave.
SHUTDOWN_SLACK_S = 1.0


@dataclass(frozen=True)
class DriverLimits:
    peer: PeerLimits = PeerLimits()
    peers_max: int = 256  # connections to other quorum nodes (voters, bootstrap servers)
    inbound_pending_max: int = 1024  # requests from peers being answered at once
    appends_pending_max: int = 10_000  # appends waiting for their commit
    effects_pending_max: int = 10_000  # effects waiting while a flush runs (then sends drop)
    listeners_max: int = 64  # committed-batch listeners
    shutdown_timeout_ms: int = 5_000  # a leader's wait for a successor when it shuts down


DEFAULT_QUORUM_CONFIG = QuorumConfig()
BOOTSTRAP_ID_FIRST = -2  # KafkaRaftClient numbers bootstrap servers -2, -3, ...
ADMIN_SOURCE = -1  # the "source" of an Add/Remove/UpdateRaftVoter request
VOTER_CHANGE_SLACK_MS = 1000  # beyond the request timeout, for the replica's own timeout answer
API_VERSIONS_PROBE_VERSION = (
    4  # KIP-1022: below v4 a feature whose min is 0 (kraft.version) is left out
)
NO_DIRECTORY_ID = uuid.UUID(int=0)  # Kafka's ReplicaKey.NO_DIRECTORY_ID


class DriverUnavailable(Exception):
    """The driver is not running (not started, shut down) or is overloaded."""


CommittedListener = Callable[[StoredBatch], None]


class _Reply:
    __slots__ = ("event", "response", "stopped")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.response: RaftResponse | None = None
        self.stopped = False  # the driver stopped before answering


class _PendingAppend:
    __slots__ = ("offset", "epoch", "event", "error")

    def __init__(self, offset: int, epoch: int) -> None:
        self.offset = offset
        self.epoch = epoch
        self.event = trio.Event()
        self.error: Exception | None = None


def latest_snapshot(partition_dir: Path) -> Snapshot | None:
    """The snapshot with the largest id in the metadata partition's directory (the bootstrap
    checkpoint on a new node), None if there is none."""
    try:
        names = os.listdir(partition_dir)
    except FileNotFoundError:
        return None
    ids = [i for i in map(SnapshotId.from_file_name, names) if i is not None]
    if not ids:
        return None
    return read_snapshot(partition_dir / max(ids).file_name)


def _source_of(request: RaftRequest | VoterRequest) -> int:
    if isinstance(request, VOTER_REQUEST_TYPES):
        # Answered through the correlation id; any id not a node's will do as the source.
        return ADMIN_SOURCE
    if isinstance(request, (BeginQuorumEpochRequest, EndQuorumEpochRequest)):
        return request.leader_id
    assert isinstance(request, (VoteRequest, FetchRequest, FetchSnapshotRequest))
    return request.replica_id


class RaftDriver:
    def __init__(
        self,
        *,
        node_id: int,
        voters: Mapping[int, tuple[str, int]] | None = None,
        cluster_id: str | None,
        metadata_dir: str | os.PathLike[str],
        config: QuorumConfig = DEFAULT_QUORUM_CONFIG,
        listener_name: str = CONTROLLER_LISTENER,
        directory_id: uuid.UUID = NO_DIRECTORY_ID,
        limits: DriverLimits = DriverLimits(),
        random: _random.Random | None = None,
        segment_bytes: int = SEGMENT_BYTES,
        bootstrap_servers: Sequence[tuple[str, int]] = (),
        endpoints: Sequence[VoterEndpoint] = (),
        connector: Connector = PLAINTEXT,
    ) -> None:
        """``voters``: a static ``controller.quorum.voters``; or ``bootstrap_servers``
        (``controller.quorum.bootstrap.servers``, KIP-853): the voter set is then read from
        the latest snapshot (the bootstrap checkpoint) and the log. ``endpoints``: this node's
        controller listeners as it would be listed as a voter."""
        if not voters and not bootstrap_servers:
            raise ValueError("a quorum needs voters or bootstrap servers")
        self.node_id = node_id
        self.static_voters = {v: (host, int(port)) for v, (host, port) in (voters or {}).items()}
        # Kafka's ids for bootstrap servers: -2, -3, ... (never a node id).
        self.bootstrap_addresses = {
            BOOTSTRAP_ID_FIRST - i: (host, int(port))
            for i, (host, port) in enumerate(bootstrap_servers)
        }
        self.local_endpoints = tuple(endpoints)
        # Node endpoints learned from responses (the leader's, when it is not yet in our set).
        self._learned: dict[int, tuple[str, int]] = {}
        self._nursery: trio.Nursery | None = None
        self.cluster_id = cluster_id
        self.metadata_dir = os.fspath(metadata_dir)
        self.config = config
        self.listener_name = listener_name
        # How the controller listener is dialled (its TLS and SASL).
        self.connector = connector
        self.directory_id = directory_id
        self.limits = limits
        self._random = random or _random.Random()
        self.segment_bytes = segment_bytes  # metadata.log.segment.bytes
        self.log: NativeRaftLog | None = None
        self.replica: RaftReplica | None = None
        # Where Kafka keeps it: in the partition directory, beside the log segments.
        self._state_file = QuorumStateFile(Path(self.metadata_dir) / METADATA_PARTITION_DIR)
        self._peers: dict[int, Peer] = {}
        self._inbound_ids = itertools.count(1)
        self._replies: dict[int, _Reply] = {}
        self._appends: list[_PendingAppend] = []
        self._listeners: list[tuple[CommittedListener, list[int]]] = []
        self._effects: list[Outbound] = []
        self._effects_ready = trio.Event()
        self._deadline_moved = trio.Event()
        self._committed_changed = trio.Event()
        # Pulsed whenever the epoch or the leader changes (the controller follows leadership).
        self._leadership_changed = trio.Event()
        self._seen_leadership: tuple[int, int | None] = (0, None)
        self._deliver_wanted = trio.Event()
        self._running = False
        self._cancel: trio.CancelScope | None = None
        self._shutdown_done = trio.Event()
        self._busy = False  # carrying out a batch of effects
        self._idle = trio.Event()  # pulsed when a batch is done and none waits

    # --- what the owner sees ---------------------------------------------------------------

    @property
    def voters(self) -> dict[int, tuple[str, int] | None]:
        """The current voters (static, or the latest VotersRecord) and their addresses on
        this driver's listener."""
        if self.replica is None:
            return dict(self.static_voters)
        voter_set = self.replica.history.last_voters()
        return {v: voter_set.address(v, self.listener_name) for v in sorted(voter_set.ids)}

    def voter_set(self) -> VoterSet | None:
        return None if self.replica is None else self.replica.history.last_voters()

    @property
    def is_voter(self) -> bool:
        if self.replica is None:
            return self.node_id in self.static_voters
        return self.replica.quorum.is_voter

    @property
    def is_leader(self) -> bool:
        return self.replica is not None and self.replica.is_leader

    @property
    def leader_id(self) -> int | None:
        return None if self.replica is None else self.replica.leader_id

    @property
    def epoch(self) -> int:
        return 0 if self.replica is None else self.replica.epoch

    @property
    def committed_offset(self) -> int:
        """One past the last committed record (the high watermark), 0 if unknown."""
        hw = None if self.replica is None else self.replica.high_watermark
        return hw or 0

    def address_of(self, node_id: int) -> tuple[str, int] | None:
        """Where to reach ``node_id`` on this listener: a voter's listed endpoint, a static
        voter, a bootstrap server, or an endpoint a response named."""
        if node_id == self.node_id:
            for endpoint in self.local_endpoints:
                if endpoint.name == self.listener_name:
                    return (endpoint.host, endpoint.port)
        if self.replica is not None:
            address = self.replica.history.last_voters().address(node_id, self.listener_name)
            if address is not None:
                return address
        return (
            self.static_voters.get(node_id)
            or self.bootstrap_addresses.get(node_id)
            or self._learned.get(node_id)
        )

    def endpoint_of(self, node_id: int) -> Endpoint | None:
        address = self.address_of(node_id)
        return None if address is None else Endpoint(self.listener_name, *address)

    def leader_endpoint(self) -> tuple[int, Endpoint] | None:
        leader = self.leader_id
        endpoint = None if leader is None else self.endpoint_of(leader)
        return None if endpoint is None or leader is None else (leader, endpoint)

    def describe_quorum(self) -> QuorumDescription | None:
        """The leader's view of the quorum (DescribeQuorum), times in wall-clock ms; None when
        this node does not lead (the caller answers NOT_LEADER_OR_FOLLOWER)."""
        state = None if self.replica is None or not self._running else self.replica.state
        if not isinstance(state, LeaderState):
            return None
        now_ms = self._now_ms()
        found = describe_quorum(state, now_ms, int(time.time() * 1000) - now_ms)
        # KIP-853: a voter's key has the directory id the voter set lists (none if static).
        voter_set = self.replica.history.last_voters()

        def keyed(d: ReplicaDescription) -> ReplicaDescription:
            node = voter_set.get(d.replica_id)
            directory = None if node is None else node.directory_id
            return replace(d, directory_id=directory or NO_DIRECTORY_ID)

        return replace(found, voters=tuple(keyed(d) for d in found.voters))

    def add_committed_listener(self, listener: CommittedListener, start_offset: int = 0) -> None:
        """Call ``listener`` (in the trio thread) with every committed batch from
        ``start_offset`` on, in order, data and control batches alike (``is_control``).
        Batches below the log start offset are gone (only in a snapshot): a listener behind
        it goes on from the log start (the metadata loader reads the snapshot itself)."""
        if len(self._listeners) >= self.limits.listeners_max:
            raise ValueError(f"more than {self.limits.listeners_max} committed listeners")
        self._listeners.append((listener, [start_offset]))
        self._deliver_wanted.set()

    async def wait_leadership_change(self) -> None:
        """Until the epoch or the leader changes (or the replica reports it: see _apply)."""
        await self._leadership_changed.wait()

    async def wait_committed(self, offset: int) -> None:
        """Wait until the high watermark passes ``offset`` (for observers and tests)."""
        while self.committed_offset <= offset:
            await self._committed_changed.wait()

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the log and quorum-state, start the replica, serve until cancelled or shut
        down. The log is closed on the way out. Once per driver: a restart is a new driver
        over the same directory."""
        if self.log is not None:
            raise RuntimeError("a RaftDriver runs once; make a new one to restart")
        election = await trio.to_thread.run_sync(self._state_file.read)
        history = await trio.to_thread.run_sync(self._voter_history)
        self.log = await trio.to_thread.run_sync(
            lambda: NativeRaftLog(self.metadata_dir, segment_bytes=self.segment_bytes)
        )
        try:
            with trio.CancelScope() as scope:
                self._cancel = scope
                self.replica = RaftReplica(
                    node_id=self.node_id,
                    voters=history,
                    log=self.log,
                    config=self.config,
                    random=self._random,
                    now_ms=self._now_ms(),
                    election=election,
                    cluster_id=self.cluster_id,
                    directory_id=(
                        None if self.directory_id == NO_DIRECTORY_ID else self.directory_id
                    ),
                    endpoints=self.local_endpoints,
                    listener_name=self.listener_name,
                    bootstrap_servers=tuple(sorted(self.bootstrap_addresses, reverse=True)),
                )
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    nursery.start_soon(self._carry_out_effects)
                    nursery.start_soon(self._deliver_committed)
                    nursery.start_soon(self._tick_loop)
                    self._running = True
                    self._apply(self.replica.tick(self._now_ms()))
                    task_status.started()
        finally:
            self._running = False
            self._fail_all(DriverUnavailable(f"raft driver of node {self.node_id} stopped"))
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.log.close)

    async def shutdown(self, timeout_ms: int | None = None) -> None:
        """Graceful: a leader resigns and tells the voters (EndQuorumEpoch), waiting up to
        ``timeout_ms`` for a successor; then :meth:`run` returns."""
        if self.replica is None or self._cancel is None:
            return
        timeout = self.limits.shutdown_timeout_ms if timeout_ms is None else timeout_ms
        self.replica.shutdown(self._now_ms(), timeout)
        self._apply(self.replica.tick(self._now_ms()))
        with trio.move_on_after(timeout / 1000 + SHUTDOWN_SLACK_S):
            await self._shutdown_done.wait()
            # Let the last effects (EndQuorumEpoch, responses) go out.
            while self._effects or self._busy:
                await self._idle.wait()
        self._cancel.cancel()

    # --- appends ---------------------------------------------------------------------------

    async def append(self, payloads: Sequence[bytes]) -> int:
        """Append ``payloads`` as one batch (one controller operation) as the leader; returns
        the offset of its last record once it is committed. Raises NotLeaderError if this node
        does not lead, or leadership is lost before the batch commits (it may still commit
        under the next leader, as in Kafka)."""
        replica = self._require_running()
        if not payloads:
            raise ValueError("an append needs at least one record")
        if len(self._appends) >= self.limits.appends_pending_max:
            raise DriverUnavailable(f"{len(self._appends)} appends already wait for a commit")
        try:
            offset = replica.append(list(payloads), self._now_ms())
        except OSError as exc:
            # The metadata log's disk failed under the caller (a controller operation): the
            # driver fails with it, as when its own tasks hit the disk, so that the node
            # halts (Kafka: "the metadata log dir ... has failed") instead of serving on.
            self._fail_run(exc)
            raise
        pending = _PendingAppend(offset, replica.epoch)
        self._appends.append(pending)
        self._apply(replica.tick(self._now_ms()))
        await pending.event.wait()
        if pending.error is not None:
            raise pending.error
        return offset

    def _fail_run(self, exc: BaseException) -> None:
        """End :meth:`run` with ``exc`` (raised from a task of its nursery)."""
        if self._nursery is None:
            return

        async def fail() -> None:
            raise exc

        self._nursery.start_soon(fail)

    def kraft_version(self) -> int:
        """The finalized kraft.version: the latest in the log (0 before the replica runs)."""
        return 0 if self.replica is None else self.replica.history.kraft_version()

    def upgrade_kraft_version(self, version: int, validate_only: bool) -> bool:
        """As the leader, append the kraft.version upgrade of a static quorum (the replica's
        ``upgrade_kraft_version``); whether anything was appended. Raises NotLeaderError or
        KRaftUpgradeError. The append commits like any other; a controller write after it
        in the same epoch commits after it."""
        replica = self._require_running()
        now = self._now_ms()
        appended = replica.upgrade_kraft_version(replica.epoch, version, validate_only, now)
        self._apply(replica.tick(now))
        return appended

    # --- inbound requests (from server/handlers/raft.py) -------------------------------------

    async def handle_request(
        self, request: RaftRequest | VoterRequest
    ) -> RaftResponse | VoterResponse | None:
        """Answer a peer's request; None if no answer came in time (the caller answers
        REQUEST_TIMED_OUT). A Fetch may wait (long poll) up to its ``max_wait_ms``."""
        replica = self._require_running()
        if len(self._replies) >= self.limits.inbound_pending_max:
            raise DriverUnavailable(f"{len(self._replies)} requests already being answered")
        local_id = next(self._inbound_ids)
        reply = _Reply()
        self._replies[local_id] = reply
        wait_ms = self.config.request_timeout_ms
        if isinstance(request, FetchRequest):
            wait_ms += max(0, request.max_wait_ms)
        elif isinstance(request, VOTER_REQUEST_TYPES):
            wait_ms += VOTER_CHANGE_SLACK_MS  # the replica times the change out itself
        try:
            self._apply(
                replica.handle(Inbound(_source_of(request), local_id, request), self._now_ms())
            )
            with trio.move_on_after(wait_ms / 1000):
                await reply.event.wait()
        finally:
            self._replies.pop(local_id, None)
        if reply.stopped:
            raise DriverUnavailable(f"raft driver of node {self.node_id} stopped")
        return reply.response

    # --- the replica's effects -------------------------------------------------------------

    def _apply(self, effects: list[Outbound]) -> None:
        """Queue what one call into the replica returned (every call ends here)."""
        if self.replica is not None and self.replica.shutdown_complete:
            self._shutdown_done.set()
        leadership = (self.epoch, self.leader_id)
        if leadership != self._seen_leadership:
            self._seen_leadership = leadership
            self._leadership_changed.set()
            self._leadership_changed = trio.Event()
        if effects:
            if len(self._effects) + len(effects) > self.limits.effects_pending_max:
                # As a congested network would: drop the oldest sends; keep state effects.
                kept: list[Outbound] = [e for e in self._effects if not isinstance(e, Send)]
                log.warning("raft: %d effects pending; sends dropped", len(self._effects))
                self._effects = kept
            self._effects.extend(effects)
            self._effects_ready.set()
        self._deadline_moved.set()

    async def _carry_out_effects(self) -> None:
        assert self.log is not None
        while True:
            await self._effects_ready.wait()
            self._effects_ready = trio.Event()
            self._busy = True
            batch, self._effects = self._effects, []
            elections = [e.election for e in batch if isinstance(e, PersistElection)]
            if elections:
                await trio.to_thread.run_sync(self._state_file.write, elections[-1])
            if any(isinstance(e, FlushLog) for e in batch):
                await trio.to_thread.run_sync(self.log.flush)
            committed = False
            for effect in batch:
                if isinstance(effect, Send):
                    self._route(effect)
                elif isinstance(effect, Committed):
                    committed = True
            if committed:
                self._on_committed()
            self._check_leadership()
            self._busy = False
            if not self._effects:
                self._idle.set()
                self._idle = trio.Event()

    def _voter_history(self) -> VoterSetHistory:
        """Static voters, or the voter set and kraft.version of the latest snapshot."""
        if self.static_voters:
            return VoterSetHistory(VoterSet.static(self.static_voters, self.listener_name))
        history = VoterSetHistory()
        snapshot = latest_snapshot(Path(self.metadata_dir) / METADATA_PARTITION_DIR)
        if snapshot is not None:
            voters = None if snapshot.voters is None else VoterSet.from_record(snapshot.voters)
            history.bootstrap(snapshot.kraft_version, voters)
        return history

    def _peer(self, node_id: int) -> Peer | None:
        """The connection to ``node_id``, opened on first use (voters come and go)."""
        peer = self._peers.get(node_id)
        if peer is not None:
            # Kept for the driver's life: a voter that moves (UpdateRaftVoter) is reached at
            # its new address after a restart of this node.
            return peer
        address = self.address_of(node_id)
        if address is None or self._nursery is None or node_id == self.node_id:
            return None
        if len(self._peers) >= self.limits.peers_max:
            return None
        peer = Peer(
            node_id,
            address,
            f"raft-client-{self.node_id}",
            self.endpoint_of(self.node_id),
            self._on_response,
            self._on_send_failed,
            dataclasses.replace(
                self.limits.peer, request_timeout_s=self.config.request_timeout_ms / 1000
            ),
            on_node_endpoints=self._on_node_endpoints,
            connector=self.connector,
        )
        self._peers[node_id] = peer
        self._nursery.start_soon(peer.run)
        return peer

    def _on_node_endpoints(self, found: list[tuple[int, str, int]]) -> None:
        for node_id, host, port in found:
            if node_id >= 0 and node_id != self.node_id and host:
                self._learned[node_id] = (host, port)

    def _route(self, send: Send) -> None:
        if isinstance(send.message, ApiVersionsProbe):
            if self._nursery is None:
                return
            self._nursery.start_soon(self._probe_api_versions, send)
        elif isinstance(send.message, (*REQUEST_TYPES, UpdateVoterRequest)):
            request = send.message
            if isinstance(request, (VoteRequest, FetchRequest)):
                request = replace(request, replica_directory_id=self.directory_id)
            peer = self._peer(send.destination)
            if peer is None:
                self._on_send_failed(send.destination, send.correlation_id)
            else:
                peer.send_nowait(send.correlation_id, request)
        else:
            reply = self._replies.get(send.correlation_id)
            if reply is not None and not reply.event.is_set():
                reply.response = send.message
                reply.event.set()

    async def _probe_api_versions(self, send: Send) -> None:
        """AddRaftVoter's ApiVersions to the new voter: its kraft.version range."""
        probe = send.message
        assert isinstance(probe, ApiVersionsProbe)
        client = NodeClient(
            probe.address,
            client_id=f"raft-client-{self.node_id}",
            timeout_s=self.config.request_timeout_ms / 1000,
            connector=self.connector,
        )
        result = ApiVersionsResult(REQUEST_TIMED_OUT, None)
        try:
            request = ApiVersionsRequest(
                client_software_name=SOFTWARE_NAME, client_software_version=SOFTWARE_VERSION
            )
            response = await client.call(request, version=API_VERSIONS_PROBE_VERSION)
            kraft = next(
                (
                    (f.min_version, f.max_version)
                    for f in response.supported_features
                    if f.name == KRAFT_VERSION_FEATURE
                ),
                None,
            )
            result = ApiVersionsResult(response.error_code, kraft)
        except NodeUnavailableError as exc:
            log.info("raft: ApiVersions to %s:%d failed: %s", *probe.address, exc)
        finally:
            with trio.CancelScope(shield=True):
                await client.aclose()
        if self.replica is not None and self._running:
            inbound = Inbound(send.destination, send.correlation_id, result)
            self._apply(self.replica.handle(inbound, self._now_ms()))

    def _on_committed(self) -> None:
        hw = self.committed_offset
        waiting = []
        for pending in self._appends:
            if pending.offset < hw:
                pending.event.set()
            else:
                waiting.append(pending)
        self._appends = waiting
        self._deliver_wanted.set()
        self._committed_changed.set()
        self._committed_changed = trio.Event()

    async def _deliver_committed(self) -> None:
        """Committed batches to the listeners: read in a worker thread (a restarted node may
        have a long log to replay), a bounded chunk at a time, handed over in the trio
        thread. Batches below the high watermark never change, so reading them beside the
        trio thread's appends and truncations (always above it) is safe."""
        log = self.log
        assert log is not None
        while True:
            await self._deliver_wanted.wait()
            self._deliver_wanted = trio.Event()
            for listener, position in list(self._listeners):
                position[0] = max(position[0], log.start_offset())
                while position[0] < (hw := self.committed_offset):
                    chunk = await trio.to_thread.run_sync(
                        self._read_committed_chunk, log, position[0], hw
                    )
                    if not chunk:
                        if position[0] < log.start_offset():
                            position[0] = log.start_offset()  # the prefix went meanwhile
                            continue
                        break
                    for batch in chunk:
                        if batch.last_offset >= position[0]:
                            listener(batch)
                        position[0] = batch.last_offset + 1

    @staticmethod
    def _read_committed_chunk(log: NativeRaftLog, start: int, end: int) -> list[StoredBatch]:
        try:
            return list(itertools.islice(log.batches(start, end), DELIVER_BATCHES_MAX))
        except SnapshotRequiredError:
            return []  # the prefix went meanwhile: the next round starts at the log start

    def _check_leadership(self) -> None:
        replica = self.replica
        if not self._appends or replica is None:
            return
        waiting = []
        for pending in self._appends:
            if not replica.is_leader or replica.epoch != pending.epoch:
                pending.error = NotLeaderError(
                    f"node {self.node_id} lost the leadership of epoch {pending.epoch} before "
                    f"offset {pending.offset} committed"
                )
                pending.event.set()
            else:
                waiting.append(pending)
        self._appends = waiting

    def _fail_all(self, error: Exception) -> None:
        for pending in self._appends:
            pending.error = error
            pending.event.set()
        self._appends = []
        for reply in self._replies.values():
            reply.stopped = True
            reply.event.set()

    # --- responses and failures from the peers ---------------------------------------------

    def _on_response(self, peer_id: int, correlation_id: int, response: RaftResponse) -> None:
        if self.replica is not None and self._running:
            self._apply(
                self.replica.handle(Inbound(peer_id, correlation_id, response), self._now_ms())
            )

    def _on_send_failed(self, peer_id: int, correlation_id: int) -> None:
        if self.replica is not None and self._running:
            self._apply(self.replica.on_send_failed(peer_id, correlation_id, self._now_ms()))

    # --- timers ----------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        replica = self.replica
        assert replica is not None
        while True:
            self._deadline_moved = trio.Event()
            wait_ms = replica.next_deadline_ms - self._now_ms()
            if wait_ms <= 0:
                now = self._now_ms()
                self._apply(replica.tick(now))
                if replica.next_deadline_ms <= now:
                    await trio.sleep(TICK_MIN_S)  # due again at once: let the clock move
                continue
            with trio.move_on_after(wait_ms / 1000 if math.isfinite(wait_ms) else math.inf):
                await self._deadline_moved.wait()

    @staticmethod
    def _now_ms() -> int:
        return int(trio.current_time() * 1000)

    def _require_running(self) -> RaftReplica:
        if not self._running or self.replica is None:
            raise DriverUnavailable(f"raft driver of node {self.node_id} is not running")
        return self.replica

    def stored_election(self) -> ElectionState | None:
        """The quorum-state file as on disk (for tools and tests)."""
        return self._state_file.read()
