"""Kafka Streams 4.4 (from Maven Central) runs a stateful topology against ferrokafka with the
classic group protocol and ``processing.guarantee=at_least_once``: a repartition (groupBy on a
new key), an aggregation with a state store and its changelog, a KStream-KTable join
(tests/kafka/apps/PurchaseTotals.java). Half the input is processed, the application is killed
with SIGKILL, the rest is produced and the application started again on its state dir: the
latest value per key of both outputs equals the computation, and the internal topics Streams
created have the configs Streams asks for (repartition: delete; changelog: compact), read with
confluent-kafka's DescribeConfigs.

The same run against Apache Kafka 4.4 is opt-in (``FERROKAFKA_ECOSYSTEM_FULL=1``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecosystem.streams_app import (
    StreamsApp,
    Topics,
    Workload,
    create_topics,
    latest_values,
    list_topics,
    peak_rss_mb,
    produce,
    produce_purchases,
    topic_configs,
    wait_latest,
)
from faults.nodes import FerrokafkaNode, NodeConfig

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FULL = os.environ.get("FERROKAFKA_ECOSYSTEM_FULL", "") not in ("", "0")
# Streams groups: a killed member's tasks move once its session expires; 6 s (Kafka's minimum
# is 45 s by default) keeps the test short.
NODE_OVERRIDES = {
    "offsets.topic.replication.factor": "1",
    "group.streams.min.session.timeout.ms": "6000",
    "group.streams.session.timeout.ms": "6000",
    "group.streams.min.heartbeat.interval.ms": "1000",
    "group.streams.heartbeat.interval.ms": "1000",
}
# Every task of PurchaseTotals on two-partition topics: subtopology 0 (purchases -> the
# repartition topic) and 1 (the aggregate and the join).
STREAMS_GROUP_COMMAND = "org.apache.kafka.tools.streams.StreamsGroupCommand"
ALL_TASKS = frozenset({"0_0", "0_1", "1_0", "1_1"})
# Output records before the kill: the application committed once (the aggregate's cache is
# flushed on commit, so the first commit brings one update per user).
OUTPUT_BEFORE_KILL_MIN = 1
MID_STREAM_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def ferrokafka_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerrokafkaNode]:
    node = FerrokafkaNode(
        NodeConfig(1, tmp_path_factory.mktemp("streams-node"), overrides=dict(NODE_OVERRIDES))
    )
    node.start()
    try:
        yield node
    finally:
        node.close()


def run_with_restart(bootstrap: str, work_dir: Path, group_protocol: str, broker_pid: int) -> str:
    """Runs the scenario; returns a one-line summary. ``application.id`` is ``totals-<proto>``."""
    application_id = f"totals-{group_protocol}"
    topics = Topics.named(application_id)
    workload = Workload.make()
    create_topics(bootstrap, topics)
    produce(bootstrap, topics.users, sorted(workload.regions.items()))
    third = len(workload.purchases) // 3
    produce_purchases(bootstrap, topics.purchases, workload.purchases[:third])
    app = StreamsApp(work_dir, "app", bootstrap, application_id, topics, group_protocol)
    began = time.monotonic()
    app.start()
    try:
        app.wait_running()
        started_s = time.monotonic() - began
        deadline = time.monotonic() + MID_STREAM_TIMEOUT_S
        while latest_values(bootstrap, topics.totals)[1] < OUTPUT_BEFORE_KILL_MIN:
            assert app.alive, app.output_tail()
            assert time.monotonic() < deadline, app.output_tail()
            time.sleep(0.3)
        # The kill lands while the second third is being processed: some of it committed,
        # some processed and not committed (processed again after the restart), some not yet.
        produce_purchases(bootstrap, topics.purchases, workload.purchases[third : 2 * third])
        app.kill()
        produce_purchases(bootstrap, topics.purchases, workload.purchases[2 * third :])
        app.start()
        app.wait_running()
        totals = wait_latest(bootstrap, topics.totals, workload.expected_totals(), [app])
        assert totals == workload.expected_totals(), app.output_tail()
        joined = wait_latest(bootstrap, topics.joined, workload.expected_joined(), [app])
        assert joined == workload.expected_joined(), app.output_tail()
        memory = (
            f"app peak RSS {app.peak_rss_mb():.0f} MiB, broker {peak_rss_mb(broker_pid):.0f} MiB"
        )
    finally:
        app.stop()
    check_internal_topics(bootstrap, application_id)
    records = latest_values(bootstrap, topics.totals)[1]
    return f"{group_protocol}: RUNNING after {started_s:.1f}s, {records} total updates; {memory}"


def check_internal_topics(bootstrap: str, application_id: str) -> None:
    partitions = list_topics(bootstrap)
    repartition = f"{application_id}-by-user-repartition"
    changelog = f"{application_id}-purchases-by-user-changelog"
    assert partitions.get(repartition) == 2, sorted(partitions)
    assert partitions.get(changelog) == 2, sorted(partitions)
    configs = topic_configs(bootstrap, [repartition, changelog], ("cleanup.policy", "retention.ms"))
    assert configs[repartition]["cleanup.policy"] == "delete", configs
    # Streams keeps repartition records until it deletes them itself (DeleteRecords).
    assert configs[repartition]["retention.ms"] == "-1", configs
    assert configs[changelog]["cleanup.policy"] == "compact", configs


def test_streams_classic_protocol_restart_on_ferrokafka(
    ferrokafka_node: FerrokafkaNode, tmp_path: Path
) -> None:
    print(run_with_restart(ferrokafka_node.bootstrap, tmp_path, "classic", ferrokafka_node.pid))


def run_two_instances(bootstrap: str, work_dir: Path, broker_pid: int) -> str:
    """The streams protocol: two instances share the tasks; one is killed mid-stream, the
    other takes its tasks (once the killed member's session expires) and the output is
    exact."""
    application_id = "totals-streams"
    topics = Topics.named(application_id)
    workload = Workload.make()
    create_topics(bootstrap, topics)
    produce(bootstrap, topics.users, sorted(workload.regions.items()))
    third = len(workload.purchases) // 3
    produce_purchases(bootstrap, topics.purchases, workload.purchases[:third])
    apps = [
        StreamsApp(work_dir, name, bootstrap, application_id, topics, "streams")
        for name in ("a", "b")
    ]
    began = time.monotonic()
    try:
        for app in apps:
            app.start()
        for app in apps:
            app.wait_running()
        a, b = apps
        # Both run tasks: the assignment settles on two tasks each.
        deadline = time.monotonic() + MID_STREAM_TIMEOUT_S
        while not (a.tasks() and b.tasks() and a.tasks() | b.tasks() == ALL_TASKS):
            assert a.alive and b.alive, a.output_tail() + b.output_tail()
            assert time.monotonic() < deadline, a.output_tail() + b.output_tail()
            time.sleep(0.3)
        assert not a.tasks() & b.tasks(), (a.tasks(), b.tasks())
        settled_s = time.monotonic() - began
        describe_with_kafka_tool(bootstrap, application_id, work_dir, [a, b])
        moved = b.tasks()
        produce_purchases(bootstrap, topics.purchases, workload.purchases[third : 2 * third])
        b.kill()
        produce_purchases(bootstrap, topics.purchases, workload.purchases[2 * third :])
        a.wait_tasks(ALL_TASKS)
        totals = wait_latest(bootstrap, topics.totals, workload.expected_totals(), [a])
        assert totals == workload.expected_totals(), a.output_tail()
        joined = wait_latest(bootstrap, topics.joined, workload.expected_joined(), [a])
        assert joined == workload.expected_joined(), a.output_tail()
        memory = f"app peak RSS {a.peak_rss_mb():.0f} MiB, broker {peak_rss_mb(broker_pid):.0f} MiB"
    finally:
        for app in apps:
            app.stop()
    check_internal_topics(bootstrap, application_id)
    return (
        f"streams: both instances running tasks after {settled_s:.1f}s; {sorted(moved)} moved;"
        f" {memory}"
    )


def describe_with_kafka_tool(
    bootstrap: str, group: str, work_dir: Path, apps: list[StreamsApp]
) -> None:
    """Kafka's ``kafka-streams-groups`` (StreamsGroupCommand) lists the group as a streams group
    and describes both members with the tasks they run."""
    from kafka_support.jars import run_kafka_tool

    listed = run_kafka_tool(
        STREAMS_GROUP_COMMAND, ["--bootstrap-server", bootstrap, "--list"], work_dir=work_dir
    ).stdout
    assert group in listed.split(), listed
    described = run_kafka_tool(
        STREAMS_GROUP_COMMAND,
        ["--bootstrap-server", bootstrap, "--describe", "--group", group, "--members", "--verbose"],
        work_dir=work_dir,
    ).stdout
    rows = [line for line in described.splitlines() if line.startswith(group + " ")]
    assert len(rows) == len(apps), described
    described_tasks = {frozenset(_active_tasks(row)) for row in rows}
    assert described_tasks == {app.tasks() for app in apps}, described


def _active_tasks(row: str) -> set[str]:
    """The tasks of the tool's "ACTIVE: 0:[1]; 1:[1]; TARGET-ACTIVE: ..." column, as "0_1",
    "1_1"."""
    active = row.split("ACTIVE:", 1)[1].split("TARGET-ACTIVE:", 1)[0]
    return {
        f"{subtopology}_{p}"
        for subtopology, partitions in re.findall(r"(\w+):\[([\d,\s]*)\]", active)
        for p in partitions.replace(" ", "").split(",")
        if p
    }


def test_streams_protocol_failover_on_ferrokafka(
    ferrokafka_node: FerrokafkaNode, tmp_path: Path
) -> None:
    print(run_two_instances(ferrokafka_node.bootstrap, tmp_path, ferrokafka_node.pid))
    # The group is on __consumer_offsets (StreamsGroup* records): after a hard restart of the
    # broker it is loaded again, a streams group (empty: both instances left or were fenced).
    ferrokafka_node.kill()
    ferrokafka_node.start()
    from kafka_support.jars import run_kafka_tool

    described = run_kafka_tool(
        STREAMS_GROUP_COMMAND,
        [
            "--bootstrap-server",
            ferrokafka_node.bootstrap,
            "--describe",
            "--group",
            "totals-streams",
            "--state",
        ],
        work_dir=tmp_path,
    ).stdout
    rows = [line.split() for line in described.splitlines() if line.startswith("totals-streams ")]
    assert rows and rows[0][-2:] == ["Empty", "0"], described


@pytest.mark.skipif(not FULL, reason="opt-in: FERROKAFKA_ECOSYSTEM_FULL=1 (Apache Kafka 4.4)")
def test_streams_protocol_failover_on_kafka(tmp_path: Path) -> None:
    from kafka_support.broker import KafkaBroker

    overrides = {k: v for k, v in NODE_OVERRIDES.items() if k.startswith("group.streams")}
    with KafkaBroker(tmp_path / "kafka", broker_config=overrides) as broker:
        print(run_two_instances(broker.bootstrap_servers, tmp_path, _pid(broker)))


@pytest.mark.skipif(not FULL, reason="opt-in: FERROKAFKA_ECOSYSTEM_FULL=1 (Apache Kafka 4.4)")
def test_streams_classic_protocol_restart_on_kafka(tmp_path: Path) -> None:
    from kafka_support.broker import KafkaBroker

    with KafkaBroker(tmp_path / "kafka") as broker:
        print(run_with_restart(broker.bootstrap_servers, tmp_path, "classic", _pid(broker)))


def _pid(broker: object) -> int:
    process = getattr(broker, "_process", None)  # KafkaBroker keeps its JVM there
    return process.pid if process is not None else 0
