"""The quorum's RPCs and records on the wire: round trips through the generated codecs, and
bytes checked by hand against Kafka's message definitions and record format."""

from __future__ import annotations

import struct
import uuid

import pytest

from ferrokafka.cluster.raft import messages as m
from ferrokafka.cluster.raft import wire
from ferrokafka.cluster.raft.log import LeaderChange, OffsetAndEpoch, Record
from ferrokafka.cluster.raft.records import (
    RecordsError,
    build_batch,
    decode_records,
    encode_records,
)
from ferrokafka.protocol.api import (
    decode_request,
    decode_response,
    encode_message,
    encode_request,
    encode_response,
)
from ferrokafka.protocol.error_codes import INVALID_REQUEST, NONE, UNKNOWN_SERVER_ERROR
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.header import RequestHeader
from ferrokafka.protocol.messages.vote import VoteRequest
from ferrokafka.storage import decode_batches

ENDPOINT = wire.Endpoint("CONTROLLER", "127.0.0.1", 9093)
DIR = uuid.UUID("12345678-1234-5678-1234-567812345678")

REQUESTS = [
    m.VoteRequest("cid", 2, 7, 1, 6, 42, True, DIR, uuid.UUID(int=0)),
    m.BeginQuorumEpochRequest("cid", 2, 1, 7, DIR),
    m.EndQuorumEpochRequest("cid", 1, 7, (3, 2)),
    m.FetchRequest("cid", 2, 500, 7, 42, 6, wire.FETCH_MAX_BYTES, -1, DIR),
    m.FetchRequest("cid", 2, 500, 7, 42, 6, wire.FETCH_MAX_BYTES, -1, DIR, high_watermark=40),
    m.FetchSnapshotRequest("cid", 2, 7, OffsetAndEpoch(100, 5), 0, 1 << 20, DIR),
]


def _records() -> tuple[Record, ...]:
    data = build_batch([LeaderChange(1, (1, 2, 3), (1, 2))], 0, 7, 1_700_000_000_000)
    data += build_batch([b"a", b"bc"], 1, 7, 1_700_000_000_000)
    return decode_records(data)


RESPONSES = [
    m.VoteResponse(NONE, 1, 7, True),
    m.BeginQuorumEpochResponse(NONE, 1, 7),
    m.EndQuorumEpochResponse(NONE, 1, 7),
    m.FetchResponse(NONE, 3, 1, 7, _records(), None, None, 0),
    m.FetchResponse(NONE, 3, 1, 7, (), OffsetAndEpoch(10, 4), None, 0),
    m.FetchSnapshotResponse(98, 1, 7, OffsetAndEpoch(100, 5)),
]


def _header(api_key: int, version: int) -> RequestHeader:
    return RequestHeader(
        request_api_key=api_key, request_api_version=version, correlation_id=9, client_id="raft"
    )


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: type(r).__name__)
def test_request_round_trip(request_: m.RaftRequest) -> None:
    api_key, version, message = wire.request_to_wire(request_, ENDPOINT)
    frame = encode_request(_header(api_key, version), message)
    header, decoded = decode_request(frame[4:])
    assert (header.request_api_key, header.request_api_version) == (api_key, version)
    assert wire.request_from_wire(decoded, version) == request_


@pytest.mark.parametrize("response", RESPONSES, ids=lambda r: type(r).__name__)
def test_response_round_trip(response: m.RaftResponse) -> None:
    api_key = {
        m.VoteResponse: 52,
        m.BeginQuorumEpochResponse: 53,
        m.EndQuorumEpochResponse: 54,
        m.FetchResponse: 1,
        m.FetchSnapshotResponse: 59,
    }[type(response)]
    version = wire.API_VERSIONS[api_key]
    message = wire.response_to_wire(response, version, (1, ENDPOINT))
    frame = encode_response(_header(api_key, version), message)
    _, decoded = decode_response(frame[4:], api_key, version)
    assert wire.response_from_wire(decoded, version) == response
    assert [(e.node_id, e.host, e.port) for e in decoded.node_endpoints] == [(1, "127.0.0.1", 9093)]


def test_versions_are_kafka_44s() -> None:
    assert wire.API_VERSIONS == {52: 2, 53: 1, 54: 1, 1: 18, 59: 1}


def test_vote_request_bytes_by_hand() -> None:
    _, version, message = wire.request_to_wire(REQUESTS[0])
    body = encode_message(message, version)
    topic = b"__cluster_metadata"
    expected = (
        b"\x04cid"  # compact nullable string
        + struct.pack(">i", 2)  # voter_id
        + b"\x02"  # one topic
        + bytes([len(topic) + 1])
        + topic
        + b"\x02"  # one partition
        + struct.pack(">iii", 0, 7, 1)  # partition, replica_epoch, replica_id
        + DIR.bytes
        + bytes(16)  # voter_directory_id
        + struct.pack(">iq?", 6, 42, True)  # last_offset_epoch, last_offset, pre_vote
        + b"\x00\x00\x00"  # tagged fields: partition, topic, request
    )
    assert body == expected


def test_fetch_names_the_metadata_topic_by_id() -> None:
    _, version, message = wire.request_to_wire(REQUESTS[3])
    assert version == 18
    assert message.topics[0].topic_id == uuid.UUID(int=1)
    assert wire.METADATA_TOPIC_ID.bytes == b"\x00" * 15 + b"\x01"  # AAAAAAAAAAAAAAAAAAAAAQ
    body = encode_message(message, version)
    assert wire.METADATA_TOPIC_ID.bytes in body
    assert b"__cluster_metadata" not in body  # v13+: by id only
    assert message.replica_state.replica_id == 2
    assert message.topics[0].partitions[0].partition_max_bytes == 0


def test_only_begin_quorum_epoch_carries_the_leaders_endpoint() -> None:
    # As Kafka 4.4's RaftUtil: BeginQuorumEpoch names the leader's listeners, EndQuorumEpoch not.
    _, _, begin = wire.request_to_wire(REQUESTS[1], ENDPOINT)
    assert [(e.name, e.host, e.port) for e in begin.leader_endpoints] == [
        ("CONTROLLER", "127.0.0.1", 9093)
    ]
    _, _, end = wire.request_to_wire(REQUESTS[2], ENDPOINT)
    assert end.leader_endpoints == []
    assert end.topics[0].partitions[0].preferred_successors == [3, 2]


def test_fetch_of_another_topic_is_a_wire_error() -> None:
    message = FetchRequest(
        topics=[
            FetchRequest.FetchTopic(
                topic_id=uuid.uuid4(), partitions=[FetchRequest.FetchPartition()]
            )
        ]
    )
    with pytest.raises(wire.WireError):
        wire.request_from_wire(message, 18)
    two = VoteRequest(
        topics=[
            VoteRequest.TopicData(
                topic_name="__cluster_metadata",
                partitions=[VoteRequest.PartitionData(partition_index=1)],
            )
        ]
    )
    with pytest.raises(wire.WireError):
        wire.request_from_wire(two, 2)
    assert wire.error_response(52, INVALID_REQUEST).error_code == INVALID_REQUEST


def test_response_with_top_level_error_only() -> None:
    message = wire.error_response(1, INVALID_REQUEST)
    response = wire.response_from_wire(message, 18)
    assert response.top_level_error_code == INVALID_REQUEST and response.records == ()
    vote = wire.response_from_wire(wire.error_response(52, NONE), 2)
    assert vote.top_level_error_code == UNKNOWN_SERVER_ERROR  # no partition: malformed


def test_leader_change_is_kafkas_control_batch() -> None:
    data = build_batch([LeaderChange(1, (1, 2, 3), (1, 2))], 5, 7, 1_700_000_000_000)
    [batch] = decode_batches(data)
    assert batch.is_control and not batch.is_transactional
    assert (batch.base_offset, batch.partition_leader_epoch, batch.producer_id) == (5, 7, -1)
    [record] = batch.records()
    assert record.key == b"\x00\x00\x00\x02"  # version 0, type LEADER_CHANGE
    # LeaderChangeMessage v0 (flexible): version, leader_id, voters, granting_voters, tags.
    expected = (
        struct.pack(">hi", 0, 1)
        + b"\x04"
        + b"".join(struct.pack(">i", v) + b"\x00" for v in (1, 2, 3))
        + b"\x03"
        + b"".join(struct.pack(">i", v) + b"\x00" for v in (1, 2))
        + b"\x00"
    )
    assert record.value == expected


def test_batches_keep_their_bytes_and_boundaries() -> None:
    records = _records()
    assert [(r.offset, r.epoch) for r in records] == [(0, 7), (1, 7), (2, 7)]
    assert records[1].batch is records[2].batch and records[0].batch is not records[1].batch
    data = encode_records(records)
    assert data == records[0].batch.data + records[1].batch.data
    # A partial trailing batch (as a fetch may end with) is left out.
    assert decode_records(data[:-3]) == records[:1]
    # A part of a batch cannot be sent: batches go whole.
    with pytest.raises(ValueError):
        encode_records(records[1:2])


def test_corrupt_records_are_a_clear_error() -> None:
    data = bytearray(build_batch([b"a"], 0, 1, 0))
    data[-1] ^= 0xFF
    with pytest.raises(RecordsError, match="corrupt"):
        decode_records(bytes(data))
