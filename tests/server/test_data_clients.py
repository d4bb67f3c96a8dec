"""Produce and fetch with real clients we did not write: kafka-python, confluent-kafka
(librdkafka), kcat and Apache Kafka's console producer and consumer. Every codec, keys,
headers and null values go in; everything comes back in order at contiguous offsets.

Topics are created through the node (the admin APIs are tested elsewhere); the clients find
the partition leader through Metadata. Idempotence is off here (plain acks paths); idempotent
producers are tested in test_idempotence_clients.py.
No consumer group is used: consumers assign partitions themselves and commit nothing.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiokafka
import confluent_kafka as ck
import pytest
from data_broker import DataBroker, data_broker

from kafka_support.jars import (
    TOOL_JVM_OPTIONS,
    TOOL_TIMEOUT_S,
    UTF8_STDOUT_OPTIONS,
    java_executable,
    kafka_classpath,
    run_kafka_tool,
    write_log4j2_config,
)

with warnings.catch_warnings():  # kafka-python's own importlib deprecation warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

TOPIC = "clients"
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
PER_CODEC = 10
CLIENT_TIMEOUT_S = 20.0
CLIENT_TIMEOUT_MS = int(CLIENT_TIMEOUT_S * 1000)
KCAT_TIMEOUT_S = 60.0

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Use files:DeprecationWarning")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC)
        yield b


def record(codec: str, i: int) -> tuple[bytes, bytes | None, list[tuple[str, Any]]]:
    """Key, value (every third is null) and headers of record ``i`` of ``codec``."""
    value = None if i % 3 == 0 else f"{codec}-{i}".encode()
    return f"k{i}".encode(), value, [("codec", codec.encode()), ("i", str(i).encode())]


def expected() -> list[tuple[bytes, bytes | None, list[tuple[str, Any]]]]:
    return [record(codec, i) for codec in CODECS for i in range(PER_CODEC)]


# -- kafka-python ------------------------------------------------------------------------------


@pytest.mark.parametrize("acks", [0, 1, "all"])
def test_kafka_python(broker: DataBroker, acks: int | str) -> None:
    for codec in CODECS:
        producer = KafkaProducer(
            bootstrap_servers=broker.bootstrap_servers,
            acks=acks,
            compression_type=None if codec == "none" else codec,
            enable_idempotence=False,
            max_block_ms=CLIENT_TIMEOUT_MS,
            request_timeout_ms=CLIENT_TIMEOUT_MS,
        )
        try:
            futures = [
                producer.send(TOPIC, key=k, value=v, headers=h)
                for k, v, h in (record(codec, i) for i in range(PER_CODEC))
            ]
            producer.flush(CLIENT_TIMEOUT_S)
            for future in futures:
                future.get(CLIENT_TIMEOUT_S)
        finally:
            producer.close(CLIENT_TIMEOUT_S)
    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=3_000,
        request_timeout_ms=CLIENT_TIMEOUT_MS,
    )
    tp = TopicPartition(TOPIC, 0)
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got: list[Any] = []
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while len(got) < len(expected()) and time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=500).values():
                got.extend(messages)
        assert [(m.key, m.value, list(m.headers)) for m in got] == expected()
        assert [m.offset for m in got] == list(range(len(got)))
        assert consumer.end_offsets([tp]) == {tp: len(got)}
        assert consumer.beginning_offsets([tp]) == {tp: 0}
        middle = got[len(got) // 2]
        found = consumer.offsets_for_times({tp: middle.timestamp})[tp]
        assert found is not None and found.offset <= middle.offset
        assert consumer.offsets_for_times({tp: got[-1].timestamp + 60_000})[tp] is None
    finally:
        consumer.close()


# -- confluent-kafka (librdkafka) -------------------------------------------------------------


def test_confluent_kafka(broker: DataBroker) -> None:
    errors: list[Any] = []
    offsets: list[int] = []

    def delivered(err: Any, message: Any) -> None:
        if err is not None:
            errors.append(err)
        else:
            offsets.append(message.offset())

    for codec in CODECS:
        producer = ck.Producer(
            {
                "bootstrap.servers": broker.bootstrap_servers,
                "compression.type": codec,
                "acks": "all",
                "enable.idempotence": False,
                "linger.ms": 5,
            }
        )
        for key, value, headers in (record(codec, i) for i in range(PER_CODEC)):
            producer.produce(TOPIC, key=key, value=value, headers=headers, on_delivery=delivered)
        assert producer.flush(CLIENT_TIMEOUT_S) == 0
    assert errors == []
    assert offsets == list(range(len(expected())))

    consumer = ck.Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            # assign() needs no coordinator; the id is only there because librdkafka wants one
            "group.id": "unused",
            "enable.auto.commit": False,
        }
    )
    tp = ck.TopicPartition(TOPIC, 0, ck.OFFSET_BEGINNING)
    try:
        consumer.assign([tp])
        got: list[Any] = []
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while len(got) < len(expected()) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                assert message.error() is None, message.error()
                got.append(message)
        assert [(m.key(), m.value(), m.headers()) for m in got] == expected()
        assert [m.offset() for m in got] == list(range(len(got)))
        low_high = consumer.get_watermark_offsets(
            ck.TopicPartition(TOPIC, 0), timeout=CLIENT_TIMEOUT_S
        )
        assert low_high == (0, len(got))
        first_ts = got[0].timestamp()[1]
        (found,) = consumer.offsets_for_times(
            [ck.TopicPartition(TOPIC, 0, first_ts)], timeout=CLIENT_TIMEOUT_S
        )
        assert (found.error, found.offset) == (None, 0)
    finally:
        consumer.close()


# -- aiokafka ----------------------------------------------------------------------------------


def test_aiokafka(broker: DataBroker) -> None:
    async def produce_and_consume() -> list[Any]:
        for codec in CODECS:
            producer = aiokafka.AIOKafkaProducer(
                bootstrap_servers=broker.bootstrap_servers,
                compression_type=None if codec == "none" else codec,
                acks="all",
                enable_idempotence=False,
            )
            await producer.start()
            try:
                for key, value, headers in (record(codec, i) for i in range(PER_CODEC)):
                    await producer.send_and_wait(TOPIC, key=key, value=value, headers=headers)
            finally:
                await producer.stop()
        consumer = aiokafka.AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        tp = aiokafka.TopicPartition(TOPIC, 0)
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            got: list[Any] = []
            async with asyncio.timeout(CLIENT_TIMEOUT_S):
                while len(got) < len(expected()):
                    for messages in (await consumer.getmany(timeout_ms=500)).values():
                        got.extend(messages)
            assert await consumer.end_offsets([tp]) == {tp: len(got)}
            found = await consumer.offsets_for_times({tp: got[0].timestamp})
            assert found[tp].offset == 0
            return got
        finally:
            await consumer.stop()

    got = asyncio.run(produce_and_consume())
    assert [(m.key, m.value, list(m.headers)) for m in got] == expected()
    assert [m.offset for m in got] == list(range(len(got)))


# -- kcat ---------------------------------------------------------------------------------------


def test_kcat(broker: DataBroker) -> None:
    kcat = shutil.which("kcat")
    assert kcat is not None, "kcat is not installed (tests/run.sh installs it)"
    lines = "".join(f"key{i}\tvalue{i}\n" for i in range(20))
    subprocess.run(
        [kcat, "-b", broker.bootstrap_servers, "-P", "-t", TOPIC, "-p", "0", "-K", "\t"]
        + ["-z", "zstd"],
        input=lines,
        text=True,
        check=True,
        timeout=KCAT_TIMEOUT_S,
    )
    out = subprocess.run(
        [kcat, "-b", broker.bootstrap_servers, "-C", "-t", TOPIC, "-p", "0", "-o", "beginning"]
        + ["-e", "-f", "%o %k %s\n"],
        capture_output=True,
        text=True,
        check=True,
        timeout=KCAT_TIMEOUT_S,
    )
    assert out.stdout.splitlines() == [f"{i} key{i} value{i}" for i in range(20)]
    listing = subprocess.run(
        [kcat, "-b", broker.bootstrap_servers, "-L", "-t", TOPIC],
        capture_output=True,
        text=True,
        check=True,
        timeout=KCAT_TIMEOUT_S,
    )
    assert f'topic "{TOPIC}" with 1 partitions' in listing.stdout


# -- Apache Kafka's console producer and consumer ------------------------------------------


def test_java_console_producer_and_consumer(broker: DataBroker, tmp_path: Path) -> None:
    log4j = tmp_path / "log4j2.properties"
    write_log4j2_config(log4j, log_file=None, level="error")
    producer = [
        java_executable(),
        *TOOL_JVM_OPTIONS,
        *UTF8_STDOUT_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        kafka_classpath(),
        "org.apache.kafka.tools.ConsoleProducer",
        "--bootstrap-server",
        broker.bootstrap_servers,
        "--topic",
        TOPIC,
        "--reader-property",
        "parse.key=true",
        "--reader-property",
        "key.separator=:",
        "--command-property",
        "enable.idempotence=false",
        "--command-property",
        "compression.type=lz4",
    ]
    lines = "".join(f"k{i}:v{i}\n" for i in range(50))
    produced = subprocess.run(
        producer, input=lines, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S
    )
    assert produced.returncode == 0, produced.stderr
    consumed = run_kafka_tool(
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        [
            "--bootstrap-server",
            broker.bootstrap_servers,
            "--topic",
            TOPIC,
            "--partition",
            "0",
            "--offset",
            "earliest",
            "--max-messages",
            "50",
            "--timeout-ms",
            str(CLIENT_TIMEOUT_MS),
            "--formatter-property",
            "print.key=true",
            "--formatter-property",
            "print.offset=true",
        ],
        work_dir=tmp_path,
    )
    lines_out = [line for line in consumed.stdout.splitlines() if line]
    assert lines_out == [f"Offset:{i}\tk{i}\tv{i}" for i in range(50)]
