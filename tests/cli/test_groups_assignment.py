"""Decoding a classic member's assignment bytes (Kafka's ConsumerProtocol: int16 version, then
ConsumerProtocolAssignment). Real clients' bytes are covered end to end in test_groups_cli.py
(librdkafka's v0, the Java consumer's v3); these pin the edges: user data, a version newer than
we know (read with the newest schema we know, trailing fields ignored, as Kafka's
ConsumerProtocol does), and bytes that are not an assignment."""

from __future__ import annotations

import pytest

from ferrokafka.protocol import encode_message
from ferrokafka.protocol.messages.consumer_protocol_assignment import ConsumerProtocolAssignment
from ferrokafka_cli.client import ClientError
from ferrokafka_cli.group_admin import decode_assignment


def assignment_bytes(
    version: int, user_data: bytes | None, body_version: int | None = None
) -> bytes:
    body = ConsumerProtocolAssignment(
        assigned_partitions=[
            ConsumerProtocolAssignment.TopicPartition(topic="a", partitions=[2, 0]),
            ConsumerProtocolAssignment.TopicPartition(topic="b", partitions=[1]),
        ],
        user_data=None if user_data is None else memoryview(user_data),
    )
    encoded = encode_message(body, version if body_version is None else body_version)
    return version.to_bytes(2, "big", signed=True) + encoded


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_each_version_with_and_without_user_data(version: int) -> None:
    for user_data in (None, b"", b"\x00sticky\xff"):
        decoded = decode_assignment(assignment_bytes(version, user_data))
        assert decoded.version == version
        assert decoded.partitions == {"a": [2, 0], "b": [1]}
        assert decoded.user_data == user_data


def test_newer_version_reads_known_fields_and_ignores_the_rest() -> None:
    data = assignment_bytes(7, b"ud", body_version=3) + b"\x00\x01future"
    decoded = decode_assignment(data)
    assert (decoded.version, decoded.partitions, decoded.user_data) == (
        7,
        {"a": [2, 0], "b": [1]},
        b"ud",
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\xff\xff" + b"\x00" * 8, b"\x00\x00\x00\x00\x00\x05", b"\x00\x00\x7f"],
)
def test_bytes_that_are_not_an_assignment_are_a_client_error(data: bytes) -> None:
    with pytest.raises(ClientError):
        decode_assignment(data)
