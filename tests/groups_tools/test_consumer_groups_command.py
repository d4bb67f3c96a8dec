"""Apache Kafka 4.4.0's own kafka-consumer-groups (ConsumerGroupCommand, with the Java admin
client inside) on groups confluent-kafka consumers made: --list, --describe (offsets, lag,
members, state), --reset-offsets (--to-earliest, --shift-by, --to-datetime) --execute,
--delete. The same test runs against Apache Kafka itself, which shows what the tool prints for
a real group coordinator, and against ferrokafka; both classic and KIP-848 consumer groups.

Kafka's tool reports refusals (a reset or a delete of a group with members) on stdout with exit
code 0, so those are checked by what it prints and by the offsets librdkafka reads back.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import kafka_support as ks
from groups_tools.clients import (
    BASE_TIMESTAMP_MS,
    CLIENT_ID,
    TIMESTAMP_STEP_MS,
    commit,
    committed,
    create_topic,
    ferrokafka_bootstrap,  # noqa: F401 (fixture)
    first_offsets_consumed,
    kafka_bootstrap,  # noqa: F401 (fixture)
    member,
    tool_dir,  # noqa: F401 (fixture)
)

COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
STATE_WAIT_S = 90.0
KAFKA_MARKS = [pytest.mark.kafka, pytest.mark.slow, ks.COMPARE_OPT_IN]


@pytest.fixture(params=["ferrokafka", pytest.param("kafka", marks=KAFKA_MARKS)])
def bootstrap(request: pytest.FixtureRequest) -> str:
    ks.require_kafka()
    return str(request.getfixturevalue(f"{request.param}_bootstrap"))


def tool(work_dir: Path, bootstrap: str, *args: str) -> str:
    result = ks.run_kafka_tool(COMMAND, ["--bootstrap-server", bootstrap, *args], work_dir=work_dir)
    return result.stdout


def rows(out: str, first_column: str = "GROUP") -> list[dict[str, str]]:
    """The table Kafka's tool printed: header and rows split on whitespace."""
    lines = [line for line in out.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first_column])
    header = lines[start].split()
    table = []
    for line in lines[start + 1 :]:
        cells = line.split()
        if len(cells) != len(header):
            break
        table.append(dict(zip(header, cells, strict=True)))
    return table


def states(work_dir: Path, bootstrap: str) -> dict[str, str]:
    out = tool(work_dir, bootstrap, "--list", "--state")
    return {r["GROUP"]: r["STATE"] for r in rows(out)}


def wait_state(work_dir: Path, bootstrap: str, group: str, state: str) -> None:
    deadline = time.monotonic() + STATE_WAIT_S
    while (seen := states(work_dir, bootstrap).get(group)) != state:
        assert time.monotonic() < deadline, f"{group} is {seen}, not {state}, after {STATE_WAIT_S}s"
        time.sleep(0.5)


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_kafka_consumer_groups(tool_dir: Path, bootstrap: str, protocol: str) -> None:  # noqa: F811
    topic, group = f"tool-{protocol}", f"tool-group-{protocol}"
    create_topic(bootstrap, topic, partitions=3, records_per_partition=10)
    with member(bootstrap, group, topic, protocol) as c:
        commit(c, topic, {0: 4, 1: 10})
        wait_state(tool_dir, bootstrap, group, "Stable")
        assert group in tool(tool_dir, bootstrap, "--list").split()

        described = rows(tool(tool_dir, bootstrap, "--describe", "--group", group))
        by_partition = {int(r["PARTITION"]): r for r in described}
        assert sorted(by_partition) == [0, 1, 2]
        for p, (current, lag) in {0: ("4", "6"), 1: ("10", "0"), 2: ("-", "-")}.items():
            r = by_partition[p]
            assert (r["TOPIC"], r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"]) == (
                topic,
                current,
                "10",
                lag,
            )
            assert (r["CONSUMER-ID"], r["CLIENT-ID"]) == (c.memberid(), CLIENT_ID)
            assert r["HOST"].endswith("127.0.0.1")

        members = rows(
            tool(tool_dir, bootstrap, "--describe", "--group", group, "--members", "--verbose")
        )
        [m] = members
        assert (m["CONSUMER-ID"], m["#PARTITIONS"]) == (c.memberid(), "3")
        assignment = m.get("ASSIGNMENT") or m["CURRENT-ASSIGNMENT"]
        assert assignment == f"{topic}:0,1,2"

        [state] = rows(tool(tool_dir, bootstrap, "--describe", "--group", group, "--state"))
        assert (state["STATE"], state["#MEMBERS"]) == ("Stable", "1")
        expected_strategy = "range" if protocol == "classic" else "uniform"
        assert state["ASSIGNMENT-STRATEGY"] == expected_strategy

        # refused while the group has a member: nothing changes
        args = ["--reset-offsets", "--to-earliest", "--execute", "--group", group]
        out = tool(tool_dir, bootstrap, *args, "--topic", topic)
        assert (
            f"Assignments can only be reset if the group '{group}' is inactive, "
            "but the current state is Stable." in out
        )
        out = tool(tool_dir, bootstrap, "--delete", "--group", group)
        assert f"Group '{group}' could not be deleted due to:" in out
        assert "GroupNotEmptyException" in out
    assert committed(bootstrap, group, topic, 3) == {0: 4, 1: 10, 2: -1001}

    wait_state(tool_dir, bootstrap, group, "Empty")
    out = tool(tool_dir, bootstrap, "--reset-offsets", "--to-earliest", "--execute",
               "--group", group, "--topic", topic)  # fmt: skip
    assert {int(r["PARTITION"]): r["NEW-OFFSET"] for r in rows(out)} == {0: "0", 1: "0", 2: "0"}
    assert committed(bootstrap, group, topic, 3) == {0: 0, 1: 0, 2: 0}
    # a member of the group now starts every partition from the beginning
    assert first_offsets_consumed(bootstrap, group, topic, 3, protocol) == {0: 0, 1: 0, 2: 0}

    wait_state(tool_dir, bootstrap, group, "Empty")
    reset = ["--reset-offsets", "--execute", "--group", group, "--all-topics"]
    out = tool(tool_dir, bootstrap, *reset, "--shift-by", "3")
    assert {int(r["PARTITION"]): r["NEW-OFFSET"] for r in rows(out)} == {0: "3", 1: "3", 2: "3"}
    # record i is at BASE + i * STEP: a moment just before record 5 picks offset 5
    moment = datetime.fromtimestamp(
        (BASE_TIMESTAMP_MS + 5 * TIMESTAMP_STEP_MS - 1) / 1000, tz=timezone.utc
    )
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    out = tool(tool_dir, bootstrap, *reset, "--to-datetime", stamp)
    assert {int(r["PARTITION"]): r["NEW-OFFSET"] for r in rows(out)} == {0: "5", 1: "5", 2: "5"}
    assert committed(bootstrap, group, topic, 3) == {0: 5, 1: 5, 2: 5}

    out = tool(tool_dir, bootstrap, "--delete", "--group", group)
    assert f"Deletion of requested consumer groups ('{group}') was successful." in out
    assert group not in tool(tool_dir, bootstrap, "--list").split()
    out = tool(tool_dir, bootstrap, "--describe", "--group", group)
    assert f"GroupIdNotFoundException: Group {group} not found." in out
    assert committed(bootstrap, group, topic, 3) == {0: -1001, 1: -1001, 2: -1001}


def test_delete_missing_group(tool_dir: Path, bootstrap: str) -> None:  # noqa: F811
    out = tool(tool_dir, bootstrap, "--delete", "--group", "tool-never-existed")
    assert "Group 'tool-never-existed' could not be deleted due to:" in out
    assert "GroupIdNotFoundException" in out
