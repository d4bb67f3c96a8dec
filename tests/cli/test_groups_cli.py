"""`ferrokafka groups` as a user runs it, on groups a real client (confluent-kafka) made: list,
describe (classic and KIP-848 consumer groups), delete, reset-offsets — against Apache Kafka
4.4.0, which shows the CLI speaks the protocol, and against ferrokafka's group coordinator.
What a reset did is read back by librdkafka (committed offsets, where a consumer resumes)."""

from __future__ import annotations

import os
import subprocess
import sys
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
)
from kafka_support.jars import TOOL_JVM_OPTIONS, write_log4j2_config

REPO = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "ferrokafka_cli.main", "groups"]
RUN_TIMEOUT_S = 90.0
STATE_WAIT_S = 60.0

KAFKA_MARKS = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(params=["ferrokafka", pytest.param("kafka", marks=KAFKA_MARKS)])
def bootstrap(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_bootstrap"))


def groups(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args, "--bootstrap-server", bootstrap],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=os.environ.copy(),
        check=False,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    assert not proc.stderr.strip() or "Traceback" not in proc.stderr
    return proc.stdout


def fails(proc: subprocess.CompletedProcess[str]) -> str:
    """A clean failure: exit code 1 and one `Error: ...` line, never a traceback."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("Error: ")
    return proc.stderr


def table(out: str, first_column: str) -> list[dict[str, str]]:
    """The rows of the table in ``out`` whose header starts with ``first_column``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first_column])
    header = lines[start].split()
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = line.split()
        assert len(cells) == len(header), line
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def listed(bootstrap: str, *args: str) -> dict[str, dict[str, str]]:
    out = ok(groups(bootstrap, "list", *args))
    if not out.strip():
        return {}
    return {row["GROUP"]: row for row in table(out, "GROUP")}


def wait_state(bootstrap: str, group: str, state: str) -> None:
    deadline = time.monotonic() + STATE_WAIT_S
    while True:
        row = listed(bootstrap).get(group)
        if row is not None and row["STATE"] == state:
            return
        assert time.monotonic() < deadline, f"{group} is {row} after {STATE_WAIT_S}s, not {state}"
        time.sleep(0.3)


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_list_and_describe_a_live_group(bootstrap: str, protocol: str) -> None:
    topic, group = f"described-{protocol}", f"g-described-{protocol}"
    create_topic(bootstrap, topic, partitions=3, records_per_partition=10)
    with member(bootstrap, group, topic, protocol) as c:
        commit(c, topic, {0: 4, 1: 10})
        wait_state(bootstrap, group, "Stable")
        row = listed(bootstrap)[group]
        assert row["TYPE"] == protocol
        assert row["PROTOCOL-TYPE"] == "consumer"
        assert group in listed(bootstrap, "--state", "stable")
        assert group not in listed(bootstrap, "--state", "Empty,Dead")

        out = ok(groups(bootstrap, "describe", group))
        assert out.startswith(f"Group '{group}' ({protocol}, protocol consumer/")
        assert "is Stable with 1 member(s)." in out.splitlines()[0]
        rows = {int(r["PARTITION"]): r for r in table(out, "GROUP")}
        assert sorted(rows) == [0, 1, 2]
        member_id = c.memberid()
        for p, (current, lag) in {0: ("4", "6"), 1: ("10", "0"), 2: ("-", "-")}.items():
            r = rows[p]
            assert (r["GROUP"], r["TOPIC"], r["LOG-END-OFFSET"]) == (group, topic, "10")
            assert (r["CURRENT-OFFSET"], r["LAG"]) == (current, lag)
            assert (r["CONSUMER-ID"], r["CLIENT-ID"]) == (member_id, CLIENT_ID)
            assert r["HOST"].endswith("127.0.0.1")
        [m] = table(out, "CONSUMER-ID")
        assert m["CONSUMER-ID"] == member_id and m["CLIENT-ID"] == CLIENT_ID
        assert (m["#PARTITIONS"], m["ASSIGNMENT"]) == ("3", f"{topic}:0/1/2")
        if protocol == "classic":
            # librdkafka's assignment bytes, decoded: ConsumerProtocol version and user data.
            assert m["ASSIGNMENT-VERSION"].isdigit() and m["USER-DATA-BYTES"].isdigit()
        else:
            assert m["ASSIGNMENT-VERSION"] == "-"

    wait_state(bootstrap, group, "Empty")
    out = ok(groups(bootstrap, "describe", group))
    assert f"Consumer group '{group}' has no active members." in out
    rows = {int(r["PARTITION"]): r for r in table(out, "GROUP")}
    assert sorted(rows) == [0, 1]  # only committed partitions once nobody owns any
    assert (rows[0]["CURRENT-OFFSET"], rows[0]["LAG"], rows[0]["CONSUMER-ID"]) == ("4", "6", "-")


def test_describe_missing_group_fails_cleanly(bootstrap: str) -> None:
    err = fails(groups(bootstrap, "describe", "no-such-group"))
    assert "Consumer group 'no-such-group' does not exist." in err


def test_delete(bootstrap: str) -> None:
    topic, group = "deleted", "g-deleted"
    create_topic(bootstrap, topic, partitions=1, records_per_partition=3)
    with member(bootstrap, group, topic) as c:
        commit(c, topic, {0: 2})
        wait_state(bootstrap, group, "Stable")
        err = fails(groups(bootstrap, "delete", group))
        assert f"group '{group}' could not be deleted: NON_EMPTY_GROUP" in err
    wait_state(bootstrap, group, "Empty")
    err = fails(groups(bootstrap, "delete", group, "never-existed"))
    # the other group is still deleted; the missing one is named with Kafka's error
    assert "group 'never-existed' could not be deleted: GROUP_ID_NOT_FOUND" in err
    assert group not in listed(bootstrap)
    assert committed(bootstrap, group, topic, 1) == {0: -1001}  # librdkafka's "no offset"
    fails(groups(bootstrap, "describe", group))


def test_reset_offsets(bootstrap: str) -> None:
    topic, group = "reset", "g-reset"
    create_topic(bootstrap, topic, partitions=2, records_per_partition=10)
    with member(bootstrap, group, topic) as c:
        commit(c, topic, {0: 7, 1: 3})
        wait_state(bootstrap, group, "Stable")
        err = fails(
            groups(
                bootstrap,
                "reset-offsets",
                "--group",
                group,
                "--all-topics",
                "--to-earliest",
                "--execute",
            )
        )
        assert (
            f"Assignments can only be reset if the group '{group}' is inactive, "
            "but the current state is Stable." in err
        )
    wait_state(bootstrap, group, "Empty")

    def reset(*args: str) -> dict[int, int]:
        proc = groups(bootstrap, "reset-offsets", "--group", group, *args)
        new = {int(r["PARTITION"]): int(r["NEW-OFFSET"]) for r in table(ok(proc), "GROUP")}
        notes.append(f"{args} -> {new}; stderr: {proc.stderr.strip()}")
        return new

    notes: list[str] = []

    # dry run (the default) shows, changes nothing
    assert reset("--all-topics", "--to-earliest") == {0: 0, 1: 0}
    assert committed(bootstrap, group, topic, 2) == {0: 7, 1: 3}

    assert reset("--all-topics", "--to-earliest", "--execute") == {0: 0, 1: 0}
    assert committed(bootstrap, group, topic, 2) == {0: 0, 1: 0}
    assert reset("--topic", topic, "--to-latest", "--execute") == {0: 10, 1: 10}
    assert committed(bootstrap, group, topic, 2) == {0: 10, 1: 10}
    assert reset("--topic", f"{topic}:1", "--shift-by", "-4", "--execute") == {1: 6}, notes
    # clamped into [log start, log end]
    assert reset("--topic", f"{topic}:0", "--to-offset", "99", "--execute") == {0: 10}
    assert reset("--topic", f"{topic}:1", "--shift-by", "-50", "--execute") == {1: 0}
    assert committed(bootstrap, group, topic, 2) == {0: 10, 1: 0}
    # by time: record i is at BASE + i * STEP; a time between records picks the next one,
    # a time after every record the log end
    moment = BASE_TIMESTAMP_MS + 5 * TIMESTAMP_STEP_MS - 1
    iso = datetime.fromtimestamp(moment / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")
    assert reset("--all-topics", "--to-datetime", iso, "--execute") == {0: 5, 1: 5}
    late = datetime.fromtimestamp(BASE_TIMESTAMP_MS / 1000 + 3600, tz=timezone.utc).isoformat()
    assert reset("--topic", f"{topic}:1", "--to-datetime", late) == {1: 10}
    assert reset("--topic", f"{topic}:0", "--to-offset", "2", "--execute") == {0: 2}

    # a real consumer of the group resumes where the reset put it
    assert first_offsets_consumed(bootstrap, group, topic, 2) == {0: 2, 1: 5}


def test_reset_offsets_bad_input(bootstrap: str) -> None:
    err = fails(
        groups(
            bootstrap, "reset-offsets", "--group", "g-none", "--topic", "absent", "--to-earliest"
        )
    )
    assert "UNKNOWN_TOPIC_OR_PARTITION" in err and "absent" in err
    create_topic(bootstrap, "one-partition", partitions=1, records_per_partition=1)
    err = fails(
        groups(
            bootstrap,
            "reset-offsets",
            "--group",
            "g-none",
            "--topic",
            "one-partition:3",
            "--to-earliest",
        )
    )
    assert "Topic 'one-partition' has no partition 3." in err
    # shifting needs a committed offset to shift from
    err = fails(
        groups(
            bootstrap,
            "reset-offsets",
            "--group",
            "g-none",
            "--topic",
            "one-partition",
            "--shift-by",
            "1",
        )
    )
    assert "no committed offset" in err


def test_usage_errors_exit_2() -> None:
    # No broker needed: usage is checked before connecting.
    base = ["reset-offsets", "--group", "g"]
    for args in (
        [*base, "--to-earliest"],  # neither --topic nor --all-topics
        [*base, "--all-topics", "--topic", "t", "--to-earliest"],
        [*base, "--all-topics"],  # no strategy
        [*base, "--all-topics", "--to-earliest", "--to-latest"],
        [*base, "--all-topics", "--to-datetime", "yesterday"],
        [*base, "--topic", "t:x", "--to-earliest"],
        [*base, "--all-topics", "--to-earliest", "--execute", "--dry-run"],
        ["describe"],
        ["delete"],
    ):
        proc = groups("127.0.0.1:9", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_reset_offsets_of_a_new_group_creates_it(bootstrap: str) -> None:
    """A group the coordinator does not know may be given offsets (Kafka's tool allows it): the
    admin commit creates it, and librdkafka reads the offsets back."""
    topic, group = "fresh", "g-fresh"
    create_topic(bootstrap, topic, partitions=2, records_per_partition=4)
    out = ok(groups(bootstrap, "reset-offsets", "--group", group, "--topic", topic,
                    "--to-offset", "3", "--execute"))  # fmt: skip
    assert {int(r["PARTITION"]): r["NEW-OFFSET"] for r in table(out, "GROUP")} == {0: "3", 1: "3"}
    assert committed(bootstrap, group, topic, 2) == {0: 3, 1: 3}
    assert listed(bootstrap)[group]["STATE"] == "Empty"
    # several groups: each that exists is shown, the missing one fails the command at the end
    proc = groups(bootstrap, "describe", "g-fresh-missing", group)
    assert "Consumer group 'g-fresh-missing' does not exist." in fails(proc)
    assert f"Group '{group}' (classic, protocol -/-) is Empty with 0 member(s)." in proc.stdout
    assert [r["CURRENT-OFFSET"] for r in table(proc.stdout, "GROUP")] == ["3", "3"]


CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
# The Java consumer writes ConsumerProtocolAssignment at its newest version.
JAVA_ASSIGNMENT_VERSION = "3"
JAVA_CONSUMER_LIFETIME_S = 120


def test_describe_decodes_a_java_consumers_assignment(bootstrap: str, tmp_path: Path) -> None:
    """Kafka's console consumer (the Java consumer, classic protocol) as the member: its
    assignment bytes are a newer ConsumerProtocol version than librdkafka's."""
    topic, group = "java-member", "g-java-member"
    create_topic(bootstrap, topic, partitions=2, records_per_partition=3)
    log4j = tmp_path / "log4j2.properties"
    write_log4j2_config(log4j, log_file=None, level="error")
    command = [
        ks.java_executable(),
        *TOOL_JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        ks.kafka_classpath(),
        CONSOLE_CONSUMER,
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--from-beginning",
        "--timeout-ms",
        str(JAVA_CONSUMER_LIFETIME_S * 1000),
    ]
    java = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path
    )
    try:
        wait_state(bootstrap, group, "Stable")
        deadline = time.monotonic() + STATE_WAIT_S
        while True:  # the member table appears once the assignment is synced
            out = ok(groups(bootstrap, "describe", group))
            members = table(out, "CONSUMER-ID") if "\nCONSUMER-ID" in out else []
            if members and members[0]["#PARTITIONS"] == "2":
                break
            assert time.monotonic() < deadline, out
            time.sleep(0.5)
        [m] = members
        assert m["CLIENT-ID"].startswith("console-consumer")
        assert m["ASSIGNMENT"] == f"{topic}:0/1"
        assert m["ASSIGNMENT-VERSION"] == JAVA_ASSIGNMENT_VERSION
    finally:
        java.terminate()
        try:
            java.wait(timeout=30)
        except subprocess.TimeoutExpired:
            java.kill()
            java.wait(timeout=30)


def test_an_empty_consumer_group_taken_over_by_a_classic_member(bootstrap: str) -> None:
    """A KIP-848 group whose members left, joined by a classic (JoinGroup) member: Kafka turns
    it into a classic group that resumes from the committed offsets (the default
    group.consumer.migration.policy=bidirectional); `groups list` shows the type change."""
    topic, group = "migrated", "g-migrated"
    create_topic(bootstrap, topic, partitions=1, records_per_partition=5)
    with member(bootstrap, group, topic, "consumer") as c:
        commit(c, topic, {0: 2})
    wait_state(bootstrap, group, "Empty")
    assert listed(bootstrap)[group]["TYPE"] == "consumer"
    assert first_offsets_consumed(bootstrap, group, topic, 1, "classic") == {0: 2}
    assert listed(bootstrap)[group]["TYPE"] == "classic"
