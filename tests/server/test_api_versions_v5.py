"""ApiVersions v5 (KIP-1242, Kafka 4.4) on the wire: a client names the cluster and the node it
means to reach, and a broker listener that is not that node of that cluster answers
REBOOTSTRAP_REQUIRED (129) instead of its API list. Byte-level, as Kafka 4.4.0's KafkaApis
answers: the check comes after the validity check (INVALID_REQUEST, 42, for a cluster id
without a node id or the reverse), and an error answer carries no API list. The controller
listener checks validity only, as Kafka's ControllerApis.
"""

from __future__ import annotations

import pytest
from server_wire import CORRELATION_ID, RawClient, api_versions_error_answer, api_versions_v5_frame

from ferrokafka.protocol import decode_response
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.testing import RunningBroker


def identity(broker: RunningBroker) -> tuple[str, int]:
    node = broker.broker.node
    assert node is not None
    return node.cluster_id, broker.config.node_id


def controller_address(broker: RunningBroker) -> str:
    bound = next(a for a in broker.addresses if a.listener_name == "CONTROLLER")
    return f"{bound.host}:{bound.port}"


def test_the_cluster_id_a_client_learns_from_metadata_is_the_one_checked(
    ferrokafka_broker: RunningBroker,
) -> None:
    """What the Java client sends is Metadata's cluster id and broker id: they must match."""
    cluster_id, node_id = identity(ferrokafka_broker)
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        metadata = client.call(MetadataRequest(topics=[]), 12)
    assert metadata.cluster_id == cluster_id
    assert [b.node_id for b in metadata.brokers] == [node_id]


def test_v5_naming_this_node_of_this_cluster_gets_the_api_list(
    ferrokafka_broker: RunningBroker,
) -> None:
    cluster_id, node_id = identity(ferrokafka_broker)
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        client.send(api_versions_v5_frame(cluster_id, node_id))
        header, response = decode_response(client.recv_frame(), 18, 5)
    assert header.correlation_id == CORRELATION_ID
    assert response.error_code == 0
    advertised = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
    assert advertised[18] == (0, 5)
    assert advertised[42] == (0, 3)  # DeleteGroups v3 (Kafka 4.4)
    assert advertised[28] == (0, 6)  # TxnOffsetCommit v6 (Kafka 4.4, topic ids)
    assert {f.name for f in response.supported_features} >= {"metadata.version"}


def test_v5_naming_nothing_is_not_checked(ferrokafka_broker: RunningBroker) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        client.send(api_versions_v5_frame(None, -1))
        header, response = decode_response(client.recv_frame(), 18, 5)
    assert (header.correlation_id, response.error_code) == (CORRELATION_ID, 0)
    assert response.api_keys


@pytest.mark.parametrize("wrong", ["cluster", "node", "both"])
def test_v5_naming_another_cluster_or_node_is_rebootstrap_required(
    ferrokafka_broker: RunningBroker, wrong: str
) -> None:
    cluster_id, node_id = identity(ferrokafka_broker)
    if wrong in ("cluster", "both"):
        cluster_id = "AnotherClusterIdAAAAAA"
    if wrong in ("node", "both"):
        node_id += 1
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        client.send(api_versions_v5_frame(cluster_id, node_id))
        assert client.recv_frame() == api_versions_error_answer(129)
        # Kafka answers, it does not close: the connection still serves (the client closes it).
        assert client.call_api_versions(2, 5).error_code == 0


@pytest.mark.parametrize(
    "cluster_id, node_id", [(None, 1), ("AnotherClusterIdAAAAAA", -1)], ids=["node", "cluster"]
)
def test_v5_naming_only_one_of_cluster_and_node_is_invalid_request(
    ferrokafka_broker: RunningBroker, cluster_id: str | None, node_id: int
) -> None:
    # the validity check comes first: a wrong cluster id alone is INVALID_REQUEST, not 129
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        client.send(api_versions_v5_frame(cluster_id, node_id))
        assert client.recv_frame() == api_versions_error_answer(42)


def test_the_controller_listener_does_not_check_the_identity(
    ferrokafka_broker: RunningBroker,
) -> None:
    with RawClient(controller_address(ferrokafka_broker)) as client:
        client.send(api_versions_v5_frame("AnotherClusterIdAAAAAA", 12345))
        header, response = decode_response(client.recv_frame(), 18, 5)
        assert (header.correlation_id, response.error_code) == (CORRELATION_ID, 0)
        assert response.api_keys
        # but it does check validity
        client.send(api_versions_v5_frame(None, 7, correlation_id=9))
        assert client.recv_frame() == api_versions_error_answer(42, 9)
