"""The single node's controller listener with the StandardAuthorizer: the ACL and membership
APIs need their cluster permissions there too, and a forwarded request (Envelope, as Kafka
brokers send) is checked as the principal and address the Envelope carries, after
CLUSTER_ACTION of its sender; an unreadable principal is PRINCIPAL_DESERIALIZATION_FAILURE."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import pytest
from server_wire import RawClient

from ferrokafka.protocol import RequestHeader, decode_response, encode_request
from ferrokafka.protocol.api import encode_message
from ferrokafka.protocol.messages.create_acls import CreateAclsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest, CreateTopicsResponse
from ferrokafka.protocol.messages.default_principal_data import DefaultPrincipalData
from ferrokafka.protocol.messages.envelope import EnvelopeRequest
from ferrokafka.testing import RunningBroker, run_broker

CONFIG = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    # The test's own connections (the Envelope's sender) are the super user.
    "super.users": "User:ANONYMOUS",
}
CREATE_TOPICS_VERSION = 5
TOPIC_AUTHORIZATION_FAILED = 29
PRINCIPAL_DESERIALIZATION_FAILURE = 97
SECURITY_DISABLED = 54
LOOPBACK = bytes([127, 0, 0, 1])


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    with run_broker(tmp_path_factory.mktemp("ferrokafka"), CONFIG) as b:
        yield b


def controller_address(broker: RunningBroker) -> str:
    address = next(a for a in broker.addresses if a.listener_name == "CONTROLLER")
    return f"{address.host}:{address.port}"


def principal_bytes(principal_type: str, name: str) -> bytes:
    data = DefaultPrincipalData(type=principal_type, name=name, token_authenticated=False)
    return struct.pack(">h", 0) + encode_message(data, 0)


def forwarded_create(client: RawClient, topic: str, principal: bytes) -> tuple[int, Any]:
    """An Envelope carrying CreateTopics for ``topic`` from ``principal``: the Envelope's
    error code, and the inner response (None when the Envelope failed)."""
    header = RequestHeader(
        request_api_key=CreateTopicsRequest.API_KEY,
        request_api_version=CREATE_TOPICS_VERSION,
        correlation_id=7,
        client_id="forwarded-client",
    )
    inner = CreateTopicsRequest(
        topics=[
            CreateTopicsRequest.CreatableTopic(name=topic, num_partitions=1, replication_factor=1)
        ],
        timeout_ms=10000,
    )
    frame = encode_request(header, inner)[4:]
    envelope = client.call(
        EnvelopeRequest(
            request_data=frame, request_principal=principal, client_host_address=LOOPBACK
        ),
        0,
    )
    if envelope.error_code:
        return envelope.error_code, None
    _, response = decode_response(
        bytes(envelope.response_data), CreateTopicsRequest.API_KEY, CREATE_TOPICS_VERSION
    )
    assert isinstance(response, CreateTopicsResponse)
    return 0, response


def test_forwarded_requests_are_checked_as_their_client(broker: RunningBroker) -> None:
    with RawClient(controller_address(broker)) as client:
        code, response = forwarded_create(client, "m1", principal_bytes("User", "mallory"))
        assert code == 0
        assert [t.error_code for t in response.topics] == [TOPIC_AUTHORIZATION_FAILED]
        code, response = forwarded_create(client, "m1", b"\x00")
        assert (code, response) == (PRINCIPAL_DESERIALIZATION_FAILURE, None)
        granted = client.call(
            CreateAclsRequest(
                creations=[
                    CreateAclsRequest.AclCreation(
                        resource_type=2,
                        resource_name="m1",
                        resource_pattern_type=3,
                        principal="User:mallory",
                        host="127.0.0.1",
                        operation=5,  # CREATE
                        permission_type=3,
                    )
                ]
            ),
            2,
        )
        assert [r.error_code for r in granted.results] == [0]
        code, response = forwarded_create(client, "m1", principal_bytes("User", "mallory"))
        assert code == 0
        assert [t.error_code for t in response.topics] == [0]
        # CREATE without DESCRIBE_CONFIGS: created, but its configs are not shown (Kafka's
        # ReplicationControlManager: topic_config_error_code, no counts, no configs).
        [created] = response.topics
        assert created.topic_config_error_code == TOPIC_AUTHORIZATION_FAILED
        assert (created.num_partitions, created.replication_factor, created.configs) == (
            -1,
            -1,
            [],
        )


def test_without_an_authorizer_the_acl_apis_are_disabled(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Kafka without an authorizer answers the ACL APIs SECURITY_DISABLED, on the broker's
    listener and on the controller's."""
    creation = CreateAclsRequest.AclCreation(
        resource_type=2,
        resource_name="t",
        resource_pattern_type=3,
        principal="User:alice",
        host="*",
        operation=3,
        permission_type=3,
    )
    with run_broker(tmp_path_factory.mktemp("plain")) as plain:
        for address in (plain.bootstrap_servers, controller_address(plain)):
            with RawClient(address) as client:
                answer = client.call(CreateAclsRequest(creations=[creation]), 2)
            assert [r.error_code for r in answer.results] == [SECURITY_DISABLED], address
