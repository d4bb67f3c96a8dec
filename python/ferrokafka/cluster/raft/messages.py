"""The KRaft RPCs as the quorum's state machine sees them, and the envelopes around them.

Each dataclass carries exactly the fields of one partition entry of Kafka's request or
response (``VoteRequest``, ``BeginQuorumEpochRequest``, ``EndQuorumEpochRequest``,
``FetchRequest``, ``FetchSnapshotRequest`` and their responses in
``ferrokafka.protocol.messages``), flattened: KRaft only ever sends one topic
(``__cluster_metadata``) with one partition, so the driver fills in the topic name (or id) and
``partition_index`` and unwraps them on the way in. Field names are the codecs' names; a
nested struct of the codec (``diverging_epoch``, ``current_leader``, ``snapshot_id``) is an
:class:`OffsetAndEpoch` or a pair of fields here, with ``None`` or ``-1`` for Kafka's "absent".
Listener endpoints are the driver's business: the voter set maps ids to endpoints.

Why not use the generated codecs directly? They describe every version of the wire format and
carry byte-level concerns (tagged fields, record batches as bytes); the state machine wants
plain immutable values it can compare, duplicate and replay in a simulation. The driver maps
one to the other 1:1.

Records travel as :class:`~ferrokafka.cluster.raft.log.Record` tuples; the driver encodes them
as batches (a :class:`~ferrokafka.cluster.raft.log.LeaderChange` as a control batch).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ferrokafka.cluster.raft.election import ElectionState
from ferrokafka.cluster.raft.log import OffsetAndEpoch, Record
from ferrokafka.protocol.error_codes import NONE

ZERO_UUID = uuid.UUID(int=0)
NO_LEADER = -1  # Kafka's leader id for "unknown leader"
UNKNOWN_HIGH_WATERMARK = (1 << 63) - 1  # Fetch's high_watermark default (Long.MAX_VALUE)


# --- Vote (API key 52), with KIP-996's pre_vote -------------------------------------------


@dataclass(frozen=True, slots=True)
class VoteRequest:
    cluster_id: str | None
    voter_id: int  # the receiver
    replica_epoch: int  # the candidate's epoch (a prospective's current epoch for a pre-vote)
    replica_id: int  # the sender
    last_offset_epoch: int
    last_offset: int  # the sender's log end offset
    pre_vote: bool = False
    replica_directory_id: uuid.UUID = ZERO_UUID
    voter_directory_id: uuid.UUID = ZERO_UUID


@dataclass(frozen=True, slots=True)
class VoteResponse:
    error_code: int  # partition level
    leader_id: int
    leader_epoch: int
    vote_granted: bool
    top_level_error_code: int = NONE


# --- BeginQuorumEpoch (53) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BeginQuorumEpochRequest:
    cluster_id: str | None
    voter_id: int  # the receiver
    leader_id: int
    leader_epoch: int
    voter_directory_id: uuid.UUID = ZERO_UUID


@dataclass(frozen=True, slots=True)
class BeginQuorumEpochResponse:
    error_code: int
    leader_id: int
    leader_epoch: int
    top_level_error_code: int = NONE


# --- EndQuorumEpoch (54) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndQuorumEpochRequest:
    cluster_id: str | None
    leader_id: int
    leader_epoch: int
    # Voters in the order the resigning leader prefers as successors (most caught up first):
    # ``preferred_successors`` in v0, ``preferred_candidates`` (id + directory id) in v1.
    preferred_candidates: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EndQuorumEpochResponse:
    error_code: int
    leader_id: int
    leader_epoch: int
    top_level_error_code: int = NONE


# --- Fetch (1), the KRaft subset ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchRequest:
    cluster_id: str | None
    replica_id: int  # ``replica_state.replica_id`` from v15
    max_wait_ms: int
    current_leader_epoch: int
    fetch_offset: int
    last_fetched_epoch: int
    max_bytes: int  # ``partition_max_bytes`` (and the request's ``max_bytes``)
    log_start_offset: int = -1
    replica_directory_id: uuid.UUID = ZERO_UUID
    # The fetcher's high watermark (v18, KIP-1166; -1 if it knows none): a leader whose own is
    # past it answers at once instead of parking the fetch. UNKNOWN_HIGH_WATERMARK when absent.
    high_watermark: int = UNKNOWN_HIGH_WATERMARK


@dataclass(frozen=True, slots=True)
class FetchResponse:
    error_code: int
    high_watermark: int  # -1 when unknown
    leader_id: int  # ``current_leader.leader_id``
    leader_epoch: int  # ``current_leader.leader_epoch``
    records: tuple[Record, ...] = ()
    diverging_epoch: OffsetAndEpoch | None = None  # (end_offset, epoch); None is (-1, -1)
    snapshot_id: OffsetAndEpoch | None = None  # (end_offset, epoch); None is (-1, -1)
    log_start_offset: int = 0
    top_level_error_code: int = NONE


# --- FetchSnapshot (59) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchSnapshotRequest:
    cluster_id: str | None
    replica_id: int
    current_leader_epoch: int
    snapshot_id: OffsetAndEpoch
    position: int
    max_bytes: int
    replica_directory_id: uuid.UUID = ZERO_UUID


@dataclass(frozen=True, slots=True)
class FetchSnapshotResponse:
    error_code: int
    leader_id: int
    leader_epoch: int
    snapshot_id: OffsetAndEpoch
    size: int = 0
    position: int = 0
    unaligned_records: bytes = b""
    top_level_error_code: int = NONE


RaftRequest = (
    VoteRequest
    | BeginQuorumEpochRequest
    | EndQuorumEpochRequest
    | FetchRequest
    | FetchSnapshotRequest
)
RaftResponse = (
    VoteResponse
    | BeginQuorumEpochResponse
    | EndQuorumEpochResponse
    | FetchResponse
    | FetchSnapshotResponse
)
REQUEST_TYPES = (
    VoteRequest,
    BeginQuorumEpochRequest,
    EndQuorumEpochRequest,
    FetchRequest,
    FetchSnapshotRequest,
)


# --- Envelopes: what goes into the state machine and what comes out -------------------------


@dataclass(frozen=True, slots=True)
class Inbound:
    """A request or response from ``source``. A response carries the correlation id of the
    request it answers (the driver keeps the per-connection mapping); a request carries the id
    its response must echo."""

    source: int
    correlation_id: int
    message: RaftRequest | RaftResponse


@dataclass(frozen=True, slots=True)
class PersistElection:
    """Write the quorum-state file (epoch, leader, voted-for) durably before anything after
    it in the same list is done."""

    election: ElectionState


@dataclass(frozen=True, slots=True)
class FlushLog:
    """Flush the log durably (fsync) up to its current end before anything after it."""

    end_offset: int


@dataclass(frozen=True, slots=True)
class Send:
    """Send a request (a new ``correlation_id``) or a response (the request's) to a node."""

    destination: int
    correlation_id: int
    message: RaftRequest | RaftResponse


@dataclass(frozen=True, slots=True)
class Committed:
    """The high watermark moved: records below it are committed and may be applied. Always
    last in its list, so it is acted on only after the flushes and sends before it."""

    high_watermark: int


Outbound = PersistElection | FlushLog | Send | Committed
