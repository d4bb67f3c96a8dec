"""AddRaftVoter (80), RemoveRaftVoter (81) and UpdateRaftVoter (82) on the wire: the generated
protocol messages to and from the dataclasses of :mod:`.voter_changes`, as Kafka's ``RaftUtil``
builds them (Kafka 4.4's versions: AddRaftVoter v0-1, the others v0).

The leader answers UpdateRaftVoter with its own endpoint on the listener the request came in
on (``current_leader``); Add and Remove answer an error code and message only.
"""

from __future__ import annotations

from ferrokafka.cluster.raft.voter_changes import (
    AddVoterRequest,
    AddVoterResponse,
    RemoveVoterRequest,
    RemoveVoterResponse,
    UpdateVoterRequest,
    UpdateVoterResponse,
)
from ferrokafka.cluster.raft.voters import VoterEndpoint
from ferrokafka.protocol.messages.add_raft_voter import AddRaftVoterRequest, AddRaftVoterResponse
from ferrokafka.protocol.messages.remove_raft_voter import (
    RemoveRaftVoterRequest,
    RemoveRaftVoterResponse,
)
from ferrokafka.protocol.messages.update_raft_voter import (
    UpdateRaftVoterRequest,
    UpdateRaftVoterResponse,
)
from ferrokafka.protocol.schema import Message

ADD_RAFT_VOTER = 80
REMOVE_RAFT_VOTER = 81
UPDATE_RAFT_VOTER = 82
VOTER_API_KEYS = (ADD_RAFT_VOTER, REMOVE_RAFT_VOTER, UPDATE_RAFT_VOTER)
UPDATE_RAFT_VOTER_VERSION = 0  # what a follower sends (Kafka 4.4's only version)
# AddRaftVoter v1 (KIP-1186) added ack_when_committed; v0 always acks once committed.
ACK_WHEN_COMMITTED_VERSION = 1


def voter_request_from_wire(
    message: Message, version: int
) -> AddVoterRequest | RemoveVoterRequest | UpdateVoterRequest:
    if isinstance(message, AddRaftVoterRequest):
        return AddVoterRequest(
            cluster_id=message.cluster_id,
            timeout_ms=message.timeout_ms,
            voter_id=message.voter_id,
            voter_directory_id=message.voter_directory_id,
            endpoints=tuple(VoterEndpoint(e.name, e.host, e.port) for e in message.listeners),
            ack_when_committed=(
                message.ack_when_committed if version >= ACK_WHEN_COMMITTED_VERSION else True
            ),
        )
    if isinstance(message, RemoveRaftVoterRequest):
        return RemoveVoterRequest(
            cluster_id=message.cluster_id,
            voter_id=message.voter_id,
            voter_directory_id=message.voter_directory_id,
        )
    if isinstance(message, UpdateRaftVoterRequest):
        feature = message.k_raft_version_feature
        return UpdateVoterRequest(
            cluster_id=message.cluster_id,
            current_leader_epoch=message.current_leader_epoch,
            voter_id=message.voter_id,
            voter_directory_id=message.voter_directory_id,
            endpoints=tuple(VoterEndpoint(e.name, e.host, e.port) for e in message.listeners),
            kraft_versions=(feature.min_supported_version, feature.max_supported_version),
        )
    raise TypeError(f"not a voter request: {type(message).__name__}")


def voter_response_to_wire(
    response: AddVoterResponse | RemoveVoterResponse | UpdateVoterResponse,
    leader_address: tuple[str, int] | None,
) -> Message:
    if isinstance(response, AddVoterResponse):
        return AddRaftVoterResponse(
            error_code=response.error_code, error_message=response.error_message
        )
    if isinstance(response, RemoveVoterResponse):
        return RemoveRaftVoterResponse(
            error_code=response.error_code, error_message=response.error_message
        )
    host, port = leader_address or ("", 0)
    return UpdateRaftVoterResponse(
        error_code=response.error_code,
        current_leader=UpdateRaftVoterResponse.CurrentLeader(
            leader_id=response.leader_id, leader_epoch=response.leader_epoch, host=host, port=port
        ),
    )


def voter_error_response(api_key: int, error: int) -> Message:
    if api_key == ADD_RAFT_VOTER:
        return AddRaftVoterResponse(error_code=error)
    if api_key == REMOVE_RAFT_VOTER:
        return RemoveRaftVoterResponse(error_code=error)
    return UpdateRaftVoterResponse(error_code=error)


def update_voter_request_to_wire(request: UpdateVoterRequest) -> tuple[int, int, Message]:
    message = UpdateRaftVoterRequest(
        cluster_id=request.cluster_id,
        current_leader_epoch=request.current_leader_epoch,
        voter_id=request.voter_id,
        voter_directory_id=request.voter_directory_id,
        listeners=[
            UpdateRaftVoterRequest.Listener(name=e.name, host=e.host, port=e.port)
            for e in request.endpoints
        ],
        k_raft_version_feature=UpdateRaftVoterRequest.KRaftVersionFeature(
            min_supported_version=request.kraft_versions[0],
            max_supported_version=request.kraft_versions[1],
        ),
    )
    return UPDATE_RAFT_VOTER, UPDATE_RAFT_VOTER_VERSION, message


def update_voter_response_from_wire(message: UpdateRaftVoterResponse) -> UpdateVoterResponse:
    leader = message.current_leader
    return UpdateVoterResponse(message.error_code, leader.leader_id, leader.leader_epoch)
