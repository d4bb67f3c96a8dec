"""The share-group offset admin APIs (DescribeShareGroupOffsets, AlterShareGroupOffsets,
DeleteShareGroupOffsets) through Kafka 4.4's own ``kafka-share-groups`` (ShareGroupCommand):
``--describe`` (the offsets view: start offset and lag), ``--reset-offsets --to-earliest |
--to-latest | --to-offset --execute``, ``--delete-offsets``, the errors it reports (unknown
topic, a group with members, nothing to delete, an unknown group), and a Java
``KafkaShareConsumer`` (tests/kafka/apps/ShareConsume.java) starting from a reset offset.

The tool's output is parsed into rows and compared with expected rows, which are the same for
ferrokafka and Apache Kafka 4.4: ``FERROKAFKA_SHARE_KAFKA=1`` runs the module against both.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka as ck
import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient, NewTopic
from tests.share.test_share_java import KAFKA_MARKS, Target, side_by_side_broker

import kafka_support as ks
from ferrokafka_cli.main import cli

SHARE_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"
APP_TIMEOUT_S = 120.0
WAIT_S = 30.0


@pytest.fixture(scope="module", params=["ferrokafka", pytest.param("kafka", marks=KAFKA_MARKS)])
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    yield from side_by_side_broker(
        request.param, tmp_path_factory.mktemp(f"share-offsets-{request.param}")
    )


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("share-offsets-tools")


def make_topic(broker: Target, topic: str, partitions: int, per_partition: int) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=30)
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap_servers})
    for p in range(partitions):
        for i in range(per_partition):
            producer.produce(topic, value=f"{p}-{i}".encode(), partition=p)
    assert producer.flush(30) == 0


def share_groups(broker: Target, work_dir: Path, *args: str) -> tuple[list[list[str]], str]:
    """The tool's table rows (header dropped) and its whole output (stdout, then stderr: the
    tool reports a failed command there and exits 1, which is an outcome here, not an error
    of the test)."""
    try:
        result = ks.run_kafka_tool(
            SHARE_GROUP_COMMAND,
            ["--bootstrap-server", broker.bootstrap_servers, *args],
            work_dir=work_dir,
        )
        out = result.stdout + result.stderr
    except ks.KafkaToolError as e:
        out = str(e)
    rows = [line.split() for line in out.splitlines() if line.strip()]
    header = next((i for i, r in enumerate(rows) if r and r[0] in ("GROUP", "TOPIC")), None)
    table = rows[header + 1 :] if header is not None else []
    return [r for r in table if len(r) >= 2 and not r[0].startswith("Error")], out


def describe(broker: Target, work_dir: Path, group: str) -> dict[tuple[str, int], tuple[str, str]]:
    """(topic, partition) -> (start offset, lag) of ``--describe`` (offsets view)."""
    rows, out = share_groups(broker, work_dir, "--describe", "--group", group)
    return {(r[1], int(r[2])): (r[3], r[4]) for r in rows if len(r) == 5 and r[0] == group}


def reset(broker: Target, work_dir: Path, group: str, topic: str, *how: str) -> dict:
    rows, out = share_groups(
        broker, work_dir, "--reset-offsets", "--group", group, "--topic", topic, *how, "--execute"
    )
    return {(r[1], int(r[2])): r[3] for r in rows if len(r) == 4 and r[0] == group} or {
        "output": out
    }


def test_reset_describe_delete(broker: Target, work_dir: Path) -> None:
    make_topic(broker, "adm", partitions=2, per_partition=5)
    g = "adm-g"
    # Resetting the offsets of a group that does not exist creates it (Kafka does, so that
    # offsets can be set before the first consumer comes).
    assert reset(broker, work_dir, g, "adm", "--to-earliest") == {
        ("adm", 0): "0",
        ("adm", 1): "0",
    }
    assert describe(broker, work_dir, g) == {("adm", 0): ("0", "5"), ("adm", 1): ("0", "5")}
    assert reset(broker, work_dir, g, "adm", "--to-latest") == {
        ("adm", 0): "5",
        ("adm", 1): "5",
    }
    assert describe(broker, work_dir, g) == {("adm", 0): ("5", "0"), ("adm", 1): ("5", "0")}
    assert reset(broker, work_dir, g, "adm:1", "--to-offset", "2") == {("adm", 1): "2"}
    assert describe(broker, work_dir, g) == {("adm", 0): ("5", "0"), ("adm", 1): ("2", "3")}
    # Our own tool shows the same.
    shown = CliRunner().invoke(
        cli, ["groups", "describe", g, "--bootstrap-server", broker.bootstrap_servers]
    )
    assert shown.exit_code == 0, shown.output
    rows = [line.split() for line in shown.output.splitlines()]
    # (no --metrics-url: the in-flight count is n/a)
    assert [g, "adm", "0", "5", "0", "n/a"] in rows, shown.output
    assert [g, "adm", "1", "2", "3", "n/a"] in rows, shown.output
    assert f"Share group '{g}' has no active members." in shown.output

    unknown = reset(broker, work_dir, g, "nope", "--to-earliest")
    assert "This server does not host this topic-partition" in unknown["output"], unknown

    rows, _ = share_groups(broker, work_dir, "--delete-offsets", "--group", g, "--topic", "adm")
    assert rows == [["adm", "Successful"]]
    _, out = share_groups(broker, work_dir, "--describe", "--group", g)
    assert f"Share group '{g}' has no offset information." in out, out
    rows, _ = share_groups(broker, work_dir, "--delete-offsets", "--group", g, "--topic", "adm")
    assert rows == [
        ["adm", "Error:", "There", "is", "no", "offset", "information", "to", "delete."]
    ]
    rows, out = share_groups(
        broker, work_dir, "--delete-offsets", "--group", "adm-none", "--topic", "adm"
    )
    assert "Group adm-none not found." in out, out


def share_consume(classpath: str, broker: Target, group: str, topic: str) -> list[int]:
    """The offsets a Java KafkaShareConsumer got (implicit acknowledgement), until idle."""
    from kafka_support.java_apps import app_command

    process = subprocess.run(
        app_command(
            "ShareConsume",
            classpath,
            broker.bootstrap_servers,
            group,
            topic,
            "implicit",
            "3000",
            "60000",
            "20000",
        ),  # fmt: skip
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=APP_TIMEOUT_S,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    assert "DONE" in process.stdout, process.stdout[-2000:] + process.stderr[-2000:]
    return sorted(
        int(line.split()[1]) for line in process.stdout.splitlines() if line[:4] == "GOT "
    )


def test_java_share_consumer_starts_from_the_reset_offset(broker: Target, work_dir: Path) -> None:
    from kafka_support.jars import streams_classpath

    classpath = streams_classpath()  # the apps directory holds a Streams app too
    make_topic(broker, "adm-java", partitions=1, per_partition=8)
    g = "adm-java-g"
    assert reset(broker, work_dir, g, "adm-java", "--to-offset", "5") == {("adm-java", 0): "5"}
    assert share_consume(classpath, broker, g, "adm-java") == [5, 6, 7]
    # What it acknowledged is done: no lag. Kafka 4.4 persists the start offset one write
    # behind (5, with 5-7 acknowledged above it: lag = 8 - 5 - 3); ferrokafka persists it
    # with the acknowledgement (8).
    start = "5" if isinstance(broker, ks.KafkaBroker) else "8"
    assert describe(broker, work_dir, g) == {("adm-java", 0): (start, "0")}
    # The group is empty again (the consumer left): back to the beginning, all delivered.
    assert reset(broker, work_dir, g, "adm-java", "--to-earliest") == {("adm-java", 0): "0"}
    assert describe(broker, work_dir, g) == {("adm-java", 0): ("0", "8")}
    assert share_consume(classpath, broker, g, "adm-java") == list(range(8))


@pytest.mark.skipif(not hasattr(ck, "ShareConsumer"), reason="no librdkafka share consumer")
def test_offsets_of_a_group_with_members_cannot_change(broker: Target, work_dir: Path) -> None:
    make_topic(broker, "adm-busy", partitions=1, per_partition=3)
    g = "adm-busy-g"
    assert reset(broker, work_dir, g, "adm-busy", "--to-earliest") == {("adm-busy", 0): "0"}
    consumer = ck.ShareConsumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": g})
    try:
        consumer.subscribe(["adm-busy"])
        got = 0
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and got < 3:
            got += len([m for m in consumer.poll(1.0) or [] if m.error() is None])
        assert got == 3
        busy = reset(broker, work_dir, g, "adm-busy", "--to-earliest")
        assert "output" in busy and "is not empty" in busy["output"].lower(), busy
        rows, out = share_groups(
            broker, work_dir, "--delete-offsets", "--group", g, "--topic", "adm-busy"
        )
        assert "not empty" in out.lower(), out
    finally:
        consumer.close()
