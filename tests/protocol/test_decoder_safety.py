"""The request decoder meets hostile bytes: it decodes them or raises ProtocolDecodeError /
UnsupportedApiVersionError, nothing else, and never reads or allocates past its frame.
Also: named limits on wire lengths, the zero-copy records path, and encode-side checks.
"""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import api_versions, sample

from ferrokafka.protocol import (
    APIS,
    ProtocolDecodeError,
    ProtocolEncodeError,
    RequestHeader,
    UnsupportedApiVersionError,
    decode_request,
    encode_message,
    encode_request,
    request_header_version,
)
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.protocol.messages.produce import ProduceRequest

FUZZ_CASES = 300


def _valid_frames() -> list[bytes]:
    frames = []
    for api_key, version in api_versions():
        header = RequestHeader(request_api_key=api_key, request_api_version=version, client_id="c")
        frames.append(encode_request(header, sample(APIS[api_key].request_class, version))[4:])
    return frames


VALID_FRAMES = _valid_frames()


def _decode_or_typed_error(frame: bytes) -> None:
    try:
        decode_request(memoryview(frame))
    except (ProtocolDecodeError, UnsupportedApiVersionError):
        pass


@settings(max_examples=FUZZ_CASES, deadline=None, derandomize=True)
@given(st.binary(max_size=512))
def test_random_bytes(frame: bytes) -> None:
    _decode_or_typed_error(frame)


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(st.sampled_from(VALID_FRAMES)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "length"]))
        at = draw(st.integers(0, max(len(frame) - 1, 0)))
        if action == "flip" and frame:
            frame[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "truncate":
            del frame[at:]
        elif action == "insert":
            frame[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del frame[at : at + draw(st.integers(1, 8))]
        elif action == "length" and len(frame) >= at + 4:  # a huge or negative length
            frame[at : at + 4] = draw(st.sampled_from([b"\x7f\xff\xff\xff", b"\xff\xff\xff\xfe"]))
    return bytes(frame)


@settings(
    max_examples=FUZZ_CASES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated_frames())
def test_mutated_valid_frames(frame: bytes) -> None:
    _decode_or_typed_error(frame)


def test_every_truncation_of_a_produce_frame() -> None:
    frame = VALID_FRAMES[[key for key, _ in api_versions()].index(0)]
    for end in range(len(frame)):
        with pytest.raises(ProtocolDecodeError):
            decode_request(memoryview(frame)[:end])


def test_unknown_api_key_and_version_carry_the_correlation_id() -> None:
    for api_key, version in ((999, 0), (18, 99), (0, 0)):  # Produce v0-2 are gone in Kafka 4
        frame = struct.pack(">hhi", api_key, version, 4242) + b"\x00\x01x"
        with pytest.raises(UnsupportedApiVersionError) as info:
            decode_request(frame)
        assert (info.value.api_key, info.value.api_version) == (api_key, version)
        assert info.value.correlation_id == 4242


def test_declared_lengths_beyond_the_frame_fail_before_allocating() -> None:
    header = struct.pack(">hhi", 3, 4, 1) + b"\x00\x00"  # Metadata v4, client id ""
    for body in (
        b"\x7f\xff\xff\xff",  # topics: 2**31-1 elements in 0 bytes
        b"\x00\x00\x00\x01\x7f\xff",  # one topic whose name claims 32767 bytes
        b"\xff\xff\xff\xfe",  # length -2
    ):
        with pytest.raises(ProtocolDecodeError):
            decode_request(header + body)


def test_trailing_bytes_after_a_request_are_ignored_as_kafka_ignores_them() -> None:
    header = RequestHeader(request_api_key=18, request_api_version=3, client_id="c")
    frame = encode_request(header, ApiVersionsRequest())[4:] + b"\x00"
    assert decode_request(frame) == (header, ApiVersionsRequest())


def test_known_vector_librdkafka_metadata_v13_all_topics() -> None:
    # librdkafka 2.16's list_topics: the null topic array written as int32 0 where v13 reads a
    # varint, so Kafka reads null (all topics), auto-create off, and 3 bytes are left over.
    frame = bytes.fromhex("0003000d00000003000772646b61666b610000000000010000")
    header, request = decode_request(frame)
    assert (header.client_id, header.correlation_id) == ("rdkafka", 3)
    assert request.topics is None and request.allow_auto_topic_creation is False


def test_produce_records_are_a_view_of_the_frame_not_a_copy() -> None:
    batch = bytes(range(256)) * 4096  # 1 MiB
    partition = ProduceRequest.PartitionProduceData(index=0, records=batch)
    topic = ProduceRequest.TopicProduceData(name="t", partition_data=[partition])
    request = ProduceRequest(acks=-1, timeout_ms=1000, topic_data=[topic])
    header = RequestHeader(request_api_key=0, request_api_version=9, client_id="c")
    frame = bytearray(encode_request(header, request)[4:])
    _, decoded = decode_request(memoryview(frame))
    records = decoded.topic_data[0].partition_data[0].records
    assert isinstance(records, memoryview)
    assert records.obj is frame  # a slice of the frame's buffer: nothing copied
    assert records.nbytes == len(batch) and records == batch
    frame[bytes(frame).find(batch)] ^= 0xFF  # the view sees a change to the frame
    assert records[0] == batch[0] ^ 0xFF


def test_encode_rejects_fields_the_version_lacks_unless_ignorable() -> None:
    # Metadata v0 has no allow_auto_topic_creation (added in v4, not ignorable).
    with pytest.raises(ProtocolEncodeError, match="allow_auto_topic_creation"):
        encode_message(MetadataRequest(allow_auto_topic_creation=False), 0)
    # ...but the ignorable topic id of Produce v13 is dropped silently at v12.
    topic = ProduceRequest.TopicProduceData(name="t", topic_id=uuid.uuid4())
    encode_message(ProduceRequest(topic_data=[topic]), 12)


def test_encode_rejects_null_where_not_nullable_and_out_of_range_ints() -> None:
    with pytest.raises(ProtocolEncodeError):
        encode_message(MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=None)]), 1)
    with pytest.raises(ProtocolEncodeError):
        encode_message(ProduceRequest(acks=1 << 20), 9)


def test_request_header_versions() -> None:
    assert request_header_version(18, 2) == 1
    assert request_header_version(18, 3) == 2
    assert request_header_version(0, 8) == 1 and request_header_version(0, 9) == 2


def test_known_vector_kafka_python_api_versions_v4() -> None:
    # kafka-python 3.0.12's first frame (captured by test_client_frames.py).
    frame = b"\x00\x12\x00\x04\x00\x00\x00\x01\x00\x01x\x00\rkafka-python\x073.0.12\x00"
    header, request = decode_request(frame)
    assert (header.request_api_key, header.request_api_version) == (18, 4)
    assert (header.correlation_id, header.client_id) == (1, "x")
    assert request.client_software_name == "kafka-python"
    assert request.client_software_version == "3.0.12"
    assert encode_request(header, request)[4:] == frame


def test_known_vector_metadata_v13_all_topics_empty() -> None:
    # kafka-python's bootstrap Metadata v13: an empty (not null) topic array, auto-create on.
    frame = b"\x00\x03\x00\r\x00\x00\x00\x02\x00\x01x\x00\x01\x01\x00\x00"
    header, request = decode_request(frame)
    assert request.topics == [] and request.allow_auto_topic_creation is True
    assert encode_request(header, request)[4:] == frame
