"""`ferrokafka topics`, `produce` and `consume` as a user runs them, against an in-process
ferrokafka broker and against a real Apache Kafka broker: working against Kafka is what shows
the client speaks the protocol and not just ferrokafka's reading of it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS_DIR = REPO / "tests"

from data_broker import data_broker  # noqa: E402

import kafka_support as ks  # noqa: E402

# The CLI as the console script runs it, importable from the repo root or an installed wheel.
COMMAND = [sys.executable, "-m", "ferrokafka_cli.main"]
RUN_TIMEOUT_S = 60.0
# How long to wait for a deleted topic to leave the listing (Kafka deletes asynchronously).
DELETE_WAIT_S = 30.0
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def cli(bootstrap: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    command, *rest = args
    sub = [command] if command != "topics" else [command, rest.pop(0)]
    return subprocess.run(
        [*COMMAND, *sub, *rest, "--bootstrap-server", bootstrap],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=os.environ.copy(),
        check=False,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def ferrokafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with data_broker(tmp_path_factory.mktemp("ferrokafka")) as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ks.require_kafka()
    broker = ks.KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


KAFKA_MARKS = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(params=["ferrokafka", pytest.param("kafka", marks=KAFKA_MARKS)])
def bootstrap(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_bootstrap"))


def topic_names(bootstrap: str) -> list[str]:
    return ok(cli(bootstrap, "topics", "list")).split()


def test_topic_lifecycle(bootstrap: str) -> None:
    out = ok(
        cli(
            bootstrap,
            "topics",
            "create",
            "life",
            "--partitions",
            "2",
            "--replication-factor",
            "1",
            "--config",
            "cleanup.policy=compact",
        )
    )
    assert out.strip() == "Created topic life."
    assert "life" in topic_names(bootstrap)

    lines = ok(cli(bootstrap, "topics", "describe", "life")).splitlines()
    assert lines[0].startswith("Topic: life\tTopicId: ")
    assert "\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: cleanup.policy=compact" in lines[0]
    assert len(lines) == 3
    for i, line in enumerate(lines[1:]):
        assert line.startswith(f"\tTopic: life\tPartition: {i}\tLeader: ")
        leader = line.split("Leader: ")[1].split("\t")[0]
        assert line.endswith(f"\tReplicas: {leader}\tIsr: {leader}")

    ok(cli(bootstrap, "topics", "alter", "life", "--partitions", "3"))
    ok(
        cli(
            bootstrap,
            "topics",
            "alter",
            "life",
            "--config",
            "retention.ms=86400000",
            "--delete-config",
            "cleanup.policy",
        )
    )
    lines = ok(cli(bootstrap, "topics", "describe", "life")).splitlines()
    assert "\tPartitionCount: 3\t" in lines[0]
    assert lines[0].endswith("Configs: retention.ms=86400000")
    assert len(lines) == 4

    # describe without a name covers every topic
    assert "Topic: life\t" in ok(cli(bootstrap, "topics", "describe"))

    # The health filters (kafka-topics'): one replica in its ISR = min.insync.replicas 1, so
    # every partition is at min ISR, none under-replicated, under min ISR or unavailable.
    at_min = ok(cli(bootstrap, "topics", "describe", "life", "--at-min-isr-partitions"))
    assert at_min.splitlines() == lines[1:]  # partition lines only, no topic line
    for flag in ("--under-replicated-partitions", "--under-min-isr-partitions"):
        assert ok(cli(bootstrap, "topics", "describe", "life", flag)) == ""
    assert ok(cli(bootstrap, "topics", "describe", "--unavailable-partitions")) == ""

    assert ok(cli(bootstrap, "topics", "delete", "life")).strip() == "Deleted topic life."
    deadline = time.monotonic() + DELETE_WAIT_S
    while "life" in topic_names(bootstrap):
        assert time.monotonic() < deadline, "deleted topic still listed"
        time.sleep(0.2)


def test_broker_errors_are_one_line_with_kafkas_name(bootstrap: str) -> None:
    ok(cli(bootstrap, "topics", "create", "dup", "--partitions", "1"))
    proc = cli(bootstrap, "topics", "create", "dup", "--partitions", "1")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: TOPIC_ALREADY_EXISTS: Topic 'dup' already exists."

    proc = cli(bootstrap, "topics", "create", "wide", "--replication-factor", "3")
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("Error: INVALID_REPLICATION_FACTOR: ")

    proc = cli(bootstrap, "topics", "describe", "missing")
    assert proc.returncode == 1
    assert "UNKNOWN_TOPIC_OR_PARTITION" in proc.stderr


def test_usage_errors_exit_2() -> None:
    # No broker needed: usage is checked before connecting.
    proc = cli("127.0.0.1:9", "topics", "alter", "t")
    assert proc.returncode == 2 and "give --partitions" in proc.stderr
    proc = cli("127.0.0.1:9", "topics", "create", "t", "--config", "novalue")
    assert proc.returncode == 2 and "KEY=VALUE" in proc.stderr
    proc = cli("127.0.0.1:9", "produce", "t", "--compression", "brotli")
    assert proc.returncode == 2
    proc = cli("127.0.0.1:9", "consume", "t", "--from-beginning", "--offset", "3")
    assert proc.returncode == 2


def test_connection_failure_is_clear() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        proc = cli(f"127.0.0.1:{port}", "topics", "list")
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"Error: could not connect to 127.0.0.1:{port}")


@pytest.mark.parametrize("codec", CODECS)
def test_produce_then_consume_keys_and_headers(bootstrap: str, codec: str) -> None:
    topic = f"lines-{codec}"
    ok(cli(bootstrap, "topics", "create", topic, "--partitions", "1"))
    lines = [f"key-{i}:value {i} with: colon" for i in range(20)]
    ok(
        cli(
            bootstrap,
            "produce",
            topic,
            "--key-separator",
            ":",
            "--header",
            "trace=abc",
            "--header",
            "codec=" + codec,
            "--compression",
            codec,
            stdin="\n".join(lines) + "\n",
        )
    )
    args = ["--from-beginning", "--max-messages", "20", "--timeout-ms", "20000"]
    out = ok(cli(bootstrap, "consume", topic, *args, "--print-key", "--print-headers"))
    expected = [f"trace:abc,codec:{codec}\tkey-{i}\tvalue {i} with: colon" for i in range(20)]
    assert out.splitlines() == expected

    # plain values, from an offset, and acks=0 / acks=1 produce
    ok(cli(bootstrap, "produce", topic, "--acks", "1", stdin="plain\n"))
    ok(cli(bootstrap, "produce", topic, "--acks", "0", stdin="fire and forget\n"))
    args = ["--partition", "0", "--offset", "20", "--max-messages", "2", "--timeout-ms", "20000"]
    out = ok(cli(bootstrap, "consume", topic, *args, "--print-key", "--print-headers"))
    assert out.splitlines() == ["NO_HEADERS\tnull\tplain", "NO_HEADERS\tnull\tfire and forget"]


def test_keyed_records_spread_like_kafkas_partitioner(bootstrap: str) -> None:
    ok(cli(bootstrap, "topics", "create", "keyed", "--partitions", "3"))
    stdin = "".join(f"k{i}\tv{i}\n" for i in range(30))
    ok(cli(bootstrap, "produce", "keyed", "--key-separator", "\t", stdin=stdin))
    out = ok(
        cli(
            bootstrap,
            "consume",
            "keyed",
            "--from-beginning",
            "--max-messages",
            "30",
            "--timeout-ms",
            "20000",
            "--print-key",
        )
    )
    assert sorted(out.splitlines()) == sorted(f"k{i}\tv{i}" for i in range(30))
    # murmur2 as Kafka's: "k0" lands in the partition Kafka's clients would pick
    from ferrokafka_cli.console import partition_for_key

    for p in range(3):
        args = ["--partition", str(p), "--from-beginning", "--timeout-ms", "1500", "--print-key"]
        got = ok(cli(bootstrap, "consume", "keyed", *args)).splitlines()
        assert {line.split("\t")[0] for line in got} == {
            f"k{i}" for i in range(30) if partition_for_key(f"k{i}".encode(), 3) == p
        }


def test_missing_topic_for_produce_is_auto_created(ferrokafka_bootstrap: str) -> None:
    """As kafka-console-producer: the broker (auto.create.topics.enable on by default) creates
    it; with auto-creation off the tool fails at once (tests/cli/test_console_clients.py)."""
    ok(cli(ferrokafka_bootstrap, "produce", "nowhere", "--timeout", "5", stdin="x\n"))
    assert "nowhere" in topic_names(ferrokafka_bootstrap)


@pytest.mark.kafka
@pytest.mark.slow
def test_consume_records_a_real_client_wrote_to_kafka(kafka_bootstrap: str) -> None:
    from kafka import KafkaProducer

    ok(cli(kafka_bootstrap, "topics", "create", "from-client", "--partitions", "1"))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, compression_type="gzip")
    try:
        for i in range(10):
            producer.send(
                "from-client",
                value=f"payload-{i}".encode(),
                key=f"id-{i}".encode(),
                headers=[("src", b"kafka-python"), ("n", str(i).encode())],
            )
        producer.flush(timeout=RUN_TIMEOUT_S)
    finally:
        producer.close(timeout=RUN_TIMEOUT_S)
    args = ["--from-beginning", "--max-messages", "10", "--timeout-ms", "20000"]
    out = ok(
        cli(kafka_bootstrap, "consume", "from-client", *args, "--print-key", "--print-headers")
    )
    assert out.splitlines() == [f"src:kafka-python,n:{i}\tid-{i}\tpayload-{i}" for i in range(10)]
