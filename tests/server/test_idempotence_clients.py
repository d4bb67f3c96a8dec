"""Idempotent producers we did not write: kafka-python, confluent-kafka (librdkafka) and
aiokafka with idempotence on, Apache Kafka's console producer with its defaults (idempotence
on) and Kafka's ProducerPerformance for 200k records with acks=all and idempotence on. Each
gets a producer id through InitProducerId, produces with sequences, and every record is in
the log exactly once.
"""

from __future__ import annotations

import asyncio
import re
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
from test_data_clients import CLIENT_TIMEOUT_MS, CLIENT_TIMEOUT_S, CODECS, PER_CODEC, record

from ferrokafka._ferrokafka import Log
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
    from kafka import KafkaProducer

TOPIC = "idem-clients"
PERF_RECORDS = 200_000
PERF_RECORD_SIZE = 100
# ProducerPerformance's summary: "200000 records sent, 51234.5 records/sec (4.89 MB/sec), ..."
PERF_SUMMARY = re.compile(rf"^{PERF_RECORDS} records sent, .*records/sec.*$", re.MULTILINE)
READ_BYTES_MAX = 64 << 20

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Use files:DeprecationWarning")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC)
        yield b


def stored(broker: DataBroker) -> list[tuple[Any, ...]]:
    """(offset, producer id, key, value, headers) of every record in the partition."""
    log: Log = broker.partition(TOPIC, 0).log
    out = []
    position = 0
    while position < log.log_end_offset:
        batches = log.read_batches(position, READ_BYTES_MAX)
        for batch in batches:
            out += [
                (r.offset, batch.producer_id, r.key, r.value, r.headers) for r in batch.records()
            ]
        position = batches[-1].next_offset
    return out


def check_exactly_once(broker: DataBroker) -> None:
    got = stored(broker)
    want = [record(codec, i) for codec in CODECS for i in range(PER_CODEC)]
    assert [(k, v, h) for _, _, k, v, h in got] == want
    assert [o for o, *_ in got] == list(range(len(want)))
    assert all(pid >= 0 for _, pid, *_ in got), "every batch carries a producer id"


def test_kafka_python_idempotent(broker: DataBroker) -> None:
    for codec in CODECS:
        producer = KafkaProducer(
            bootstrap_servers=broker.bootstrap_servers,
            acks="all",
            compression_type=None if codec == "none" else codec,
            enable_idempotence=True,
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
    check_exactly_once(broker)


def test_confluent_kafka_idempotent(broker: DataBroker) -> None:
    errors: list[Any] = []

    def delivered(err: Any, message: Any) -> None:
        if err is not None:
            errors.append(err)

    for codec in CODECS:
        producer = ck.Producer(
            {
                "bootstrap.servers": broker.bootstrap_servers,
                "compression.type": codec,
                "enable.idempotence": True,
                "linger.ms": 5,
            }
        )
        for key, value, headers in (record(codec, i) for i in range(PER_CODEC)):
            producer.produce(TOPIC, key=key, value=value, headers=headers, on_delivery=delivered)
        assert producer.flush(CLIENT_TIMEOUT_S) == 0
    assert errors == []
    check_exactly_once(broker)


def test_aiokafka_idempotent(broker: DataBroker) -> None:
    async def produce() -> None:
        for codec in CODECS:
            producer = aiokafka.AIOKafkaProducer(
                bootstrap_servers=broker.bootstrap_servers,
                compression_type=None if codec == "none" else codec,
                enable_idempotence=True,
            )
            await producer.start()
            try:
                async with asyncio.timeout(CLIENT_TIMEOUT_S):
                    for key, value, headers in (record(codec, i) for i in range(PER_CODEC)):
                        await producer.send_and_wait(TOPIC, key=key, value=value, headers=headers)
            finally:
                await producer.stop()

    asyncio.run(produce())
    check_exactly_once(broker)


def test_java_console_producer_default_idempotence(broker: DataBroker, tmp_path: Path) -> None:
    log4j = tmp_path / "log4j2.properties"
    write_log4j2_config(log4j, log_file=None, level="error")
    command = [
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
        "--command-property",
        "compression.type=zstd",
    ]
    lines = "".join(f"v{i}\n" for i in range(100))
    produced = subprocess.run(
        command, input=lines, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S
    )
    assert produced.returncode == 0, produced.stderr
    got = stored(broker)
    assert [(o, v) for o, _, _, v, _ in got] == [(i, f"v{i}".encode()) for i in range(100)]
    assert {pid for _, pid, *_ in got} != {-1}, "the Java producer used idempotence"


def test_java_producer_performance(broker: DataBroker, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_kafka_tool(
        "org.apache.kafka.tools.ProducerPerformance",
        [
            "--topic",
            TOPIC,
            "--num-records",
            str(PERF_RECORDS),
            "--record-size",
            str(PERF_RECORD_SIZE),
            "--throughput",
            "-1",
            "--producer-props",
            f"bootstrap.servers={broker.bootstrap_servers}",
            "acks=all",
            "enable.idempotence=true",
        ],
        work_dir=tmp_path,
    )
    summary = PERF_SUMMARY.search(result.stdout)
    assert summary is not None, result.stdout
    print(f"\nProducerPerformance against ferrokafka ({time.monotonic() - started:.1f}s):")
    print(summary.group(0))
    log: Log = broker.partition(TOPIC, 0).log
    assert log.log_end_offset == PERF_RECORDS
    assert log.read_batches(0, READ_BYTES_MAX)[0].producer_id >= 0, "idempotence was on"


# Kafka's DumpLogSegments on a producer snapshot prints one line per producer.
SNAPSHOT_LINE = re.compile(
    r"^producerId: (\d+) producerEpoch: (\d+) .* lastSequence: (\d+) lastOffset: (\d+) ",
    re.MULTILINE,
)


def test_kafka_reads_our_producer_snapshot(tmp_path: Path) -> None:
    """A clean shutdown leaves a snapshot that Kafka's own reader accepts (CRC included)."""
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC)
        producer = ck.Producer(
            {"bootstrap.servers": b.bootstrap_servers, "enable.idempotence": True}
        )
        for i in range(10):
            producer.produce(TOPIC, value=b"v%d" % i)
        assert producer.flush(CLIENT_TIMEOUT_S) == 0
        log_dir = Path(b.partition(TOPIC, 0).log.dir)
    snapshot = log_dir / "00000000000000000010.snapshot"
    assert snapshot.is_file(), sorted(p.name for p in log_dir.iterdir())
    dumped = run_kafka_tool(
        "org.apache.kafka.tools.DumpLogSegments", ["--files", str(snapshot)], work_dir=tmp_path
    )
    lines = SNAPSHOT_LINE.findall(dumped.stdout)
    assert len(lines) == 1, dumped.stdout
    producer_id, epoch, last_sequence, last_offset = map(int, lines[0])
    assert (epoch, last_sequence, last_offset) == (0, 9, 9) and producer_id >= 0
