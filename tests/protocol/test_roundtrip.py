"""Every API at every version, both directions: a message with a non-default value in each
field its version has (tagged fields included) encodes, decodes to an equal message, and
re-encodes to the same bytes; unknown tagged fields survive; nulls survive where allowed.
"""

from __future__ import annotations

import pytest
from samples import api_versions, data_classes, sample

from ferrokafka.protocol import (
    APIS,
    RequestHeader,
    decode_message,
    decode_request,
    decode_response,
    encode_message,
    encode_request,
    encode_response,
    request_header_version,
)

CASES = api_versions()


def _id(case: tuple[int, int]) -> str:
    return f"{APIS[case[0]].name}-v{case[1]}"


def _header(api_key: int, version: int) -> RequestHeader:
    header = sample(RequestHeader, request_header_version(api_key, version))
    header.request_api_key, header.request_api_version = api_key, version
    return header


@pytest.mark.parametrize("nulls", [False, True], ids=["values", "nulls"])
@pytest.mark.parametrize("case", CASES, ids=[_id(case) for case in CASES])
def test_request_round_trip(case: tuple[int, int], nulls: bool) -> None:
    api_key, version = case
    request = sample(APIS[api_key].request_class, version, nulls=nulls)
    header = _header(api_key, version)
    frame = encode_request(header, request)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    decoded_header, decoded = decode_request(memoryview(frame)[4:])
    assert decoded_header == header
    assert decoded == request
    assert encode_request(decoded_header, decoded) == frame


@pytest.mark.parametrize("nulls", [False, True], ids=["values", "nulls"])
@pytest.mark.parametrize("case", CASES, ids=[_id(case) for case in CASES])
def test_response_round_trip(case: tuple[int, int], nulls: bool) -> None:
    api_key, version = case
    response = sample(APIS[api_key].response_class, version, nulls=nulls)
    header = _header(api_key, version)
    frame = encode_response(header, response)
    decoded_header, decoded = decode_response(memoryview(frame)[4:], api_key, version)
    assert decoded_header.correlation_id == header.correlation_id
    assert decoded == response
    assert encode_response(header, decoded) == frame


DATA = data_classes()


@pytest.mark.parametrize("case", DATA, ids=[f"{cls.__name__}-v{version}" for cls, version in DATA])
def test_header_and_data_round_trip(case: tuple[type, int]) -> None:
    cls, version = case
    message = sample(cls, version)
    data = encode_message(message, version)
    decoded = decode_message(cls, data, version)
    assert decoded == message
    assert encode_message(decoded, version) == data


def test_every_api_has_cases() -> None:
    assert {key for key, _ in CASES} == set(APIS)
    assert len(CASES) > 300  # 309 (API, version) pairs in Kafka 4.4
