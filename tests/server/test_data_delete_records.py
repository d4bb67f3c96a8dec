"""DeleteRecords: the log start moves up, fetches below it are out of range, ListOffsets
earliest follows; Kafka's errors for bad offsets, unknown partitions and compacted topics."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from data_broker import Client, DataBroker, data_broker
from test_produce_fetch import TOPIC, batch, fetch, list_offset, produce, values

from ferrokafka.protocol.messages.delete_records import DeleteRecordsRequest

with warnings.catch_warnings():  # kafka-python's own importlib deprecation warnings
    warnings.simplefilter("ignore", DeprecationWarning)

    from kafka import KafkaAdminClient, TopicPartition

DELETE_RECORDS_V = 2


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC, partitions=2)
        b.create_topic("compacted", configs={"cleanup.policy": "compact"})
        yield b


@pytest.fixture
def client(broker: DataBroker) -> Iterator[Client]:
    c = Client(broker.bootstrap_servers)
    with c:
        yield c


def delete(client: Client, offset: int, topic: str = TOPIC, partition: int = 0) -> tuple[int, int]:
    request = DeleteRecordsRequest(
        timeout_ms=5_000,
        topics=[
            DeleteRecordsRequest.DeleteRecordsTopic(
                name=topic,
                partitions=[
                    DeleteRecordsRequest.DeleteRecordsPartition(
                        partition_index=partition, offset=offset
                    )
                ],
            )
        ],
    )
    part = client.call(request, DELETE_RECORDS_V).topics[0].partitions[0]
    return part.error_code, part.low_watermark


def test_delete_records(client: Client) -> None:
    for value in (b"a", b"b", b"c"):
        produce(client, batch(value))
    assert delete(client, 2) == (0, 2)
    assert fetch(client, 0).error_code == 1
    assert values(fetch(client, 2).records) == [b"c"]
    assert fetch(client, 2).log_start_offset == 2
    assert list_offset(client, -2)[:2] == (0, 2)
    assert delete(client, 1) == (0, 2)  # never goes back
    assert delete(client, 4) == (1, -1)  # past the high watermark
    assert delete(client, -1) == (0, 3)  # -1: up to the high watermark
    assert list_offset(client, -1)[:2] == (0, 3)


def test_delete_records_errors(client: Client) -> None:
    assert delete(client, 0, partition=9) == (3, -1)
    assert delete(client, 0, topic="nope") == (3, -1)
    assert delete(client, 0, topic="compacted") == (44, -1)
    assert delete(client, -5) == (1, -1)


@pytest.mark.filterwarnings("ignore:.*is deprecated. Use files:DeprecationWarning")
def test_kafka_python_admin_delete_records(broker: DataBroker, client: Client) -> None:
    for value in (b"a", b"b"):
        produce(client, batch(value), partition=1)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        result = admin.delete_records({TopicPartition(TOPIC, 1): 1})
    finally:
        admin.close()
    assert result[TopicPartition(TOPIC, 1)]["low_watermark"] == 1
    assert fetch(client, 1, partition=1).log_start_offset == 1
