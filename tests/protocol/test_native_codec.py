"""The native (Rust) codecs in ferrokafka.protocol.native against the schema codec they stand
in for: the same messages from the same bytes, the same bytes from the same messages, and a
decline (None) wherever they do not handle a case exactly -- after which decode_request and
encode_response_parts give what the schema codec gives, errors included.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferrokafka.protocol import (
    APIS,
    ProtocolDecodeError,
    ProtocolEncodeError,
    RequestHeader,
    decode_request,
    encode_request,
    encode_response_parts,
    native,
    request_header_version,
)
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse
from ferrokafka.protocol.messages.produce import ProduceRequest, ProduceResponse
from ferrokafka.protocol.schema import decode_struct
from ferrokafka.protocol.wire import ZERO_UUID, FileRecords, Reader, joined

VERSIONS = range(3, 14)
FUZZ_CASES = 300
TOPIC_ID = uuid.UUID("0123456789abcdef0123456789abcdef")

Topic = ProduceRequest.TopicProduceData
Partition = ProduceRequest.PartitionProduceData
TopicAnswer = ProduceResponse.TopicProduceResponse
PartitionAnswer = ProduceResponse.PartitionProduceResponse


def _request(version: int, **overrides: object) -> ProduceRequest:
    by_id = version >= 13
    fields: dict[str, object] = {
        "transactional_id": None,
        "acks": -1,
        "timeout_ms": 30_000,
        "topic_data": [
            Topic(
                name="" if by_id else "tópico",
                topic_id=TOPIC_ID if by_id else ZERO_UUID,
                partition_data=[
                    Partition(index=0, records=b"batch-bytes" * 3),
                    Partition(index=7, records=None),
                    Partition(index=2, records=b""),
                ],
            ),
            Topic(
                name="" if by_id else "b",
                topic_id=uuid.UUID(int=5) if by_id else ZERO_UUID,
                partition_data=[],
            ),
        ],
    }
    fields.update(overrides)
    return ProduceRequest(**fields)


def _frame(version: int, request: ProduceRequest, client_id: str | None = "producer-1") -> bytes:
    header = RequestHeader(
        request_api_key=0, request_api_version=version, correlation_id=99, client_id=client_id
    )
    return encode_request(header, request)[4:]


def _schema_decode(frame: bytes) -> tuple[RequestHeader, ProduceRequest]:
    """decode_request as it was before the native codecs: the schema codec throughout."""
    view = memoryview(frame)
    reader = Reader(view)
    version = int.from_bytes(frame[2:4], "big")
    header = decode_struct(RequestHeader, reader, request_header_version(0, version))
    return header, decode_struct(ProduceRequest, reader, version)


def _plain(request: ProduceRequest) -> ProduceRequest:
    """Records as bytes (views do not compare by value with ==)."""
    for topic in request.topic_data:
        for p in topic.partition_data:
            if p.records is not None:
                p.records = bytes(p.records)
    return request


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("transactional_id", [None, "", "txn-ü"])
@pytest.mark.parametrize("client_id", [None, "", "producer-1"])
def test_request_decodes_as_the_schema_codec_does(
    version: int, transactional_id: str | None, client_id: str | None
) -> None:
    frame = _frame(version, _request(version, transactional_id=transactional_id), client_id)
    view = memoryview(frame).toreadonly()
    header, request = decode_request(view)
    want_header, want = _schema_decode(frame)
    assert header == want_header
    assert _plain(request) == _plain(want)
    # and it was the native path that read them
    native_header = native.decode_request_header(view, request_header_version(0, version))
    assert native_header is not None and native_header[0] == want_header
    assert native.decode_produce_request(view, native_header[1], version) is not None


def test_records_are_views_of_the_frame() -> None:
    frame = memoryview(_frame(11, _request(11))).toreadonly()
    _, request = decode_request(frame)
    records = request.topic_data[0].partition_data[0].records
    assert isinstance(records, memoryview) and records.readonly
    assert records.obj is frame.obj and bytes(records) == b"batch-bytes" * 3


def test_tagged_fields_are_left_to_the_schema_codec() -> None:
    request = _request(11)
    request.topic_data[0].partition_data[0].unknown_tagged_fields = [(5, b"xy")]
    frame = _frame(11, request)
    start = native.decode_request_header(memoryview(frame), 2)[1]
    assert native.decode_produce_request(memoryview(frame), start, 11) is None
    _, decoded = decode_request(frame)
    assert decoded.topic_data[0].partition_data[0].unknown_tagged_fields == [(5, b"xy")]
    assert _plain(decoded) == _plain(_schema_decode(frame)[1])


def _outcome(frame: bytes) -> object:
    try:
        header, request = decode_request(frame)
    except ProtocolDecodeError as exc:
        return ("error", type(exc))
    return (header, _plain(request))


def _schema_outcome(frame: bytes) -> object:
    try:
        header, request = _schema_decode(frame)
    except ProtocolDecodeError as exc:
        return ("error", type(exc))
    return (header, _plain(request))


@st.composite
def damaged_frames(draw: st.DrawFn) -> bytes:
    version = draw(st.sampled_from(VERSIONS))
    frame = bytearray(_frame(version, _request(version)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(4, len(frame) - 1))  # keep key and version: Produce vN
        frame[at] = draw(st.integers(0, 255))
    cut = draw(st.integers(4, len(frame)))
    return bytes(frame[:cut])


@settings(max_examples=FUZZ_CASES, deadline=None, derandomize=True)
@given(damaged_frames())
def test_damaged_requests_get_the_schema_codecs_answer(frame: bytes) -> None:
    assert _outcome(frame) == _schema_outcome(frame)


def _response(version: int, **partition: object) -> ProduceResponse:
    by_id = version >= 13
    fields: dict[str, object] = {"index": 3, "error_code": 0, "base_offset": 1 << 40}
    fields.update(partition)
    return ProduceResponse(
        responses=[
            TopicAnswer(
                name="" if by_id else "tópico",
                topic_id=TOPIC_ID if by_id else ZERO_UUID,
                partition_responses=[PartitionAnswer(**fields), PartitionAnswer(index=4)],
            ),
            TopicAnswer(name="" if by_id else "b", partition_responses=[]),
        ],
        throttle_time_ms=12,
    )


def _schema_encode(
    version: int, response: ProduceResponse, monkeypatch: pytest.MonkeyPatch
) -> bytes:
    header = RequestHeader(request_api_key=0, request_api_version=version, correlation_id=77)
    with monkeypatch.context() as patch:
        patch.setitem(native.RESPONSE_ENCODERS, 0, lambda *_: None)
        return joined(encode_response_parts(header, response))


def _encode(version: int, response: ProduceResponse) -> bytes:
    header = RequestHeader(request_api_key=0, request_api_version=version, correlation_id=77)
    return joined(encode_response_parts(header, response))


RESPONSE_CASES = [
    {},
    {"log_append_time_ms": 1_700_000_000_000, "log_start_offset": 12},
    {"error_code": 87, "base_offset": -1, "error_message": "bad ✗"},
    {
        "error_code": 87,
        "record_errors": [
            ProduceResponse.BatchIndexAndErrorMessage(batch_index=0, batch_index_error_message="k"),
            ProduceResponse.BatchIndexAndErrorMessage(batch_index=9),
        ],
        "error_message": "One or more records have been rejected",
    },
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", range(len(RESPONSE_CASES)))
def test_response_encodes_as_the_schema_codec_does(
    version: int, case: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = _response(version, **RESPONSE_CASES[case])
    assert native.RESPONSE_ENCODERS[0](77, version, response) is not None  # the native path
    assert _encode(version, response) == _schema_encode(version, response, monkeypatch)


@pytest.mark.parametrize(
    "partition",
    [
        {"current_leader": ProduceResponse.LeaderIdAndEpoch(leader_id=2, leader_epoch=5)},
        {"unknown_tagged_fields": [(9, b"z")]},
        {"error_message": "x" * 0x8000},
        {"base_offset": "not a number"},
        {"record_errors": None},
    ],
)
@pytest.mark.parametrize("version", [8, 11])
def test_response_cases_left_to_the_schema_codec(
    partition: dict[str, object], version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = _response(version, **partition)
    assert native.RESPONSE_ENCODERS[0](77, version, response) is None
    try:
        want: object = _schema_encode(version, response, monkeypatch)
    except ProtocolEncodeError:
        with pytest.raises(ProtocolEncodeError):
            _encode(version, response)
        return
    assert _encode(version, response) == want


def test_node_endpoints_are_left_to_the_schema_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    response = _response(11)
    response.node_endpoints = [ProduceResponse.NodeEndpoint(node_id=1, host="h", port=9092)]
    assert native.RESPONSE_ENCODERS[0](77, 11, response) is None
    assert _encode(11, response) == _schema_encode(11, response, monkeypatch)


# -- Fetch ------------------------------------------------------------------------------------

FETCH_VERSIONS = range(4, 19)
FTopic = FetchRequest.FetchTopic
FPartition = FetchRequest.FetchPartition
Forgotten = FetchRequest.ForgottenTopic


def _fetch_request(version: int, **overrides: object) -> FetchRequest:
    """A consumer's fetch: only the fields ``version`` has are set (the rest keep defaults)."""
    by_id = version >= 13

    def key(name: str, topic_id: uuid.UUID) -> dict[str, object]:
        return {"topic_id": topic_id} if by_id else {"topic": name}

    def partition(index: int) -> FPartition:
        fields: dict[str, object] = {
            "partition": index,
            "fetch_offset": 1 << 33,
            "partition_max_bytes": 1 << 20,
        }
        if version >= 9:
            fields["current_leader_epoch"] = 4
        if version >= 12:
            fields["last_fetched_epoch"] = 3
        if version >= 5:
            fields["log_start_offset"] = 17
        return FPartition(**fields)

    fields: dict[str, object] = {
        "max_wait_ms": 500,
        "min_bytes": 1,
        "max_bytes": 50 << 20,
        "isolation_level": 1,
        "topics": [
            FTopic(**key("tópico", TOPIC_ID), partitions=[partition(0), partition(5)]),
            FTopic(**key("b", uuid.UUID(int=9)), partitions=[]),
        ],
    }
    if version < 15:
        fields["replica_id"] = -1
    if version >= 7:
        fields.update(session_id=77, session_epoch=3)
        fields["forgotten_topics_data"] = [Forgotten(**key("gone", TOPIC_ID), partitions=[1, 2])]
    if version >= 11:
        fields["rack_id"] = "rack-a"
    fields.update(overrides)
    return FetchRequest(**fields)


def _fetch_frame(version: int, request: FetchRequest) -> bytes:
    header = RequestHeader(request_api_key=1, request_api_version=version, correlation_id=5)
    return encode_request(header, request)[4:]


def _schema_decode_any(frame: bytes) -> tuple[RequestHeader, object]:
    reader = Reader(memoryview(frame))
    key, version = int.from_bytes(frame[:2], "big"), int.from_bytes(frame[2:4], "big")
    header = decode_struct(RequestHeader, reader, request_header_version(key, version))
    return header, decode_struct(APIS[key].request_class, reader, version)


@pytest.mark.parametrize("version", FETCH_VERSIONS)
def test_fetch_request_decodes_as_the_schema_codec_does(version: int) -> None:
    frame = memoryview(_fetch_frame(version, _fetch_request(version))).toreadonly()
    header, request = decode_request(frame)
    assert (header, request) == _schema_decode_any(bytes(frame))
    start = native.decode_request_header(frame, request_header_version(1, version))[1]
    assert native.decode_fetch_request(frame, start, version) == request  # the native path


@pytest.mark.parametrize(
    ("version", "overrides"),
    [
        (12, {"cluster_id": "cluster"}),
        (15, {"replica_state": FetchRequest.ReplicaState(replica_id=1, replica_epoch=2)}),
    ],
)
def test_fetch_tagged_fields_are_left_to_the_schema_codec(
    version: int, overrides: dict[str, object]
) -> None:
    frame = _fetch_frame(version, _fetch_request(version, **overrides))
    start = native.decode_request_header(memoryview(frame), 2)[1]
    assert native.decode_fetch_request(memoryview(frame), start, version) is None
    header, request = decode_request(frame)
    assert (header, request) == _schema_decode_any(frame)
    for name, value in overrides.items():
        assert getattr(request, name) == value


@st.composite
def damaged_fetch_frames(draw: st.DrawFn) -> bytes:
    version = draw(st.sampled_from(FETCH_VERSIONS))
    frame = bytearray(_fetch_frame(version, _fetch_request(version)))
    for _ in range(draw(st.integers(1, 4))):
        frame[draw(st.integers(4, len(frame) - 1))] = draw(st.integers(0, 255))
    return bytes(frame[: draw(st.integers(4, len(frame)))])


def _any_outcome(decode: object, frame: bytes) -> object:
    try:
        return decode(frame)  # type: ignore[operator]
    except ProtocolDecodeError as exc:
        return ("error", type(exc))


@settings(max_examples=FUZZ_CASES, deadline=None, derandomize=True)
@given(damaged_fetch_frames())
def test_damaged_fetch_requests_get_the_schema_codecs_answer(frame: bytes) -> None:
    assert _any_outcome(decode_request, frame) == _any_outcome(_schema_decode_any, frame)


class _Region:
    """A stand-in for a storage FileRegion: a length, and the bytes when read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length = len(data)

    def read(self) -> bytes:
        return self.data


FILE_RECORDS = FileRecords([_Region(b"file-bytes" * 10), _Region(b"more")])
Answer = FetchResponse.PartitionData


def _fetch_response(version: int, records: object, **partition: object) -> FetchResponse:
    by_id = version >= 13
    fields: dict[str, object] = {
        "partition_index": 2,
        "high_watermark": 1 << 35,
        "last_stable_offset": 1 << 35,
        "log_start_offset": 4,
        "records": records,
    }
    fields.update(partition)
    topic = {"topic_id": TOPIC_ID} if by_id else {"topic": "tópico"}
    return FetchResponse(
        throttle_time_ms=3,
        session_id=77 if version >= 7 else 0,
        responses=[
            FetchResponse.FetchableTopicResponse(
                **topic, partitions=[Answer(**fields), Answer(partition_index=9, records=b"")]
            ),
        ],
    )


FETCH_RESPONSE_CASES: list[tuple[object, dict[str, object]]] = [
    (FILE_RECORDS, {}),
    (b"small-records", {"aborted_transactions": []}),
    (b"r" * 5000, {"aborted_transactions": None}),
    (
        None,
        {
            "error_code": 1,
            "aborted_transactions": [
                FetchResponse.AbortedTransaction(producer_id=7, first_offset=70),
                FetchResponse.AbortedTransaction(producer_id=8, first_offset=80),
            ],
        },
    ),
]


def _schema_encode_any(
    key: int, version: int, response: object, monkeypatch: pytest.MonkeyPatch
) -> bytes:
    header = RequestHeader(request_api_key=key, request_api_version=version, correlation_id=77)
    with monkeypatch.context() as patch:
        patch.setitem(native.RESPONSE_ENCODERS, key, lambda *_: None)
        return joined(encode_response_parts(header, response))


@pytest.mark.parametrize("version", FETCH_VERSIONS)
@pytest.mark.parametrize("case", range(len(FETCH_RESPONSE_CASES)))
def test_fetch_response_encodes_as_the_schema_codec_does(
    version: int, case: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    records, partition = FETCH_RESPONSE_CASES[case]
    if version >= 11:
        partition = {**partition, "preferred_read_replica": 1}
    response = _fetch_response(version, records, **partition)
    header = RequestHeader(request_api_key=1, request_api_version=version, correlation_id=77)
    parts = encode_response_parts(header, response)
    assert native.RESPONSE_ENCODERS[1](77, version, response) is not None  # the native path
    assert joined(parts) == _schema_encode_any(1, version, response, monkeypatch)
    if records is FILE_RECORDS:  # kept whole, for sendfile
        assert any(part is FILE_RECORDS for part in parts)


@pytest.mark.parametrize(
    "partition",
    [
        {"diverging_epoch": FetchResponse.EpochEndOffset(epoch=1, end_offset=5)},
        {"current_leader": FetchResponse.LeaderIdAndEpoch(leader_id=1, leader_epoch=5)},
        {"snapshot_id": FetchResponse.SnapshotId(end_offset=5, epoch=1)},
        {"unknown_tagged_fields": [(9, b"z")]},
        {"high_watermark": "not a number"},
    ],
)
@pytest.mark.parametrize("version", [11, 12, 16])
def test_fetch_response_cases_left_to_the_schema_codec(
    partition: dict[str, object], version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = _fetch_response(version, b"x", **partition)
    assert native.RESPONSE_ENCODERS[1](77, version, response) is None
    header = RequestHeader(request_api_key=1, request_api_version=version, correlation_id=77)
    try:
        want: object = _schema_encode_any(1, version, response, monkeypatch)
    except ProtocolEncodeError:
        with pytest.raises(ProtocolEncodeError):
            encode_response_parts(header, response)
        return
    assert joined(encode_response_parts(header, response)) == want
