"""Every API key the broker advertises, sent by a principal the ACLs deny, answers Kafka's
authorization error and discloses nothing; the same table against Apache Kafka 4.4 configured
the same way gives the same codes.

The setup both brokers accept on PLAINTEXT, where every client is User:ANONYMOUS: the
StandardAuthorizer with ``allow.everyone.if.no.acl.found=true`` and no super users; the
topic, group, transactional-id and cluster resources get ALLOW ALL for User:ANONYMOUS from
127.0.0.1 (the broker's own connections and the test's setup client) and DENY ALL for
User:ANONYMOUS from 127.0.0.2, the address the denied client connects from. So the broker's
inter-broker and controller traffic stays allowed, as an operator must arrange (see README's
ACL section), and the denied client is refused by a DENY, the case ``DENY wins`` covers.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from server_wire import RawClient
from tests.security.acl_requests import AUTHENTICATION_APIS, GROUP, TOPIC, Row, error_codes, rows

import kafka_support as ks
from ferrokafka._ferrokafka import BatchBuilder
from ferrokafka.protocol import APIS
from ferrokafka.protocol.messages.create_acls import CreateAclsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.describe_acls import DescribeAclsRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.offset_commit import OffsetCommitRequest
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.testing import run_broker

STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
AUTHORIZER_CONFIG = {
    "authorizer.class.name": STANDARD_AUTHORIZER,
    "allow.everyone.if.no.acl.found": "true",
}
ALLOWED_HOST = "127.0.0.1"
DENIED_HOST = "127.0.0.2"
SETUP_WAIT_S = 60.0
RETRY_S = 0.2
# ResourceType ids: TOPIC 2, GROUP 3, CLUSTER 4, TRANSACTIONAL_ID 5; ALL 2; DENY 2, ALLOW 3;
# LITERAL 3.
RESOURCES = ((2, "*"), (3, "*"), (5, "*"), (4, "kafka-cluster"))
KAFKA_MARKS = [pytest.mark.kafka, pytest.mark.slow]


class DeniedClient(RawClient):
    """A RawClient whose connection comes from ``source`` (another loopback address)."""

    def __init__(self, address: str, source: str) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection(
            (host, int(port)), timeout=30.0, source_address=(source, 0)
        )
        self.client_id = "acl-denied"
        self.correlation_id = 0


def _retry(what: str, attempt: Any) -> Any:
    """``attempt()`` until it returns a truthy value, for at most SETUP_WAIT_S."""
    deadline = time.monotonic() + SETUP_WAIT_S
    while True:
        result = attempt()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not done in {SETUP_WAIT_S}s"
        time.sleep(RETRY_S)


def batch() -> bytes:
    b = BatchBuilder(compression="none")
    b.append(b"secret", key=b"k")
    return b.build()


# The test topic's id on each broker (by bootstrap address), learnt at set-up.
TOPIC_IDS: dict[str, uuid.UUID] = {}


def set_up(bootstrap: str) -> None:
    """The topic with one record, the group with a committed offset, then the ACLs."""
    with RawClient(bootstrap) as c:
        created = c.call(
            CreateTopicsRequest(
                topics=[
                    CreateTopicsRequest.CreatableTopic(
                        name=TOPIC, num_partitions=1, replication_factor=1
                    )
                ],
                timeout_ms=30000,
            ),
            7,  # v7+ answers the topic's id
        )
        assert created.topics[0].error_code == 0, created
        TOPIC_IDS[bootstrap] = created.topics[0].topic_id

        def produced() -> bool:
            topic = ProduceRequest.TopicProduceData(
                name=TOPIC,
                partition_data=[ProduceRequest.PartitionProduceData(index=0, records=batch())],
            )
            answer = c.call(ProduceRequest(acks=-1, timeout_ms=10000, topic_data=[topic]), 9)
            return answer.responses[0].partition_responses[0].error_code == 0

        _retry("produce", produced)

        def committed() -> bool:
            # FindCoordinator first: it makes the broker create __consumer_offsets.
            c.call(FindCoordinatorRequest(key_type=0, coordinator_keys=[GROUP]), 4)
            P = OffsetCommitRequest.OffsetCommitRequestPartition
            topic = OffsetCommitRequest.OffsetCommitRequestTopic(
                name=TOPIC, partitions=[P(partition_index=0, committed_offset=1)]
            )
            answer = c.call(
                OffsetCommitRequest(
                    group_id=GROUP, generation_id_or_member_epoch=-1, member_id="", topics=[topic]
                ),
                8,
            )
            return answer.topics[0].partitions[0].error_code == 0

        _retry("offset commit", committed)
        creations = [
            CreateAclsRequest.AclCreation(
                resource_type=rtype,
                resource_name=name,
                resource_pattern_type=3,
                principal="User:ANONYMOUS",
                host=host,
                operation=2,
                permission_type=permission,
            )
            for rtype, name in RESOURCES
            for host, permission in ((ALLOWED_HOST, 3), (DENIED_HOST, 2))
        ]
        answer = c.call(CreateAclsRequest(creations=creations), 2)
        assert [r.error_code for r in answer.results] == [0] * len(creations), answer

        def visible() -> bool:
            described = c.call(
                DescribeAclsRequest(
                    resource_type_filter=1,
                    resource_name_filter=None,
                    pattern_type_filter=1,
                    principal_filter=None,
                    host_filter=None,
                    operation=1,
                    permission_type=1,
                ),
                2,
            )
            return sum(len(r.acls) for r in described.resources) == len(creations)

        _retry("ACLs visible", visible)


@pytest.fixture(scope="module")
def ferrokafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_broker(tmp_path_factory.mktemp("ferrokafka"), AUTHORIZER_CONFIG) as broker:
        set_up(broker.bootstrap_servers)
        yield broker.bootstrap_servers


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ks.require_kafka()
    broker = ks.KafkaBroker(tmp_path_factory.mktemp("kafka"), broker_config=AUTHORIZER_CONFIG)
    broker.start()
    try:
        set_up(broker.bootstrap_servers)
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="module", params=["ferrokafka", pytest.param("kafka", marks=KAFKA_MARKS)])
def target(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, str(request.getfixturevalue(f"{request.param}_bootstrap"))


def advertised(bootstrap: str) -> dict[str, tuple[int, int]]:
    with DeniedClient(bootstrap, DENIED_HOST) as c:
        answer = c.call_api_versions()
    assert answer.error_code == 0
    return {
        APIS[k.api_key].name: (k.min_version, k.max_version)
        for k in answer.api_keys
        if k.api_key in APIS
    }


def test_every_advertised_api_has_a_row(ferrokafka_bootstrap: str) -> None:
    names = {row.api.split(" (")[0] for row in rows(batch())}
    missing = set(advertised(ferrokafka_bootstrap)) - names - AUTHENTICATION_APIS
    assert not missing, f"advertised APIs without an authorization row: {sorted(missing)}"


@pytest.mark.parametrize("row", rows(batch()), ids=lambda row: row.api)
def test_denied_principal_gets_kafkas_error(target: tuple[str, str], row: Row) -> None:
    name, bootstrap = target
    versions = advertised(bootstrap)
    api = row.api.split(" (")[0]
    if api not in versions:
        pytest.skip(f"{name} does not advertise {api}")
    low, high = versions[api]
    assert low <= row.version <= high, f"{name} {api} v{row.version} not in {low}-{high}"
    with DeniedClient(bootstrap, DENIED_HOST) as c:
        response = c.call(row.request(TOPIC_IDS[bootstrap]), row.version)
    assert error_codes(response) == row.codes, f"{name} {api}: {response}"
    assert not row.disclosed(response), f"{name} {api} disclosed: {row.disclosed(response)}"


def test_allowed_host_still_reads(ferrokafka_bootstrap: str) -> None:
    """The same principal from the allowed address is unaffected (the DENY is per host)."""
    request = next(r for r in rows(batch()) if r.api == "Fetch").request(
        TOPIC_IDS[ferrokafka_bootstrap]
    )
    with RawClient(ferrokafka_bootstrap) as c:
        response = c.call(request, 12)
    assert error_codes(response) == frozenset()
    assert response.responses[0].partitions[0].records
