"""Share groups (KIP-932) through Kafka 4.4's own clients against one ferrokafka broker: the
Java ``KafkaShareConsumer`` (tests/kafka/apps/ShareConsume.java) in implicit and explicit
acknowledgement modes, records redelivered when a lock expires and when their consumer is
killed, the delivery count limit,
``kafka-console-share-consumer`` and ``kafka-share-groups``.

The broker lowers ``group.share.min.record.lock.duration.ms`` to 1 s so that a group may set
a 2 s lock (kafka-configs on the GROUP resource), which bounds the kill test's wait.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_support as ks
from ferrokafka.testing import run_broker

CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"
SHARE_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"
FEATURE_COMMAND = "org.apache.kafka.tools.FeatureCommand"
CONSOLE_SHARE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleShareConsumer"
APP_TIMEOUT_S = 120.0
IDLE_MS = "3000"  # a consumer stops once nothing came for this long after its first record
RUN_MS = "60000"  # and in any case after this
LOCK_MS = 2000
FIRST_WAIT_MS = "20000"


# The same scenarios against Apache Kafka 4.4, to compare the delivery outcomes: opt-in
# (FERROKAFKA_SHARE_KAFKA=1), since a Kafka broker and the JVM clients double the module's time.
KAFKA_OPT_IN = "FERROKAFKA_SHARE_KAFKA"
KAFKA_MARKS = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get(KAFKA_OPT_IN), reason=f"set {KAFKA_OPT_IN}=1"),
]
BROKER_CONFIG = {"group.share.min.record.lock.duration.ms": "1000"}


class Target(Protocol):
    @property
    def bootstrap_servers(self) -> str: ...


@pytest.fixture(scope="module", params=["ferrokafka", pytest.param("kafka", marks=KAFKA_MARKS)])
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    yield from side_by_side_broker(
        request.param, tmp_path_factory.mktemp(f"share-{request.param}"), BROKER_CONFIG
    )


def side_by_side_broker(
    kind: str, work: Path, broker_config: dict[str, str] | None = None
) -> Iterator[Target]:
    """A running single broker of ``kind`` ("ferrokafka" or "kafka", Apache Kafka 4.4) with
    ``broker_config``, for the share modules' side-by-side fixtures."""
    ks.require_kafka()
    if kind == "kafka":
        kafka = ks.KafkaBroker(work, broker_config=broker_config)
        kafka.start()
        try:
            yield kafka
        finally:
            kafka.stop()
        return
    with run_broker(work, broker_config) as running:
        yield running


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("share-tools")


@pytest.fixture(scope="module")
def classpath() -> str:
    from kafka_support.jars import streams_classpath

    return streams_classpath()  # the apps directory holds a Streams app too


def make_topic(broker: Target, topic: str, values: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(timeout=30)
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap_servers})
    for value in values:
        producer.produce(topic, value=value.encode())
    assert producer.flush(30) == 0


def group_configs(broker: Target, work_dir: Path, group: str, configs: str) -> None:
    ks.run_kafka_tool(
        CONFIG_COMMAND,
        [
            "--bootstrap-server",
            broker.bootstrap_servers,
            "--alter",
            "--entity-type",
            "groups",
            "--entity-name",
            group,
            "--add-config",
            configs,
        ],
        work_dir=work_dir,
    )


def consumer(
    classpath: str, broker: Target, group: str, topic: str, mode: str, *extra: str
) -> subprocess.Popen[str]:
    from kafka_support.java_apps import app_command

    return subprocess.Popen(
        app_command(
            "ShareConsume",
            classpath,
            broker.bootstrap_servers,
            group,
            topic,
            mode,
            IDLE_MS,
            RUN_MS,
            *extra,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def deliveries(process: subprocess.Popen[str]) -> list[tuple[int, int, str]]:
    """(offset, delivery count, value) of every record the consumer printed."""
    out, err = process.communicate(timeout=APP_TIMEOUT_S)
    assert process.returncode == 0, err[-3000:]
    assert "DONE" in out, out[-2000:] + err[-2000:]
    return [
        (int(offset), int(count), value)
        for line in out.splitlines()
        if line.startswith("GOT ")
        for _, offset, count, value in [line.split(" ", 3)]
    ]


def test_three_consumers_implicit_every_record_once(
    broker: Target, work_dir: Path, classpath: str
) -> None:
    values = [f"r-{i}" for i in range(60)]
    make_topic(broker, "implicit3", values)
    group_configs(broker, work_dir, "implicit3-g", "share.auto.offset.reset=earliest")
    # Ten records a poll, so that the three take turns; one that got nothing in 20 s (the
    # others were quicker) stops then.
    procs = [
        consumer(classpath, broker, "implicit3-g", "implicit3", "implicit", FIRST_WAIT_MS, "10")
        for _ in range(3)
    ]
    got = [d for p in procs for d in deliveries(p)]
    # Each record to exactly one member, once: acknowledged implicitly, never redelivered.
    assert sorted(offset for offset, _, _ in got) == list(range(60))
    assert {count for _, count, _ in got} == {1}
    assert sorted(v for _, _, v in got) == sorted(values)


def test_explicit_release_reject_and_delivery_limit(
    broker: Target, work_dir: Path, classpath: str
) -> None:
    make_topic(broker, "explicit", ["release-0", "reject-1", "ok-2", "poison-3", "ok-4"])
    group_configs(
        broker,
        work_dir,
        "explicit-g",
        "share.auto.offset.reset=earliest,share.delivery.count.limit=3",
    )
    got = deliveries(consumer(classpath, broker, "explicit-g", "explicit", "explicit"))
    by_offset: dict[int, list[int]] = {}
    for offset, count, _ in got:
        by_offset.setdefault(offset, []).append(count)
    assert by_offset[0] == [1, 2]  # released, redelivered, accepted
    assert by_offset[1] == [1]  # rejected: archived, never again
    assert by_offset[2] == [1]
    assert by_offset[3] == [1, 2, 3]  # released every time: archived at the limit
    assert by_offset[4] == [1]


def hold(
    classpath: str, broker: Target, group: str, topic: str
) -> tuple[subprocess.Popen[str], list[int]]:
    """A consumer that acquired records and keeps them (prints HOLD, then sleeps)."""
    holder = consumer(classpath, broker, group, topic, "explicit")
    assert holder.stdout is not None
    held: list[int] = []
    deadline = time.monotonic() + APP_TIMEOUT_S
    while time.monotonic() < deadline:
        line = holder.stdout.readline()
        if not line or line.startswith("HOLD"):
            break
        if line.startswith("GOT "):
            held.append(int(line.split()[1]))
    return holder, held


def stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait(timeout=30)


def test_records_of_a_live_member_redelivered_after_the_lock(
    broker: Target, work_dir: Path, classpath: str
) -> None:
    make_topic(broker, "locked", [f"hold-{i}" for i in range(5)])
    group_configs(
        broker,
        work_dir,
        "locked-g",
        f"share.auto.offset.reset=earliest,share.record.lock.duration.ms={LOCK_MS}",
    )
    holder, held = hold(classpath, broker, "locked-g", "locked")
    try:
        assert held, "the first consumer acquired nothing"
        members = ks.run_kafka_tool(
            SHARE_GROUP_COMMAND,
            [
                "--bootstrap-server",
                broker.bootstrap_servers,
                "--describe",
                "--members",
                "--group",
                "locked-g",
            ],
            work_dir=work_dir,
        )
        print(members.stdout)
        assert "locked:0" in members.stdout, members.stdout
        # The holder stays connected and in the group: only its locks' expiry frees them.
        got = deliveries(consumer(classpath, broker, "locked-g", "locked", "explicit"))
    finally:
        stop(holder)
    counts = {offset: count for offset, count, _ in got}
    assert sorted(counts) == list(range(5))
    assert all(counts[offset] == 2 for offset in held)


def test_killed_consumer_records_redelivered(
    broker: Target, work_dir: Path, classpath: str
) -> None:
    """Killed with records acquired: its connection closes, which ends its share session and
    releases its records (Kafka's ShareSessionCache on a disconnect), so another member gets
    them at once, with delivery count 2, without waiting for the 30 s default lock."""
    make_topic(broker, "killed", [f"hold-{i}" for i in range(5)])
    group_configs(broker, work_dir, "killed-g", "share.auto.offset.reset=earliest")
    holder, held = hold(classpath, broker, "killed-g", "killed")
    stop(holder)  # no goodbye
    assert held, "the first consumer acquired nothing"
    got = deliveries(consumer(classpath, broker, "killed-g", "killed", "explicit"))
    counts = {offset: count for offset, count, _ in got}
    assert sorted(counts) == list(range(5))
    assert all(counts[offset] == 2 for offset in held)


def test_console_share_consumer_and_share_groups_tool(broker: Target, work_dir: Path) -> None:
    make_topic(broker, "console", [f"c-{i}" for i in range(5)])
    group_configs(broker, work_dir, "console-g", "share.auto.offset.reset=earliest")
    result = ks.run_kafka_tool(
        CONSOLE_SHARE_CONSUMER,
        [
            "--bootstrap-server",
            broker.bootstrap_servers,
            "--topic",
            "console",
            "--group",
            "console-g",
            "--max-messages",
            "5",
            "--timeout-ms",
            "30000",
        ],
        work_dir=work_dir,
    )
    assert sorted(result.stdout.split()) == [f"c-{i}" for i in range(5)]
    listed = ks.run_kafka_tool(
        SHARE_GROUP_COMMAND,
        ["--bootstrap-server", broker.bootstrap_servers, "--list"],
        work_dir=work_dir,
    )
    assert "console-g" in listed.stdout.split()
    state = ks.run_kafka_tool(
        SHARE_GROUP_COMMAND,
        [
            "--bootstrap-server",
            broker.bootstrap_servers,
            "--describe",
            "--state",
            "--group",
            "console-g",
        ],
        work_dir=work_dir,
    )
    assert "console-g" in state.stdout and "Empty" in state.stdout, state.stdout
    features = ks.run_kafka_tool(
        FEATURE_COMMAND,
        ["--bootstrap-server", broker.bootstrap_servers, "describe"],
        work_dir=work_dir,
    )
    share = next(line for line in features.stdout.splitlines() if "share.version" in line)
    assert int(share.split("FinalizedVersionLevel:")[1].split()[0]) >= 1, share
