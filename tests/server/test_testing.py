"""ferrokafka.testing: the in-process broker users start from their own tests."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import trio
from server_wire import RawClient, api_versions_frame

from ferrokafka.testing import RunningBroker, open_broker, run_broker

TEST_TIMEOUT_S = 10.0


def test_fixture_gives_a_loopback_ephemeral_broker(ferrokafka_broker: RunningBroker) -> None:
    host, port = ferrokafka_broker.bootstrap_servers.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    names = {a.listener_name for a in ferrokafka_broker.addresses}
    assert names == {"PLAINTEXT", "CONTROLLER"}
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        assert client.call_api_versions().error_code == 0


def test_run_broker_stops_cleanly_and_frees_its_port(tmp_path: Path) -> None:
    with run_broker(tmp_path) as broker:
        address = broker.bootstrap_servers
        client = RawClient(address)
        assert client.call_api_versions().error_code == 0
    assert client.is_closed_by_peer()  # an idle client was closed at shutdown
    client.close()
    host, port = address.rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=TEST_TIMEOUT_S).close()
    assert (tmp_path / "logs").is_dir()  # a given data directory is left in place


def test_run_broker_removes_the_data_dir_it_created() -> None:
    with run_broker() as broker:
        data_dir = broker.data_dir
        assert data_dir.is_dir()
    assert not data_dir.exists()


def test_run_broker_reports_a_bad_config() -> None:
    with pytest.raises(ValueError, match="num.partitions"):
        with run_broker(overrides={"num.partitions": "zero"}):
            pass


def test_controller_listener_advertises_controller_apis(ferrokafka_broker: RunningBroker) -> None:
    controller = next(a for a in ferrokafka_broker.addresses if a.listener_name == "CONTROLLER")
    with RawClient(f"{controller.host}:{controller.port}") as client:
        response = client.call_api_versions(1, 4)
    # ApiVersions, and what a controller answers (Kafka's ControllerApis): CreateTopics 19,
    # DeleteTopics 20, CreateAcls 30, DeleteAcls 31, AlterConfigs 33, CreatePartitions 37,
    # ElectLeaders 43, IncrementalAlterConfigs 44, AlterPartitionReassignments 45,
    # ListPartitionReassignments 46, AlterClientQuotas 49, AlterUserScramCredentials 51,
    # DescribeQuorum 55, AlterPartition 56, Envelope 58, DescribeCluster 60 (KIP-919),
    # BrokerRegistration 62, BrokerHeartbeat 63, UnregisterBroker 64, AllocateProducerIds 67,
    # ControllerRegistration 70, AssignReplicasToDirs 73 (KIP-858), SaslHandshake 17 and
    # SaslAuthenticate 36 (their listeners are broker and controller); no client API such as
    # Produce.
    assert [k.api_key for k in response.api_keys] == [
        17, 18, 19, 20, 30, 31, 33, 36, 37, 43, 44, 45, 46, 49, 51, 55, 56, 58, 60, 62, 63, 64,
        67, 70, 73,
    ]  # fmt: skip


def test_open_broker_inside_trio() -> None:
    async def main() -> None:
        with trio.fail_after(TEST_TIMEOUT_S):
            async with open_broker() as broker:
                host, port = broker.bootstrap_servers.rsplit(":", 1)
                stream = await trio.open_tcp_stream(host, int(port))
                await stream.send_all(api_versions_frame(5, 0))
                data = b""
                while len(data) < 8:
                    data += await stream.receive_some(1024)
                assert data[4:8] == (5).to_bytes(4, "big")
                await stream.aclose()

    trio.run(main)
