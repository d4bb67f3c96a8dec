"""Transactions with real clients we did not write: confluent-kafka (librdkafka), kafka-python
and the Java producer commit and abort transactions interleaved on many partitions;
read_committed consumers (librdkafka, kafka-python, Java's console consumer) see exactly the
committed records in order, read_uncommitted ones see every record; a second producer with the
same transactional id fences the first; a consume-transform-produce loop commits its input
offsets with its output, atomically."""

from __future__ import annotations

import re
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from txn_copier import read_committed

from ferrokafka.testing import RunningBroker

PARTITIONS = 6
TRANSACTIONS = 12
RECORDS_PER_TXN = 30
ABORT_EVERY = 3  # transaction i aborts when i % 3 == 2
CLIENT_TIMEOUT_S = 60.0
# Bounds on the consume-transform-produce loop.
READ_DEADLINE_S = 60.0
POLL_S = 0.5


def create_topic(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, partitions, 1)])
    futures[topic].result(timeout=CLIENT_TIMEOUT_S)


def expected_values(transactions: int = TRANSACTIONS) -> tuple[list[str], list[str]]:
    """(committed values, aborted values) the producers of these tests write, each as
    "<transaction>-<record>"."""
    committed, aborted = [], []
    for i in range(transactions):
        values = [f"{i}-{j}" for j in range(RECORDS_PER_TXN)]
        (aborted if i % ABORT_EVERY == ABORT_EVERY - 1 else committed).extend(values)
    return committed, aborted


def read_all(
    bootstrap: str, topic: str, isolation: str, partitions: int = PARTITIONS
) -> dict[int, list[str]]:
    """Every record of ``topic`` a fresh librdkafka consumer at ``isolation`` reads, by
    partition, in order."""
    out: dict[int, list[str]] = defaultdict(list)
    for message in read_committed(bootstrap, topic, partitions, isolation):
        out[message.partition()].append(message.value().decode())
    return dict(out)


def check_reads(bootstrap: str, topic: str, transactions: int = TRANSACTIONS) -> None:
    committed, aborted = expected_values(transactions)
    seen = read_all(bootstrap, topic, "read_committed")
    flat = [v for values in seen.values() for v in values]
    assert sorted(flat) == sorted(committed), "read_committed must see exactly the committed"
    for values in seen.values():  # in order within each partition
        assert values == sorted(values, key=lambda v: tuple(map(int, v.split("-")))), values
    everything = read_all(bootstrap, topic, "read_uncommitted")
    assert sorted(v for vs in everything.values() for v in vs) == sorted(committed + aborted)


def confluent_transactions(bootstrap: str, topic: str, txn_id: str) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id})
    producer.init_transactions(CLIENT_TIMEOUT_S)
    for i in range(TRANSACTIONS):
        producer.begin_transaction()
        for j in range(RECORDS_PER_TXN):
            producer.produce(topic, key=f"k{j}".encode(), value=f"{i}-{j}".encode())
        if i % ABORT_EVERY == ABORT_EVERY - 1:
            # Sent first: librdkafka's abort purges what it has not sent yet, and the point is
            # aborted records in the log that read_committed must skip.
            assert producer.flush(CLIENT_TIMEOUT_S) == 0
            producer.abort_transaction(CLIENT_TIMEOUT_S)
        else:
            producer.commit_transaction(CLIENT_TIMEOUT_S)


def test_confluent_commit_and_abort_seen_by_read_committed(txn_broker: RunningBroker) -> None:
    bootstrap = txn_broker.bootstrap_servers
    create_topic(bootstrap, "ck-txn")
    confluent_transactions(bootstrap, "ck-txn", "ck-producer")
    check_reads(bootstrap, "ck-txn")


def test_kafka_python_transactions_and_read_committed(txn_broker: RunningBroker) -> None:
    import kafka

    bootstrap = txn_broker.bootstrap_servers
    create_topic(bootstrap, "kp-txn")
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, transactional_id="kp-producer")
    try:
        producer.init_transactions()
        for i in range(TRANSACTIONS):
            producer.begin_transaction()
            for j in range(RECORDS_PER_TXN):
                producer.send("kp-txn", key=f"k{j}".encode(), value=f"{i}-{j}".encode())
            if i % ABORT_EVERY == ABORT_EVERY - 1:
                producer.flush()
                producer.abort_transaction()
            else:
                producer.commit_transaction()
    finally:
        producer.close(timeout=CLIENT_TIMEOUT_S)
    committed, _ = expected_values()
    consumer = kafka.KafkaConsumer(
        "kp-txn",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    try:
        seen = [m.value.decode() for m in consumer]
    finally:
        consumer.close()
    assert sorted(seen) == sorted(committed)
    check_reads(bootstrap, "kp-txn")


@pytest.mark.kafka
def test_java_producer_and_java_read_committed_consumer(
    txn_broker: RunningBroker, tmp_path: Path
) -> None:
    from kafka_support import run_kafka_tool
    from kafka_support.jars import streams_classpath
    from kafka_support.java_apps import app_command

    bootstrap = txn_broker.bootstrap_servers
    create_topic(bootstrap, "java-txn")
    result = subprocess.run(
        app_command(
            "TxnProducer",
            streams_classpath(),
            bootstrap,
            "java-producer",
            "java-txn",
            str(TRANSACTIONS),
            str(RECORDS_PER_TXN),
            str(ABORT_EVERY),
        ),
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0 and "DONE" in result.stdout, result.stdout + result.stderr
    committed, _ = expected_values()
    out = run_kafka_tool(
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            "java-txn",
            "--from-beginning",
            "--isolation-level",
            "read_committed",
            "--max-messages",
            str(len(committed)),
            "--timeout-ms",
            "20000",
        ],
        work_dir=tmp_path,
    )
    values = [line for line in out.stdout.splitlines() if re.fullmatch(r"\d+-\d+", line)]
    assert sorted(values) == sorted(committed)
    check_reads(bootstrap, "java-txn")


def test_second_producer_with_the_same_id_fences_the_first(txn_broker: RunningBroker) -> None:
    bootstrap = txn_broker.bootstrap_servers
    create_topic(bootstrap, "fence", 1)
    config = {"bootstrap.servers": bootstrap, "transactional.id": "zombie"}
    first = ck.Producer(config)
    first.init_transactions(CLIENT_TIMEOUT_S)
    first.begin_transaction()
    first.produce("fence", value=b"from-the-zombie")
    first.flush(CLIENT_TIMEOUT_S)
    second = ck.Producer(config)
    # Fences the first and aborts its open transaction.
    second.init_transactions(CLIENT_TIMEOUT_S)
    with pytest.raises(ck.KafkaException) as raised:
        first.commit_transaction(CLIENT_TIMEOUT_S)
    error = raised.value.args[0]
    assert error.fatal() or error.code() in (
        ck.KafkaError.PRODUCER_FENCED,
        ck.KafkaError.INVALID_PRODUCER_EPOCH,
    ), error
    second.begin_transaction()
    second.produce("fence", value=b"from-the-new-one")
    second.commit_transaction(CLIENT_TIMEOUT_S)
    seen = read_all(bootstrap, "fence", "read_committed", 1)
    assert [v for vs in seen.values() for v in vs] == ["from-the-new-one"]


def test_consume_transform_produce_commits_offsets_with_the_output(
    txn_broker: RunningBroker,
) -> None:
    """send_offsets_to_transaction: the group's offsets move only with committed output."""
    bootstrap = txn_broker.bootstrap_servers
    create_topic(bootstrap, "ctp-in", 1)
    create_topic(bootstrap, "ctp-out", 1)
    plain = ck.Producer({"bootstrap.servers": bootstrap})
    for n in range(20):
        plain.produce("ctp-in", value=str(n).encode())
    plain.flush(CLIENT_TIMEOUT_S)
    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "ctp",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": "ctp-app"})
    producer.init_transactions(CLIENT_TIMEOUT_S)
    consumer.subscribe(["ctp-in"])
    try:
        batches: list[list[ck.Message]] = []
        deadline = time.monotonic() + READ_DEADLINE_S
        got = 0
        while got < 20 and time.monotonic() < deadline:
            messages = consumer.consume(10, POLL_S)
            messages = [m for m in messages if m.error() is None]
            if messages:
                batches.append(messages)
                got += len(messages)
        assert got == 20
        for k, messages in enumerate(batches):
            producer.begin_transaction()
            for m in messages:
                producer.produce("ctp-out", value=b"out-" + m.value())
            last = messages[-1]
            producer.send_offsets_to_transaction(
                [ck.TopicPartition("ctp-in", 0, last.offset() + 1)],
                consumer.consumer_group_metadata(),
                CLIENT_TIMEOUT_S,
            )
            if k == len(batches) - 1:
                producer.abort_transaction(CLIENT_TIMEOUT_S)  # the last batch: aborted
                aborted_from = messages[0].offset()
            else:
                producer.commit_transaction(CLIENT_TIMEOUT_S)
        committed = consumer.committed([ck.TopicPartition("ctp-in", 0)], CLIENT_TIMEOUT_S)
        assert committed[0].offset == aborted_from
    finally:
        consumer.close()
    out = read_all(bootstrap, "ctp-out", "read_committed", 1)
    values = [v for vs in out.values() for v in vs]
    assert values == [f"out-{n}" for n in range(aborted_from)]
