"""The admin APIs at every version the broker advertises, on the wire, with our codec as the
client (the real clients in test_admin_clients.py and test_admin_java.py each pick one
version; this covers the others), plus the Kafka behaviours a client library hides:
auto-creation's first answer, topic ids, deletion disabled, endpoint types."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from server_wire import RawClient

from ferrokafka.protocol import APIS, Message
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest
from ferrokafka.protocol.messages.create_partitions import CreatePartitionsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest
from ferrokafka.protocol.messages.describe_cluster import DescribeClusterRequest
from ferrokafka.protocol.messages.describe_configs import DescribeConfigsRequest
from ferrokafka.protocol.messages.describe_log_dirs import DescribeLogDirsRequest
from ferrokafka.protocol.messages.incremental_alter_configs import IncrementalAlterConfigsRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.testing import RunningBroker

TOPIC, BROKER = 2, 4  # ConfigResource types


def call(client: RawClient, request: Message, version: int) -> Any:
    return client.call(request, version)


def versions(api_key: int) -> list[int]:
    lo, hi = APIS[api_key].valid_versions
    return list(range(lo, hi + 1))


def create(client: RawClient, name: str, partitions: int = 1, version: int = 7, **kw: Any) -> Any:
    topic = CreateTopicsRequest.CreatableTopic(
        name=name, num_partitions=partitions, replication_factor=1, **kw
    )
    request = CreateTopicsRequest(topics=[topic], timeout_ms=5000)
    [result] = call(client, request, version).topics
    return result


def metadata(client: RawClient, names: list[str] | None, version: int = 12, **kw: Any) -> Any:
    topics = (
        None if names is None else [MetadataRequest.MetadataRequestTopic(name=n) for n in names]
    )
    return call(client, MetadataRequest(topics=topics, **kw), version)


@pytest.mark.parametrize("version", versions(3))
def test_metadata_every_version(ferrokafka_broker: RunningBroker, version: int) -> None:
    host, port = ferrokafka_broker.bootstrap_servers.rsplit(":", 1)
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        assert create(client, f"md-{version}", partitions=2).error_code == 0
        # v0 has no null array: an empty list is "all topics" there
        response = metadata(client, [] if version == 0 else None, version)
    assert [(b.node_id, b.host, b.port) for b in response.brokers] == [(1, host, int(port))]
    [topic] = [t for t in response.topics if t.name == f"md-{version}"]
    assert topic.error_code == 0 and not topic.is_internal
    assert [
        (p.partition_index, p.leader_id, p.replica_nodes, p.isr_nodes) for p in topic.partitions
    ] == [
        (0, 1, [1], [1]),
        (1, 1, [1], [1]),
    ]
    if version >= 1:
        assert response.controller_id == 1
    if version >= 2:
        assert response.cluster_id and len(response.cluster_id) == 22
    if version >= 10:
        assert topic.topic_id != uuid.UUID(int=0)


def test_metadata_auto_creates_as_kafka_4_answers_it(ferrokafka_broker: RunningBroker) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        # Kafka 4 sends the creation to the controller and answers before it is done
        [first] = metadata(client, ["auto-1"]).topics
        assert (first.name, first.error_code, first.partitions) == ("auto-1", 3, [])
        [second] = metadata(client, ["auto-1"]).topics
        assert second.error_code == 0 and len(second.partitions) == 1  # num.partitions
        [refused] = metadata(client, ["auto-2"], allow_auto_topic_creation=False).topics
        [internal] = metadata(client, ["__consumer_offsets"]).topics
        [illegal] = metadata(client, ["bad name!"]).topics
        after = {
            t.name: t.error_code for t in metadata(client, ["auto-2", "__consumer_offsets"]).topics
        }
    assert refused.error_code == 3
    assert internal.error_code == 3 and internal.is_internal
    assert illegal.error_code == 17
    assert after == {"auto-2": 3, "__consumer_offsets": 3}


def test_metadata_auto_creation_disabled_by_the_broker(broker_with: Any) -> None:
    with broker_with(**{"auto.create.topics.enable": "false", "num.partitions": "4"}) as broker:
        with RawClient(broker.bootstrap_servers) as client:
            metadata(client, ["nope"])
            assert metadata(client, ["nope"]).topics[0].error_code == 3
            assert create(client, "defaults", partitions=-1).num_partitions == 4


def test_metadata_by_topic_id(ferrokafka_broker: RunningBroker) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        topic_id = create(client, "by-id").topic_id
        unknown = uuid.uuid4()
        request = MetadataRequest(
            topics=[
                MetadataRequest.MetadataRequestTopic(topic_id=topic_id, name=None),
                MetadataRequest.MetadataRequestTopic(topic_id=unknown, name=None),
            ]
        )
        found, missing = call(client, request, 12).topics
        ops = metadata(client, ["by-id"], 13, include_topic_authorized_operations=True)
    assert (found.name, found.topic_id, found.error_code) == ("by-id", topic_id, 0)
    assert (missing.name, missing.topic_id, missing.error_code) == (None, unknown, 100)
    assert ops.topics[0].topic_authorized_operations > 0


@pytest.mark.parametrize("version", versions(19))
def test_create_and_delete_topics_every_version(
    ferrokafka_broker: RunningBroker, version: int
) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        result = create(client, f"cd-{version}", partitions=2, version=version)
        assert result.error_code == 0
        if version >= 5:
            assert (result.num_partitions, result.replication_factor) == (2, 1)
            assert any(c.name == "retention.ms" for c in result.configs)
        again = create(client, f"cd-{version}", version=version)
        assert again.error_code == 36  # TOPIC_ALREADY_EXISTS
        delete_version = min(version, max(versions(20)))
        if delete_version >= 6:
            state = DeleteTopicsRequest.DeleteTopicState(name=f"cd-{version}")
            request = DeleteTopicsRequest(topics=[state], timeout_ms=5000)
        else:
            request = DeleteTopicsRequest(topic_names=[f"cd-{version}"], timeout_ms=5000)
        [deleted] = call(client, request, delete_version).responses
        assert (deleted.name, deleted.error_code) == (f"cd-{version}", 0)
        assert (
            metadata(client, [f"cd-{version}"], allow_auto_topic_creation=False)
            .topics[0]
            .error_code
            == 3
        )


@pytest.mark.parametrize("version", versions(20))
def test_delete_topics_every_version(ferrokafka_broker: RunningBroker, version: int) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        topic_id = create(client, f"del-{version}").topic_id
        if version >= 6:  # by id
            state = DeleteTopicsRequest.DeleteTopicState(name=None, topic_id=topic_id)
            request = DeleteTopicsRequest(topics=[state], timeout_ms=5000)
        else:
            request = DeleteTopicsRequest(topic_names=[f"del-{version}", "nope"], timeout_ms=5000)
        results = {r.name: r.error_code for r in call(client, request, version).responses}
    assert results[f"del-{version}"] == 0
    if version < 6:
        assert results["nope"] == 3


@pytest.mark.parametrize("version", [1, 6])
def test_delete_topics_disabled(broker_with: Any, version: int) -> None:
    with broker_with(**{"delete.topic.enable": "false"}) as broker:
        with RawClient(broker.bootstrap_servers) as client:
            create(client, "kept")
            if version >= 6:
                state = DeleteTopicsRequest.DeleteTopicState(name="kept")
                request = DeleteTopicsRequest(topics=[state], timeout_ms=5000)
            else:
                request = DeleteTopicsRequest(topic_names=["kept"], timeout_ms=5000)
            [result] = call(client, request, version).responses
            assert metadata(client, ["kept"]).topics[0].error_code == 0
    # TOPIC_DELETION_DISABLED from v3, INVALID_REQUEST before (as Kafka answers)
    assert result.error_code == (73 if version >= 3 else 42)


@pytest.mark.parametrize("version", versions(37))
def test_create_partitions_every_version(ferrokafka_broker: RunningBroker, version: int) -> None:
    name = f"cp-{version}"
    topic = CreatePartitionsRequest.CreatePartitionsTopic
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        create(client, name)
        dry = CreatePartitionsRequest(
            topics=[topic(name=name, count=3, assignments=None)],
            timeout_ms=5000,
            validate_only=True,
        )
        assert call(client, dry, version).results[0].error_code == 0
        assert len(metadata(client, [name]).topics[0].partitions) == 1
        grow = CreatePartitionsRequest(
            topics=[topic(name=name, count=3, assignments=None)], timeout_ms=5000
        )
        assert call(client, grow, version).results[0].error_code == 0
        shrink = CreatePartitionsRequest(
            topics=[topic(name=name, count=2, assignments=None)], timeout_ms=5000
        )
        assert call(client, shrink, version).results[0].error_code == 37  # INVALID_PARTITIONS
        assert len(metadata(client, [name]).topics[0].partitions) == 3


@pytest.mark.parametrize("version", versions(32))
def test_describe_configs_every_version(ferrokafka_broker: RunningBroker, version: int) -> None:
    resource = DescribeConfigsRequest.DescribeConfigsResource
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        config = CreateTopicsRequest.CreatableTopicConfig(name="retention.ms", value="12345")
        create(client, f"dc-{version}", configs=[config])
        request = DescribeConfigsRequest(
            resources=[
                resource(
                    resource_type=TOPIC, resource_name=f"dc-{version}", configuration_keys=None
                ),
                resource(resource_type=TOPIC, resource_name="missing", configuration_keys=None),
                resource(
                    resource_type=BROKER, resource_name="1", configuration_keys=["num.partitions"]
                ),
                resource(resource_type=BROKER, resource_name="7", configuration_keys=None),
            ],
            include_synonyms=True,
            include_documentation=version >= 3,
        )
        topic, missing, broker, other = call(client, request, version).results
    entries = {c.name: c for c in topic.configs}
    assert topic.error_code == 0 and entries["retention.ms"].value == "12345"
    assert entries["retention.ms"].config_source == 1  # DYNAMIC_TOPIC_CONFIG
    assert entries["cleanup.policy"].value == "delete"
    assert missing.error_code == 3 and missing.configs == []
    assert [(c.name, c.value) for c in broker.configs] == [("num.partitions", "1")]
    assert other.error_code == 42
    if version >= 3:
        assert entries["retention.ms"].documentation


@pytest.mark.parametrize("version", versions(33))
def test_alter_configs_every_version(ferrokafka_broker: RunningBroker, version: int) -> None:
    name = f"ac-{version}"
    resource = AlterConfigsRequest.AlterConfigsResource
    config = AlterConfigsRequest.AlterableConfig
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        create(client, name)
        good = AlterConfigsRequest(
            resources=[
                resource(
                    resource_type=TOPIC,
                    resource_name=name,
                    configs=[config(name="retention.ms", value="777")],
                )
            ]
        )
        bad = AlterConfigsRequest(
            resources=[
                resource(
                    resource_type=TOPIC,
                    resource_name=name,
                    configs=[config(name="retention.ms", value="soon")],
                )
            ]
        )
        assert call(client, good, version).responses[0].error_code == 0
        assert call(client, bad, version).responses[0].error_code == 40  # INVALID_CONFIG
        assert describe(client, name, "retention.ms") == "777"
    topic_log = ferrokafka_broker.partition(name, 0)
    assert topic_log is not None and topic_log.log.config.retention_ms == 777


@pytest.mark.parametrize("version", versions(44))
def test_incremental_alter_configs_every_version(
    ferrokafka_broker: RunningBroker, version: int
) -> None:
    name = f"iac-{version}"
    resource = IncrementalAlterConfigsRequest.AlterConfigsResource
    config = IncrementalAlterConfigsRequest.AlterableConfig
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        create(client, name)
        ops = [
            config(name="segment.bytes", config_operation=0, value="1048576"),
            config(name="cleanup.policy", config_operation=2, value="compact"),
        ]
        request = IncrementalAlterConfigsRequest(
            resources=[resource(resource_type=TOPIC, resource_name=name, configs=ops)]
        )
        assert call(client, request, version).responses[0].error_code == 0
        assert describe(client, name, "segment.bytes") == "1048576"
        assert describe(client, name, "cleanup.policy") == "delete,compact"


def describe(client: RawClient, topic: str, key: str) -> str:
    resource = DescribeConfigsRequest.DescribeConfigsResource(
        resource_type=TOPIC, resource_name=topic, configuration_keys=[key]
    )
    [result] = call(client, DescribeConfigsRequest(resources=[resource]), 4).results
    [entry] = result.configs
    return entry.value


@pytest.mark.parametrize("version", versions(60))
def test_describe_cluster_every_version(ferrokafka_broker: RunningBroker, version: int) -> None:
    host, port = ferrokafka_broker.bootstrap_servers.rsplit(":", 1)
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        response = call(client, DescribeClusterRequest(), version)
        cluster_id = metadata(client, None).cluster_id
        if version >= 1:
            controllers = call(client, DescribeClusterRequest(endpoint_type=2), version)
            assert controllers.error_code == 114  # MISMATCHED_ENDPOINT_TYPE
    assert response.error_code == 0
    assert (response.cluster_id, response.controller_id) == (cluster_id, 1)
    assert [(b.broker_id, b.host, b.port) for b in response.brokers] == [(1, host, int(port))]


@pytest.mark.parametrize("version", versions(35))
def test_describe_log_dirs_every_version(ferrokafka_broker: RunningBroker, version: int) -> None:
    name = f"ld-{version}"
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        create(client, name, partitions=2)
        wanted = DescribeLogDirsRequest.DescribableLogDirTopic(topic=name, partitions=[1])
        some = call(client, DescribeLogDirsRequest(topics=[wanted]), version)
        every = call(client, DescribeLogDirsRequest(topics=None), version)
    [log_dir] = some.results
    assert log_dir.error_code == 0
    assert log_dir.log_dir == str((ferrokafka_broker.data_dir / "logs").absolute())
    [topic] = [t for t in log_dir.topics if t.name == name]
    assert [p.partition_index for p in topic.partitions] == [1]
    [everything] = [t for t in every.results[0].topics if t.name == name]
    assert [p.partition_index for p in everything.partitions] == [0, 1]
    if version >= 4:
        assert 0 < log_dir.usable_bytes <= log_dir.total_bytes
