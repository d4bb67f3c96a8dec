"""OffsetForLeaderEpoch and DescribeProducers from clients we did not write: librdkafka
(confluent-kafka) validates a seek position that carries a leader epoch with
OffsetForLeaderEpoch (KIP-320) before it fetches again, and Apache Kafka's transactions tool
lists the producers of a partition an idempotent confluent-kafka producer wrote to."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka as ck
import pytest
from data_broker import DataBroker, data_broker
from test_data_clients import CLIENT_TIMEOUT_S

from kafka_support.jars import run_kafka_tool

TOPIC = "epoch-clients"
RECORDS = 5
SEEK_TO = 3
# Polls are bounded; a healthy run needs one or two.
POLL_S = 2.0
POLLS_MAX = 10


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC)
        yield b


def produce(broker: DataBroker, **config: object) -> None:
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap_servers, **config})
    for i in range(RECORDS):
        producer.produce(TOPIC, key=b"k", value=b"v%d" % i)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0


def next_message(consumer: ck.Consumer) -> ck.Message:
    for _ in range(POLLS_MAX):
        message = consumer.poll(POLL_S)
        if message is not None:
            assert message.error() is None, message.error()
            return message
    raise AssertionError("no message")


def test_confluent_kafka_validates_seek_with_leader_epoch(broker: DataBroker) -> None:
    produce(broker)
    # librdkafka logs the requests it sends at debug level "protocol"; that is where the
    # validation shows, since a successful one changes nothing else the test could observe.
    captured = io.StringIO()
    logger = logging.getLogger(f"{__name__}.rdkafka")
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(captured)
    logger.addHandler(handler)
    consumer = ck.Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": "epoch-clients",
            "enable.auto.commit": False,
            "debug": "protocol,fetch",
            "logger": logger,
        }
    )
    try:
        consumer.assign([ck.TopicPartition(TOPIC, 0, 0)])
        first = next_message(consumer)
        assert (first.offset(), first.leader_epoch()) == (0, 0)
        consumer.seek(ck.TopicPartition(TOPIC, 0, SEEK_TO, leader_epoch=0))
        after = next_message(consumer)
        assert (after.offset(), after.value()) == (SEEK_TO, b"v%d" % SEEK_TO)
    finally:
        consumer.close()
        logger.removeHandler(handler)
    log = captured.getvalue()
    assert "Received OffsetForLeaderEpochResponse" in log, log[-4000:]
    # The broker's answer for epoch 0 is the log end: the position was not truncated away.
    assert f"validation succeeded: broker end offset {RECORDS}" in log, log[-4000:]


def test_transactions_tool_describe_producers(broker: DataBroker, tmp_path: Path) -> None:
    produce(broker, **{"enable.idempotence": True})
    [producer_id] = broker.partition(TOPIC, 0).producers.producers
    result = run_kafka_tool(
        "org.apache.kafka.tools.TransactionsCommand",
        [
            "--bootstrap-server",
            broker.bootstrap_servers,
            "describe-producers",
            "--topic",
            TOPIC,
            "--partition",
            "0",
        ],
        work_dir=tmp_path,
    )
    # A tab-separated table: a header, then one row per active producer.
    header, *rows = [line.split() for line in result.stdout.splitlines() if line.strip()]
    assert header[:4] == ["ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence"]
    assert len(rows) == 1, result.stdout
    assert rows[0][:4] == [str(producer_id), "0", "-1", str(RECORDS - 1)]
    assert rows[0][5] == "None"  # no open transaction
