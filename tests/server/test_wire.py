"""The broker on the wire, byte by byte: ApiVersions, pipelining, and bad input closing only
the connection it came on."""

from __future__ import annotations

import struct

import pytest
from server_wire import RawClient, api_versions_frame, raw_frame

from ferrokafka.protocol import decode_response, supported_api_versions
from ferrokafka.testing import RunningBroker

PIPELINED_REQUESTS = 50


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4, 5])
def test_api_versions_every_version(ferrokafka_broker: RunningBroker, version: int) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        response = client.call_api_versions(7, version)
    assert response.error_code == 0
    # every advertised API is one the broker answers, at our table's versions
    ours = {key: (lo, hi) for key, lo, hi in supported_api_versions("broker")}
    advertised = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
    assert {3, 18} <= set(advertised)
    assert all(ours[key] == versions for key, versions in advertised.items())
    assert response.throttle_time_ms == 0
    if version >= 3:
        assert {f.name for f in response.supported_features} == {
            "group.version",
            "metadata.version",
            "share.version",
            "transaction.version",
        }
        group, metadata, share, transaction = response.finalized_features
        assert (group.name, group.max_version_level) == ("group.version", 1)
        assert metadata.name == "metadata.version" and metadata.min_version_level >= 7
        # share.version 1 turns share groups on (KIP-932), 2 their dead-letter queues
        # (KIP-1191): the share APIs are advertised.
        assert (share.name, share.max_version_level) == ("share.version", 2)
        assert {76, 77, 78, 79, 90, 91, 92} <= set(advertised)
        # A new single node finalizes transaction.version 2 (KIP-890 part 2), as Kafka 4.4.
        assert (transaction.name, transaction.max_version_level) == ("transaction.version", 2)
        assert response.finalized_features_epoch >= 0


def test_api_versions_v0_bytes(ferrokafka_broker: RunningBroker) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        client.send(raw_frame(18, 0, 0x01020304))
        frame = client.recv_frame()
    # correlation id, error 0, then (key, min, max) entries; no throttle field in v0
    assert frame[:6] == bytes.fromhex("01020304 0000")
    (count,) = struct.unpack_from(">i", frame, 6)
    assert len(frame) == 10 + 6 * count
    entries = [struct.unpack_from(">hhh", frame, 10 + 6 * i) for i in range(count)]
    assert (18, 0, 5) in entries and (3, 0, 13) in entries


def test_api_versions_unsupported_version_answers_error_35_in_a_v0_body(
    ferrokafka_broker: RunningBroker,
) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        # v99 of a header we cannot parse beyond its prefix: the body is not even looked at
        client.send(raw_frame(18, 99, 7, b"\x00\x01garbage"))
        # Apache Kafka 4.4.0 answers exactly this: UNSUPPORTED_VERSION and ApiVersions 0..5
        assert client.recv_frame() == bytes.fromhex("00000007 0023 00000001 0012 0000 0005")
        # the connection stays usable: the client retries with a version it shares
        assert client.call_api_versions(8, 4).error_code == 0


def test_api_versions_v3_with_invalid_software_name_is_invalid_request(
    ferrokafka_broker: RunningBroker,
) -> None:
    # compact strings: length+1 as an unsigned varint; "-bad" fails Kafka's name pattern
    body = struct.pack(">hhih", 18, 3, 5, 1) + b"x" + b"\x00" + b"\x05-bad" + b"\x021" + b"\x00"
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        client.send(struct.pack(">i", len(body)) + body)
        header, response = decode_response(client.recv_frame(), 18, 3)
    assert header.correlation_id == 5 and response.error_code == 42 and response.api_keys == []


def test_pipelined_requests_are_answered_in_order(ferrokafka_broker: RunningBroker) -> None:
    versions = [i % 5 for i in range(PIPELINED_REQUESTS)]
    burst = b"".join(api_versions_frame(1000 + i, v) for i, v in enumerate(versions))
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        client.send(burst)  # one write: the broker reads many frames from one chunk
        for i, version in enumerate(versions):
            header, response = decode_response(client.recv_frame(), 18, version)
            assert (header.correlation_id, response.error_code) == (1000 + i, 0)


BAD_INPUT = {
    "garbage": b"\x00\x00\x00\x0a" + b"\xff" * 10,
    "shorter than a header": b"\x00\x00\x00\x03\x00\x12\x00",
    "unknown api key": raw_frame(9999, 0, 1),
    "unsupported version of another api": raw_frame(3, 99, 1),
    # CreateDelegationToken: in the protocol table, without a handler here
    "an api without a handler": raw_frame(38, 3, 1, b"\x00" * 8),
    "negative size": b"\xff\xff\xff\xfe",
    "size over socket.request.max.bytes": struct.pack(">i", 100 * 1024 * 1024 + 1),
}


@pytest.mark.parametrize("data", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_closes_only_its_connection(
    ferrokafka_broker: RunningBroker, data: bytes
) -> None:
    address = ferrokafka_broker.bootstrap_servers
    with RawClient(address) as bystander, RawClient(address) as bad:
        assert bystander.call_api_versions(1).error_code == 0
        bad.send(data)
        assert bad.is_closed_by_peer()
        assert bystander.call_api_versions(2).error_code == 0
    with RawClient(address) as newcomer:  # the broker still accepts
        assert newcomer.call_api_versions(3).error_code == 0


def test_trailing_bytes_after_a_request_are_ignored_as_kafka_ignores_them(
    ferrokafka_broker: RunningBroker,
) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        client.send(raw_frame(18, 0, 0x0A0B0C0D, b"\x00\x00\x00"))
        assert client.recv_frame()[:6] == bytes.fromhex("0A0B0C0D 0000")
        assert client.call_api_versions(2).error_code == 0


def test_truncated_frame_then_disconnect_leaves_the_broker_serving(
    ferrokafka_broker: RunningBroker,
) -> None:
    address = ferrokafka_broker.bootstrap_servers
    with RawClient(address) as client:
        client.send(api_versions_frame(1)[:9])  # size prefix promises more than comes
    with RawClient(address) as client:
        assert client.call_api_versions(2).error_code == 0


def test_a_bad_frame_after_good_ones_still_closes(ferrokafka_broker: RunningBroker) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        client.send(api_versions_frame(1) + BAD_INPUT["unknown api key"])
        assert client.is_closed_by_peer()


def test_oversize_frame_with_a_small_limit(broker_with) -> None:  # type: ignore[no-untyped-def]
    with broker_with(**{"socket.request.max.bytes": "64"}) as broker:
        with RawClient(broker.bootstrap_servers) as client:
            frame = api_versions_frame(1, 0)
            assert len(frame) - 4 <= 64
            client.send(frame)
            assert client.recv_frame()[:4] == b"\x00\x00\x00\x01"
            client.send(struct.pack(">i", 65) + b"\x00" * 65)
            assert client.is_closed_by_peer()
