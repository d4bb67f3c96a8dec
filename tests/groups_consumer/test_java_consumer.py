"""Kafka 4.4.0's Java consumer with ``group.protocol=consumer`` (KIP-848) against ferrokafka:
the console consumer reads every record once and commits (a second run reads only what is
new); two VerifiableConsumers split a topic's partitions and the survivor takes them all when
one leaves; Kafka's consumer-groups tool describes the group (Admin.describeConsumerGroups).

Needs the jars from tests/kafka/fetch.sh (fails saying so, never skips). Each JVM is bounded
(kafka_support.jars.TOOL_TIMEOUT_S); every wait has a deadline.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from cg_wire import Wire, create_topic
from confluent_kafka import Producer
from java_tools import VerifiableConsumer, wait_until

import kafka_support as ks
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.consumer_group_describe import ConsumerGroupDescribeRequest
from ferrokafka.testing import RunningBroker, run_broker

CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
# Members heartbeat every second so that rebalances take seconds, not tens of seconds.
OVERRIDES = {"group.consumer.heartbeat.interval.ms": 1000}
REBALANCE_TIMEOUT_S = 90.0
FLUSH_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def tool_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ks.require_kafka()
    return tmp_path_factory.mktemp("kafka-tools")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RunningBroker]:
    with run_broker(tmp_path / "broker", OVERRIDES) as running:
        yield running


def produce(bootstrap: str, topic: str, values: list[str], partitions: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, value in enumerate(values):
        producer.produce(topic, value=value.encode(), partition=i % partitions)
    assert producer.flush(FLUSH_TIMEOUT_S) == 0


def console_consume(tool_dir: Path, bootstrap: str, topic: str, group: str, *extra: str):
    result = ks.run_kafka_tool(
        CONSOLE_CONSUMER,
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--group",
            group,
            "--consumer-property",
            "group.protocol=consumer",
            "--from-beginning",
            *extra,
        ],
        work_dir=tool_dir,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("v-")]
    return lines, result.stderr


def test_console_consumer_reads_once_and_commits(tool_dir: Path, broker: RunningBroker) -> None:
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, "cc", 3)
    first = [f"v-{i}" for i in range(30)]
    produce(bootstrap, "cc", first, 3)

    got, _ = console_consume(
        tool_dir, bootstrap, "cc", "G", "--max-messages", "30", "--timeout-ms", "60000"
    )
    assert sorted(got) == sorted(first)

    # Committed offsets: a second run of the group finds nothing new...
    again, stderr = console_consume(tool_dir, bootstrap, "cc", "G", "--timeout-ms", "10000")
    assert again == [] and "Processed a total of 0 messages" in stderr

    # ...and a third run reads only what was produced since.
    new = [f"v-new-{i}" for i in range(5)]
    produce(bootstrap, "cc", new, 3)
    third, _ = console_consume(
        tool_dir, bootstrap, "cc", "G", "--max-messages", "5", "--timeout-ms", "60000"
    )
    assert sorted(third) == sorted(new)


def test_two_consumers_split_then_one_takes_over(tool_dir: Path, broker: RunningBroker) -> None:
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, "vc", 6)
    produce(bootstrap, "vc", [f"v-{i}" for i in range(60)], 6)
    everything = {("vc", p) for p in range(6)}

    a = VerifiableConsumer(tool_dir, bootstrap, "vc", "VG")
    b = None
    try:
        wait_until([a], lambda: a.assigned == everything, REBALANCE_TIMEOUT_S, "first assignment")
        b = VerifiableConsumer(tool_dir, bootstrap, "vc", "VG")
        both = [a, b]
        wait_until(
            both,
            lambda: (
                len(a.assigned) == 3
                and len(b.assigned) == 3
                and a.assigned | b.assigned == everything
            ),
            REBALANCE_TIMEOUT_S,
            "a 3/3 split",
        )
        # Every record was consumed by the group (offsets 0..9 of each partition).
        wait_until(
            both,
            lambda: all(
                max(a.consumed.get(tp, -1), b.consumed.get(tp, -1)) == 9 for tp in everything
            ),
            REBALANCE_TIMEOUT_S,
            "all records consumed",
        )

        described = ks.run_kafka_tool(
            GROUP_COMMAND,
            ["--bootstrap-server", bootstrap, "--describe", "--group", "VG", "--state"],
            work_dir=tool_dir,
        ).stdout
        [header, row] = [line.split() for line in described.splitlines() if line.strip()]
        assert header[:2] == ["GROUP", "COORDINATOR"] and row[0] == "VG"
        assert "Stable" in row and "uniform" in row and row[-1] == "2"

        members = ks.run_kafka_tool(
            GROUP_COMMAND,
            [
                "--bootstrap-server",
                bootstrap,
                "--describe",
                "--group",
                "VG",
                "--members",
                "--verbose",
            ],
            work_dir=tool_dir,
        ).stdout
        # GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS CURRENT-EPOCH CURRENT-ASSIGNMENT
        # TARGET-EPOCH TARGET-ASSIGNMENT, one row per member, reconciled: current == target.
        rows = [line.split() for line in members.splitlines() if line.startswith("VG")]
        assert len(rows) == 2, members
        assert all(r[4] == "3" and r[5:7] == r[7:9] for r in rows), members
        listed = {int(p) for r in rows for p in r[6].removeprefix("vc:").split(",")}
        assert listed == set(range(6)), members

        b.stop()
        wait_until([a], lambda: a.assigned == everything, REBALANCE_TIMEOUT_S, "the takeover")
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_static_members_keep_their_partitions_across_a_restart(
    tool_dir: Path, broker: RunningBroker
) -> None:
    """A static member (group.instance.id) that closes leaves with epoch -2: its partitions
    wait for it instead of moving, and when it comes back (a new member id) it gets them back
    without a new group epoch."""
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, "sc", 4)
    everything = {("sc", p) for p in range(4)}
    a = VerifiableConsumer(tool_dir, bootstrap, "sc", "SG", instance_id="i-a")
    b = VerifiableConsumer(tool_dir, bootstrap, "sc", "SG", instance_id="i-b")
    b2 = None
    wire = Wire(bootstrap)
    try:
        wait_until(
            [a, b],
            lambda: len(a.assigned) == 2 and a.assigned | b.assigned == everything,
            REBALANCE_TIMEOUT_S,
            "a 2/2 split",
        )
        kept_by_b = set(b.assigned)
        [before] = wire.call(ConsumerGroupDescribeRequest(group_ids=["SG"]), 1).groups
        b.stop()
        [away] = wire.call(ConsumerGroupDescribeRequest(group_ids=["SG"]), 1).groups
        epochs = {m.instance_id: m.member_epoch for m in away.members}
        assert epochs["i-b"] == -2 and away.group_epoch == before.group_epoch

        b2 = VerifiableConsumer(tool_dir, bootstrap, "sc", "SG", instance_id="i-b")
        wait_until([a, b2], lambda: b2.assigned == kept_by_b, REBALANCE_TIMEOUT_S, "the return")
        a.poll()
        assert len(a.assigned) == 2  # a never got b's partitions
        [after] = wire.call(ConsumerGroupDescribeRequest(group_ids=["SG"]), 1).groups
        assert after.group_epoch == before.group_epoch
        assert {m.instance_id for m in after.members} == {"i-a", "i-b"}
    finally:
        wire.close()
        for consumer in (a, b, b2):
            if consumer is not None:
                consumer.stop()


def test_list_and_delete_consumer_group(tool_dir: Path, tmp_path: Path) -> None:
    """kafka-consumer-groups lists the group with type Consumer, refuses to delete it or the
    offsets of its subscribed topic while a member is in it, deletes it once empty (with its
    offsets), and it stays deleted after a restart (its tombstones on __consumer_offsets)."""
    data = tmp_path / "restart"

    def tool(bootstrap: str, *args: str) -> str:
        return ks.run_kafka_tool(
            GROUP_COMMAND, ["--bootstrap-server", bootstrap, *args], work_dir=tool_dir
        ).stdout

    with run_broker(data, OVERRIDES) as broker:
        bootstrap = broker.bootstrap_servers
        create_topic(bootstrap, "dt", 2)
        produce(bootstrap, "dt", [f"v-{i}" for i in range(4)], 2)
        member = VerifiableConsumer(tool_dir, bootstrap, "dt", "DG")
        try:
            wait_until(
                [member],
                lambda: all(member.consumed.get(("dt", p), -1) == 1 for p in range(2)),
                REBALANCE_TIMEOUT_S,
                "the records",
            )
            listed = tool(bootstrap, "--list", "--type")
            rows = {tuple(line.split()) for line in listed.splitlines()}
            assert ("DG", "Consumer") in rows, listed
            refused = tool(bootstrap, "--delete", "--group", "DG")
            assert "GroupNotEmptyException" in refused, refused
            # OffsetDelete: the group subscribes to the topic (GROUP_SUBSCRIBED_TO_TOPIC).
            kept = tool(bootstrap, "--delete-offsets", "--group", "DG", "--topic", "dt")
            assert kept.count("GroupSubscribedToTopicException") == 2, kept
        finally:
            member.stop()
        out = tool(bootstrap, "--delete", "--group", "DG")
        assert "Deletion of requested consumer groups ('DG') was successful." in out
        assert "DG" not in tool(bootstrap, "--list").split()
    with run_broker(data, OVERRIDES) as broker:
        bootstrap = broker.bootstrap_servers
        wire = Wire(bootstrap)
        try:
            wire.wait_coordinator("DG")
            [group] = wire.call(ConsumerGroupDescribeRequest(group_ids=["DG"]), 1).groups
        finally:
            wire.close()
        assert group.error_code == ec.GROUP_ID_NOT_FOUND
        assert "DG" not in tool(bootstrap, "--list").split()


def test_a_frozen_member_is_fenced_and_rejoins(tool_dir: Path, tmp_path: Path) -> None:
    """SIGSTOP freezes a member: its session expires (group.consumer.session.timeout.ms), the
    coordinator fences it and the other member takes its partitions; after SIGCONT it learns
    it was fenced (UNKNOWN_MEMBER_ID), rejoins, and the partitions are split again."""
    overrides = {**OVERRIDES, "group.consumer.session.timeout.ms": 6000}
    with run_broker(tmp_path / "broker", overrides) as broker:
        bootstrap = broker.bootstrap_servers
        create_topic(bootstrap, "fz", 4)
        everything = {("fz", p) for p in range(4)}
        a = VerifiableConsumer(tool_dir, bootstrap, "fz", "FG")
        b = VerifiableConsumer(tool_dir, bootstrap, "fz", "FG")
        wire = Wire(bootstrap)
        try:
            wait_until(
                [a, b],
                lambda: len(a.assigned) == 2 and a.assigned | b.assigned == everything,
                REBALANCE_TIMEOUT_S,
                "a 2/2 split",
            )
            # Frozen only once both consume: a consumer stopped between its assignment and
            # its first OffsetFetch would, once thawed, fetch as the member it no longer is and
            # fail its poll (UNKNOWN_MEMBER_ID, as against Kafka) instead of rejoining.
            produce(bootstrap, "fz", [f"v-{i}" for i in range(8)], 4)
            wait_until(
                [a, b],
                lambda: (
                    all(a.consumed.get(tp, -1) == 1 for tp in a.assigned)
                    and all(b.consumed.get(tp, -1) == 1 for tp in b.assigned)
                ),
                REBALANCE_TIMEOUT_S,
                "every record consumed by its partition's owner",
            )
            [before] = wire.call(ConsumerGroupDescribeRequest(group_ids=["FG"]), 1).groups
            b.process.send_signal(signal.SIGSTOP)
            wait_until([a], lambda: a.assigned == everything, REBALANCE_TIMEOUT_S, "the takeover")
            [alone] = wire.call(ConsumerGroupDescribeRequest(group_ids=["FG"]), 1).groups
            assert len(alone.members) == 1 and alone.group_epoch > before.group_epoch
            b.process.send_signal(signal.SIGCONT)
            wait_until(
                [a, b],
                lambda: (
                    len(a.assigned) == 2
                    and len(b.assigned) == 2
                    and a.assigned | b.assigned == everything
                ),
                REBALANCE_TIMEOUT_S,
                "the split after the rejoin",
            )
        finally:
            wire.close()
            b.process.send_signal(signal.SIGCONT)
            a.stop()
            b.stop()
