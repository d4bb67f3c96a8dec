"""DescribeTopicPartitions (75, KIP-966) on the wire against the in-process broker, as Kafka's
DescribeTopicPartitionsRequestHandler answers: name order, pages of at most
``response_partition_limit`` partitions with a ``next_cursor`` to go on from, the cursor's
checks (INVALID_REQUEST), unknown and illegal names, the ELR fields; and Kafka 4.4's own
``kafka-topics --describe`` (which uses it) showing what it answered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_wire import RawClient

import kafka_support as ks
from ferrokafka.cluster.image import ZERO_UUID
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.describe_topic_partitions import (
    DescribeTopicPartitionsRequest,
)
from ferrokafka.server.handlers.describe_topic_partitions import MAX_REQUEST_PARTITION_SIZE_LIMIT
from ferrokafka.testing import RunningBroker

Request = DescribeTopicPartitionsRequest
INVALID_REQUEST = 42
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"


def create(client: RawClient, name: str, partitions: int) -> None:
    topic = CreateTopicsRequest.CreatableTopic(
        name=name, num_partitions=partitions, replication_factor=1
    )
    [result] = client.call(CreateTopicsRequest(topics=[topic], timeout_ms=5000), 7).topics
    assert result.error_code == 0, result


def describe(
    client: RawClient, names: list[str], limit: int = 2000, cursor: tuple[str, int] | None = None
) -> Any:
    request = Request(
        topics=[Request.TopicRequest(name=n) for n in names],
        response_partition_limit=limit,
        cursor=None
        if cursor is None
        else Request.Cursor(topic_name=cursor[0], partition_index=cursor[1]),
    )
    return client.call(request, 0)


def pages(client: RawClient, names: list[str], limit: int) -> list[list[tuple[str, list[int]]]]:
    """Every page from the start, following next_cursor (bounded)."""
    out, cursor = [], None
    for _ in range(100):
        response = describe(client, names, limit, cursor)
        out.append([(t.name, [p.partition_index for p in t.partitions]) for t in response.topics])
        if response.next_cursor is None:
            return out
        cursor = (response.next_cursor.topic_name, response.next_cursor.partition_index)
    raise AssertionError("more than 100 pages")


def test_pages_follow_the_cursor_in_name_order(ferrokafka_broker: RunningBroker) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        create(client, "dtp-b", 5)
        create(client, "dtp-a", 2)
        create(client, "dtp-c", 1)
        names = ["dtp-c", "dtp-a", "dtp-b"]
        whole = describe(client, names)
        assert whole.next_cursor is None
        assert [(t.name, t.error_code, len(t.partitions)) for t in whole.topics] == [
            ("dtp-a", 0, 2),
            ("dtp-b", 0, 5),
            ("dtp-c", 0, 1),
        ]
        # 3 partitions a page: a topic is cut mid-way and resumed at the cursor's partition;
        # a page used up exactly at a topic's end points at the next topic's partition 0.
        assert pages(client, names, 3) == [
            [("dtp-a", [0, 1]), ("dtp-b", [0])],
            [("dtp-b", [1, 2, 3])],
            [("dtp-b", [4]), ("dtp-c", [0])],
        ]
        assert pages(client, names, 2) == [
            [("dtp-a", [0, 1])],
            [("dtp-b", [0, 1])],
            [("dtp-b", [2, 3])],
            [("dtp-b", [4]), ("dtp-c", [0])],
        ]
        # A limit below 1 is 1; above the broker's maximum, the maximum.
        one = describe(client, names, 0)
        assert [len(t.partitions) for t in one.topics] == [1]
        assert (one.next_cursor.topic_name, one.next_cursor.partition_index) == ("dtp-a", 1)
        assert len(describe(client, ["dtp-b"], MAX_REQUEST_PARTITION_SIZE_LIMIT * 2).topics) == 1
        # No names: every topic from the cursor's on, in name order.
        every = describe(client, [], cursor=("dtp-b", 3))
        assert [(t.name, [p.partition_index for p in t.partitions]) for t in every.topics][:2] == [
            ("dtp-b", [3, 4]),
            ("dtp-c", [0]),
        ]


def test_partition_fields_and_topic_ids(ferrokafka_broker: RunningBroker) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        create(client, "dtp-fields", 2)
        [topic] = describe(client, ["dtp-fields"]).topics
        node_id = ferrokafka_broker.config.node_id
        assert topic.topic_id != ZERO_UUID and not topic.is_internal
        assert topic.topic_authorized_operations > 0
        for partition in topic.partitions:
            assert partition.error_code == 0
            assert partition.leader_id == node_id and partition.leader_epoch == 0
            assert partition.replica_nodes == [node_id] and partition.isr_nodes == [node_id]
            # No ELR on this cluster: empty lists, not null (Kafka's Replicas.toList).
            assert partition.eligible_leader_replicas == [] and partition.last_known_elr == []
            assert partition.offline_replicas == []


def test_unknown_names_and_bad_cursors(ferrokafka_broker: RunningBroker) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        create(client, "dtp-known", 1)
        response = describe(client, ["dtp-known", "dtp-missing", "bad/name"])
        assert [(t.name, t.error_code, t.topic_id) for t in response.topics if t.error_code] == [
            ("bad/name", INVALID_TOPIC_EXCEPTION, ZERO_UUID),
            ("dtp-missing", UNKNOWN_TOPIC_OR_PARTITION, ZERO_UUID),
        ]
        # The cursor's topic must be one of the names; its partition not negative.
        for cursor in [("dtp-other", 0), ("dtp-known", -1)]:
            refused = describe(client, ["dtp-known"], cursor=cursor)
            assert [(t.name, t.error_code, t.partitions) for t in refused.topics] == [
                ("dtp-known", INVALID_REQUEST, [])
            ]
            assert refused.next_cursor is None
        # Names before the cursor's are left out.
        after = describe(client, ["dtp-a-before", "dtp-known"], cursor=("dtp-known", 0))
        assert [t.name for t in after.topics] == ["dtp-known"]


def test_kafka_topics_describe_uses_it(ferrokafka_broker: RunningBroker, tmp_path: Path) -> None:
    try:
        ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        pytest.fail(f"Apache Kafka is needed for this test: {exc}", pytrace=False)
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        create(client, "dtp-tool", 3)
    out = ks.run_kafka_tool(
        TOPIC_COMMAND,
        ["--bootstrap-server", ferrokafka_broker.bootstrap_servers, "--describe", "--topic",
         "dtp-tool", "--partition-size-limit-per-response", "1"],
        work_dir=tmp_path,
    ).stdout  # fmt: skip
    lines = [line.split("\t") for line in out.splitlines() if "Partition:" in line]
    node_id = ferrokafka_broker.config.node_id
    # Three pages of one partition each, put together by the tool; the ELR columns come
    # from DescribeTopicPartitions (with Metadata they would say N/A).
    assert [line[2].strip() for line in lines] == ["Partition: 0", "Partition: 1", "Partition: 2"]
    for line in lines:
        assert line[3].strip() == f"Leader: {node_id}"
        assert [c.strip() for c in line[6:]] == ["Elr:", "LastKnownElr:"]
