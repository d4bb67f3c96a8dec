"""The quorum's RPCs on the wire: the raft dataclasses (``messages``) to and from the generated
protocol messages, as Kafka's ``KafkaRaftClient`` and ``RaftUtil`` build and read them.

Every request and response names one topic, ``__cluster_metadata``, with one partition, 0;
Fetch from v13 names it by Kafka's fixed metadata topic id (``Uuid.METADATA_TOPIC_ID``,
``AAAAAAAAAAAAAAAAAAAAAQ``) and keeps the name for older versions. Errors come at two levels:
a top-level ``error_code`` (the request as a whole: INVALID_REQUEST for another topic or
partition, INCONSISTENT_CLUSTER_ID) and the partition's (the quorum's answer). Responses from
v1 (Fetch v17) carry the leader's endpoint on the listener the request came in on.

Versions are what a Kafka 4.4 voter negotiates with another 4.4 node (each API's latest, from
the protocol table): Vote v2 (KIP-996 pre-vote), BeginQuorumEpoch v1, EndQuorumEpoch v1,
Fetch v18, FetchSnapshot v1.

A request that does not name exactly the metadata partition raises :class:`WireError`; the
handler answers it with :func:`error_response` (top-level INVALID_REQUEST, as Kafka does).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ferrokafka.cluster.raft import messages as raft
from ferrokafka.cluster.raft.log import OffsetAndEpoch
from ferrokafka.cluster.raft.records import RecordsError, decode_records, encode_records
from ferrokafka.cluster.raft.voter_changes import UpdateVoterRequest
from ferrokafka.cluster.raft.voter_wire import (
    update_voter_request_to_wire,
    update_voter_response_from_wire,
)
from ferrokafka.protocol.error_codes import NONE, UNKNOWN_SERVER_ERROR
from ferrokafka.protocol.messages import begin_quorum_epoch as bqe
from ferrokafka.protocol.messages import end_quorum_epoch as eqe
from ferrokafka.protocol.messages import fetch as f
from ferrokafka.protocol.messages import fetch_snapshot as fs
from ferrokafka.protocol.messages import vote as v
from ferrokafka.protocol.messages.update_raft_voter import UpdateRaftVoterResponse
from ferrokafka.protocol.schema import Message

METADATA_TOPIC = "__cluster_metadata"
METADATA_PARTITION = 0
METADATA_TOPIC_ID = uuid.UUID(int=1)  # Kafka's Uuid.METADATA_TOPIC_ID

VOTE = 52
BEGIN_QUORUM_EPOCH = 53
END_QUORUM_EPOCH = 54
FETCH = 1
FETCH_SNAPSHOT = 59
API_VERSIONS = {VOTE: 2, BEGIN_QUORUM_EPOCH: 1, END_QUORUM_EPOCH: 1, FETCH: 18, FETCH_SNAPSHOT: 1}
# The first versions with the leader's endpoint in responses (Fetch: RaftUtil checks 17).
ENDPOINT_VERSIONS = {
    VOTE: 1,
    BEGIN_QUORUM_EPOCH: 1,
    END_QUORUM_EPOCH: 1,
    FETCH: 17,
    FETCH_SNAPSHOT: 1,
}
FETCH_TOPIC_ID_VERSION = 13
FETCH_REPLICA_STATE_VERSION = 15
# Kafka's KafkaRaftClient.MAX_FETCH_SIZE_BYTES: the request's max_bytes.
FETCH_MAX_BYTES = 8 * 1024 * 1024

API_KEYS = {
    raft.VoteRequest: VOTE,
    raft.BeginQuorumEpochRequest: BEGIN_QUORUM_EPOCH,
    raft.EndQuorumEpochRequest: END_QUORUM_EPOCH,
    raft.FetchRequest: FETCH,
    raft.FetchSnapshotRequest: FETCH_SNAPSHOT,
}


class WireError(ValueError):
    """A message that is not about the metadata partition, or is malformed."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A listener of a voter: Kafka's ``Endpoints`` entry (listener name, host, port)."""

    name: str
    host: str
    port: int


def _one_partition(
    topics: list[Any],
    name_of: Callable[[Any], str],
    partitions_of: Callable[[Any], list[Any]],
    index_of: Callable[[Any], int],
) -> Any:
    """The one partition entry of a message about the metadata partition, else WireError."""
    if len(topics) != 1 or name_of(topics[0]) != METADATA_TOPIC:
        raise WireError(f"not exactly the topic {METADATA_TOPIC}")
    parts = partitions_of(topics[0])
    if len(parts) != 1 or index_of(parts[0]) != METADATA_PARTITION:
        raise WireError(f"not exactly partition {METADATA_PARTITION} of {METADATA_TOPIC}")
    return parts[0]


def _topic_name(t: Any) -> str:
    return t.topic_name


def _partitions(t: Any) -> list[Any]:
    return t.partitions


def _partition_index(p: Any) -> int:
    return p.partition_index


# --- requests --------------------------------------------------------------------------------


def request_to_wire(
    request: raft.RaftRequest, leader_endpoint: Endpoint | None = None
) -> tuple[int, int, Message]:
    """``(api_key, version, message)`` for a request; ``leader_endpoint`` is the sender's own
    listener (BeginQuorumEpoch carries it from v1)."""
    if isinstance(request, UpdateVoterRequest):
        return update_voter_request_to_wire(request)
    endpoints = [] if leader_endpoint is None else [leader_endpoint]
    if isinstance(request, raft.VoteRequest):
        message: Message = v.VoteRequest(
            cluster_id=request.cluster_id,
            voter_id=request.voter_id,
            topics=[
                v.VoteRequest.TopicData(
                    topic_name=METADATA_TOPIC,
                    partitions=[
                        v.VoteRequest.PartitionData(
                            partition_index=METADATA_PARTITION,
                            replica_epoch=request.replica_epoch,
                            replica_id=request.replica_id,
                            replica_directory_id=request.replica_directory_id,
                            voter_directory_id=request.voter_directory_id,
                            last_offset_epoch=request.last_offset_epoch,
                            last_offset=request.last_offset,
                            pre_vote=request.pre_vote,
                        )
                    ],
                )
            ],
        )
    elif isinstance(request, raft.BeginQuorumEpochRequest):
        message = bqe.BeginQuorumEpochRequest(
            cluster_id=request.cluster_id,
            voter_id=request.voter_id,
            topics=[
                bqe.BeginQuorumEpochRequest.TopicData(
                    topic_name=METADATA_TOPIC,
                    partitions=[
                        bqe.BeginQuorumEpochRequest.PartitionData(
                            partition_index=METADATA_PARTITION,
                            voter_directory_id=request.voter_directory_id,
                            leader_id=request.leader_id,
                            leader_epoch=request.leader_epoch,
                        )
                    ],
                )
            ],
            leader_endpoints=[
                bqe.BeginQuorumEpochRequest.LeaderEndpoint(name=e.name, host=e.host, port=e.port)
                for e in endpoints
            ],
        )
    elif isinstance(request, raft.EndQuorumEpochRequest):
        message = eqe.EndQuorumEpochRequest(
            cluster_id=request.cluster_id,
            topics=[
                eqe.EndQuorumEpochRequest.TopicData(
                    topic_name=METADATA_TOPIC,
                    partitions=[
                        eqe.EndQuorumEpochRequest.PartitionData(
                            partition_index=METADATA_PARTITION,
                            leader_id=request.leader_id,
                            leader_epoch=request.leader_epoch,
                            # Kafka sets both; each version writes the one it has.
                            preferred_successors=list(request.preferred_candidates),
                            preferred_candidates=[
                                eqe.EndQuorumEpochRequest.ReplicaInfo(candidate_id=c)
                                for c in request.preferred_candidates
                            ],
                        )
                    ],
                )
            ],
            # Kafka 4.4's RaftUtil.singletonEndQuorumEpochRequest leaves leader_endpoints empty.
        )
    elif isinstance(request, raft.FetchRequest):
        message = f.FetchRequest(
            cluster_id=request.cluster_id,
            # v15+ (what is sent) names the replica in replica_state only.
            replica_state=f.FetchRequest.ReplicaState(replica_id=request.replica_id),
            max_wait_ms=request.max_wait_ms,
            max_bytes=request.max_bytes,
            topics=[
                f.FetchRequest.FetchTopic(
                    topic=METADATA_TOPIC,
                    topic_id=METADATA_TOPIC_ID,
                    partitions=[
                        f.FetchRequest.FetchPartition(
                            partition=METADATA_PARTITION,
                            current_leader_epoch=request.current_leader_epoch,
                            fetch_offset=request.fetch_offset,
                            last_fetched_epoch=request.last_fetched_epoch,
                            log_start_offset=request.log_start_offset,
                            # Kafka leaves it 0: the leader reads up to its own fetch size.
                            partition_max_bytes=0,
                            replica_directory_id=request.replica_directory_id,
                            high_watermark=request.high_watermark,
                        )
                    ],
                )
            ],
        )
    elif isinstance(request, raft.FetchSnapshotRequest):
        message = fs.FetchSnapshotRequest(
            cluster_id=request.cluster_id,
            replica_id=request.replica_id,
            max_bytes=request.max_bytes,
            topics=[
                fs.FetchSnapshotRequest.TopicSnapshot(
                    name=METADATA_TOPIC,
                    partitions=[
                        fs.FetchSnapshotRequest.PartitionSnapshot(
                            partition=METADATA_PARTITION,
                            current_leader_epoch=request.current_leader_epoch,
                            snapshot_id=fs.FetchSnapshotRequest.SnapshotId(
                                end_offset=request.snapshot_id.offset,
                                epoch=request.snapshot_id.epoch,
                            ),
                            position=request.position,
                            replica_directory_id=request.replica_directory_id,
                        )
                    ],
                )
            ],
        )
    else:
        raise TypeError(f"not a raft request: {request!r}")
    api_key = API_KEYS[type(request)]
    return api_key, API_VERSIONS[api_key], message


def request_from_wire(message: Message, version: int) -> raft.RaftRequest:
    """The raft request in a decoded protocol request; WireError if it is not about the
    metadata partition."""
    if isinstance(message, v.VoteRequest):
        p = _one_partition(message.topics, _topic_name, _partitions, _partition_index)
        return raft.VoteRequest(
            cluster_id=message.cluster_id,
            voter_id=message.voter_id,
            replica_epoch=p.replica_epoch,
            replica_id=p.replica_id,
            last_offset_epoch=p.last_offset_epoch,
            last_offset=p.last_offset,
            pre_vote=p.pre_vote,
            replica_directory_id=p.replica_directory_id,
            voter_directory_id=p.voter_directory_id,
        )
    if isinstance(message, bqe.BeginQuorumEpochRequest):
        p = _one_partition(message.topics, _topic_name, _partitions, _partition_index)
        return raft.BeginQuorumEpochRequest(
            cluster_id=message.cluster_id,
            voter_id=message.voter_id,
            leader_id=p.leader_id,
            leader_epoch=p.leader_epoch,
            voter_directory_id=p.voter_directory_id,
        )
    if isinstance(message, eqe.EndQuorumEpochRequest):
        p = _one_partition(message.topics, _topic_name, _partitions, _partition_index)
        if version >= 1:
            preferred = tuple(c.candidate_id for c in p.preferred_candidates)
        else:
            preferred = tuple(p.preferred_successors)
        return raft.EndQuorumEpochRequest(
            cluster_id=message.cluster_id,
            leader_id=p.leader_id,
            leader_epoch=p.leader_epoch,
            preferred_candidates=preferred,
        )
    if isinstance(message, f.FetchRequest):
        return _fetch_request_from_wire(message, version)
    if isinstance(message, fs.FetchSnapshotRequest):
        p = _one_partition(message.topics, lambda t: t.name, _partitions, lambda q: q.partition)
        return raft.FetchSnapshotRequest(
            cluster_id=message.cluster_id,
            replica_id=message.replica_id,
            current_leader_epoch=p.current_leader_epoch,
            snapshot_id=OffsetAndEpoch(p.snapshot_id.end_offset, p.snapshot_id.epoch),
            position=p.position,
            max_bytes=message.max_bytes,
            replica_directory_id=p.replica_directory_id,
        )
    raise WireError(f"{type(message).__name__} is not a quorum request")


def _fetch_request_from_wire(message: f.FetchRequest, version: int) -> raft.FetchRequest:
    if version >= FETCH_TOPIC_ID_VERSION:

        def name_of(t: Any) -> str:
            return METADATA_TOPIC if t.topic_id == METADATA_TOPIC_ID else str(t.topic_id)

    else:

        def name_of(t: Any) -> str:
            return t.topic

    p = _one_partition(message.topics, name_of, _partitions, lambda q: q.partition)
    replica_id = (
        message.replica_state.replica_id
        if version >= FETCH_REPLICA_STATE_VERSION
        else message.replica_id
    )
    return raft.FetchRequest(
        cluster_id=message.cluster_id,
        replica_id=replica_id,
        max_wait_ms=message.max_wait_ms,
        current_leader_epoch=p.current_leader_epoch,
        fetch_offset=p.fetch_offset,
        last_fetched_epoch=p.last_fetched_epoch,
        # Kafka's leader ignores partition_max_bytes (its raft client sends 0).
        max_bytes=message.max_bytes if p.partition_max_bytes <= 0 else p.partition_max_bytes,
        log_start_offset=p.log_start_offset,
        replica_directory_id=p.replica_directory_id,
        high_watermark=p.high_watermark,
    )


# --- responses -------------------------------------------------------------------------------


def error_response(api_key: int, error: int) -> Message:
    """A response with only a top-level error (Kafka's ``RaftUtil.errorResponse``)."""
    classes = {
        VOTE: v.VoteResponse,
        BEGIN_QUORUM_EPOCH: bqe.BeginQuorumEpochResponse,
        END_QUORUM_EPOCH: eqe.EndQuorumEpochResponse,
        FETCH: f.FetchResponse,
        FETCH_SNAPSHOT: fs.FetchSnapshotResponse,
    }
    return classes[api_key](error_code=error)


def response_to_wire(
    response: raft.RaftResponse, version: int, leader_endpoint: tuple[int, Endpoint] | None
) -> Message:
    """The protocol response at ``version``; ``leader_endpoint`` is (leader id, its endpoint
    on the request's listener) when known, sent from the versions that have it."""
    if isinstance(response, raft.VoteResponse):
        api_key = VOTE
        message: Message = v.VoteResponse(
            error_code=response.top_level_error_code,
            topics=[
                v.VoteResponse.TopicData(
                    topic_name=METADATA_TOPIC,
                    partitions=[
                        v.VoteResponse.PartitionData(
                            partition_index=METADATA_PARTITION,
                            error_code=response.error_code,
                            leader_id=response.leader_id,
                            leader_epoch=response.leader_epoch,
                            vote_granted=response.vote_granted,
                        )
                    ],
                )
            ],
        )
    elif isinstance(response, (raft.BeginQuorumEpochResponse, raft.EndQuorumEpochResponse)):
        mod = bqe if isinstance(response, raft.BeginQuorumEpochResponse) else eqe
        cls = getattr(mod, type(response).__name__)
        api_key = BEGIN_QUORUM_EPOCH if mod is bqe else END_QUORUM_EPOCH
        message = cls(
            error_code=response.top_level_error_code,
            topics=[
                cls.TopicData(
                    topic_name=METADATA_TOPIC,
                    partitions=[
                        cls.PartitionData(
                            partition_index=METADATA_PARTITION,
                            error_code=response.error_code,
                            leader_id=response.leader_id,
                            leader_epoch=response.leader_epoch,
                        )
                    ],
                )
            ],
        )
    elif isinstance(response, raft.FetchResponse):
        api_key = FETCH
        message = _fetch_response_to_wire(response)
    elif isinstance(response, raft.FetchSnapshotResponse):
        api_key = FETCH_SNAPSHOT
        S = fs.FetchSnapshotResponse
        message = S(
            error_code=response.top_level_error_code,
            topics=[
                S.TopicSnapshot(
                    name=METADATA_TOPIC,
                    partitions=[
                        S.PartitionSnapshot(
                            index=METADATA_PARTITION,
                            error_code=response.error_code,
                            snapshot_id=S.SnapshotId(
                                end_offset=response.snapshot_id.offset,
                                epoch=response.snapshot_id.epoch,
                            ),
                            current_leader=S.LeaderIdAndEpoch(
                                leader_id=response.leader_id, leader_epoch=response.leader_epoch
                            ),
                            size=response.size,
                            position=response.position,
                            unaligned_records=response.unaligned_records,
                        )
                    ],
                )
            ],
        )
    else:
        raise TypeError(f"not a raft response: {response!r}")
    if leader_endpoint is not None and version >= ENDPOINT_VERSIONS[api_key]:
        leader_id, endpoint = leader_endpoint
        if leader_id >= 0:
            node = type(message).NodeEndpoint(
                node_id=leader_id, host=endpoint.host, port=endpoint.port
            )
            message.node_endpoints = [node]
    return message


def _fetch_response_to_wire(response: raft.FetchResponse) -> f.FetchResponse:
    R = f.FetchResponse
    diverging = response.diverging_epoch
    snapshot = response.snapshot_id
    partition = R.PartitionData(
        partition_index=METADATA_PARTITION,
        error_code=response.error_code,
        high_watermark=response.high_watermark,
        log_start_offset=response.log_start_offset,
        diverging_epoch=R.EpochEndOffset(
            epoch=-1 if diverging is None else diverging.epoch,
            end_offset=-1 if diverging is None else diverging.offset,
        ),
        current_leader=R.LeaderIdAndEpoch(
            leader_id=response.leader_id, leader_epoch=response.leader_epoch
        ),
        snapshot_id=R.SnapshotId(
            end_offset=-1 if snapshot is None else snapshot.offset,
            epoch=-1 if snapshot is None else snapshot.epoch,
        ),
        records=encode_records(response.records),
    )
    return R(
        error_code=response.top_level_error_code,
        responses=[
            R.FetchableTopicResponse(
                topic=METADATA_TOPIC, topic_id=METADATA_TOPIC_ID, partitions=[partition]
            )
        ],
    )


def response_from_wire(message: Message, version: int) -> raft.RaftResponse:
    """The raft response in a decoded protocol response. A response with a top-level error
    and no partition, or one that does not name the metadata partition, becomes a response
    with only a top-level error (UNKNOWN_SERVER_ERROR for the malformed kind)."""
    top = message.error_code
    if isinstance(message, UpdateRaftVoterResponse):
        return update_voter_response_from_wire(message)
    try:
        return _response_from_wire(message, version)
    except (WireError, RecordsError):
        return _top_level_only(message, top if top != NONE else UNKNOWN_SERVER_ERROR)


def _top_level_only(message: Message, error: int) -> raft.RaftResponse:
    if isinstance(message, v.VoteResponse):
        return raft.VoteResponse(NONE, raft.NO_LEADER, -1, False, error)
    if isinstance(message, bqe.BeginQuorumEpochResponse):
        return raft.BeginQuorumEpochResponse(NONE, raft.NO_LEADER, -1, error)
    if isinstance(message, eqe.EndQuorumEpochResponse):
        return raft.EndQuorumEpochResponse(NONE, raft.NO_LEADER, -1, error)
    if isinstance(message, f.FetchResponse):
        return raft.FetchResponse(NONE, -1, raft.NO_LEADER, -1, top_level_error_code=error)
    if isinstance(message, fs.FetchSnapshotResponse):
        return raft.FetchSnapshotResponse(
            NONE, raft.NO_LEADER, -1, OffsetAndEpoch(-1, -1), top_level_error_code=error
        )
    raise TypeError(f"{type(message).__name__} is not a quorum response")


def _response_from_wire(message: Message, version: int) -> raft.RaftResponse:
    top = message.error_code
    if isinstance(message, v.VoteResponse):
        p = _one_partition(message.topics, _topic_name, _partitions, _partition_index)
        return raft.VoteResponse(p.error_code, p.leader_id, p.leader_epoch, p.vote_granted, top)
    if isinstance(message, bqe.BeginQuorumEpochResponse):
        p = _one_partition(message.topics, _topic_name, _partitions, _partition_index)
        return raft.BeginQuorumEpochResponse(p.error_code, p.leader_id, p.leader_epoch, top)
    if isinstance(message, eqe.EndQuorumEpochResponse):
        p = _one_partition(message.topics, _topic_name, _partitions, _partition_index)
        return raft.EndQuorumEpochResponse(p.error_code, p.leader_id, p.leader_epoch, top)
    if isinstance(message, f.FetchResponse):
        if version >= FETCH_TOPIC_ID_VERSION:

            def name_of(t: Any) -> str:
                return METADATA_TOPIC if t.topic_id == METADATA_TOPIC_ID else str(t.topic_id)

        else:

            def name_of(t: Any) -> str:
                return t.topic

        p = _one_partition(message.responses, name_of, _partitions, _partition_index)
        diverging = p.diverging_epoch
        snapshot = p.snapshot_id
        return raft.FetchResponse(
            error_code=p.error_code,
            high_watermark=p.high_watermark,
            leader_id=p.current_leader.leader_id,
            leader_epoch=p.current_leader.leader_epoch,
            records=decode_records(p.records),
            diverging_epoch=(
                None
                if diverging.epoch < 0 and diverging.end_offset < 0
                else OffsetAndEpoch(diverging.end_offset, diverging.epoch)
            ),
            snapshot_id=(
                None
                if snapshot.epoch < 0 and snapshot.end_offset < 0
                else OffsetAndEpoch(snapshot.end_offset, snapshot.epoch)
            ),
            log_start_offset=p.log_start_offset,
            top_level_error_code=top,
        )
    if isinstance(message, fs.FetchSnapshotResponse):
        p = _one_partition(message.topics, lambda t: t.name, _partitions, lambda q: q.index)
        return raft.FetchSnapshotResponse(
            error_code=p.error_code,
            leader_id=p.current_leader.leader_id,
            leader_epoch=p.current_leader.leader_epoch,
            snapshot_id=OffsetAndEpoch(p.snapshot_id.end_offset, p.snapshot_id.epoch),
            size=p.size,
            position=p.position,
            unaligned_records=bytes(p.unaligned_records or b""),
            top_level_error_code=top,
        )
    raise WireError(f"{type(message).__name__} is not a quorum response")


__all__ = [
    "API_VERSIONS",
    "METADATA_PARTITION",
    "METADATA_TOPIC",
    "METADATA_TOPIC_ID",
    "Endpoint",
    "WireError",
    "error_response",
    "request_from_wire",
    "request_to_wire",
    "response_from_wire",
    "response_to_wire",
]
