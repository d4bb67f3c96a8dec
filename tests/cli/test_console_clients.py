"""The client-side commands as a user runs them — produce, consume, status, groups
reset-offsets, -b / FERROKAFKA_BROKERS — against ferrokafka and against Apache Kafka 4.4.0
(auto.create.topics.enable on in both). What the tools print is checked against clients we did
not write: confluent-kafka (librdkafka) writes the records and reads back committed offsets and
cluster ids, and kcat formats the same records with the same -f format string.

The commands run in-process through click's CliRunner (a subprocess per command would cost a
Python start each); the brokers run in their own thread (ferrokafka) or JVM (Kafka).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from data_broker import data_broker

import kafka_support as ks
from ferrokafka_cli.bootstrap import ENV_BROKERS
from ferrokafka_cli.main import cli

KAFKA_MARKS = [pytest.mark.kafka, pytest.mark.slow]
CLIENT_TIMEOUT_S = 30.0
KCAT_TIMEOUT_S = 60.0
# Record i of the fixture topic: key k<i>, value v<i>, header h=<i>, at BASE + i * STEP ms.
RECORDS = 6
BASE_TIMESTAMP_MS = 1_700_000_000_000
STEP_MS = 1000
FORMAT = "%t|%p|%o|%k|%v|%T|%h|%s|%K|%S\\n"


@pytest.fixture(scope="module")
def ferrokafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with data_broker(tmp_path_factory.mktemp("ferrokafka")) as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ks.require_kafka()
    broker = ks.KafkaBroker(
        tmp_path_factory.mktemp("kafka"), broker_config={"auto.create.topics.enable": "true"}
    )
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="module", params=["ferrokafka", pytest.param("kafka", marks=KAFKA_MARKS)])
def bootstrap(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_bootstrap"))


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, env=env, catch_exceptions=False)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def fails(result: Result) -> str:
    """A clean failure: exit code 1 and one `Error: ...` line on stderr."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def fill(bootstrap: str, topic: str) -> None:
    """RECORDS keyed records with a header and known timestamps, on partition 0 of a new topic."""
    ok(run("topics", "create", topic, "--partitions", "2", "-b", bootstrap))
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(RECORDS):
        producer.produce(
            topic,
            value=f"v{i}".encode(),
            key=f"k{i}".encode(),
            partition=0,
            headers=[("h", str(i).encode())],
            timestamp=BASE_TIMESTAMP_MS + i * STEP_MS,
        )
    assert producer.flush(CLIENT_TIMEOUT_S) == 0


def committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        [tp] = consumer.committed([TopicPartition(topic, 0)], timeout=CLIENT_TIMEOUT_S)
        return int(tp.offset)
    finally:
        consumer.close()


def consume(bootstrap: str, topic: str, *args: str) -> list[dict[str, object]]:
    out = ok(run("consume", topic, "--partition", "0", "-e", "--json", "-b", bootstrap, *args))
    return [json.loads(line) for line in out.splitlines()]


def test_produce_auto_creates_the_topic(bootstrap: str) -> None:
    ok(run("produce", "auto-made", "--key-separator", ":", "-b", bootstrap, stdin="a:1\nb:2\n"))
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=CLIENT_TIMEOUT_S)
    assert "auto-made" in metadata.topics
    records = consume(bootstrap, "auto-made", "-o", "beginning")
    assert [(r["key"], r["value"]) for r in records] == [("a", "1"), ("b", "2")]


def test_consume_a_missing_topic_fails_at_once(bootstrap: str) -> None:
    # With --timeout 600 the old wait-and-retry would outlast the test's own timeout.
    err = fails(run("consume", "never-made", "-e", "--timeout", "600", "-b", bootstrap))
    assert "Topic 'never-made' does not exist." in err


def test_consume_format_matches_kcat(bootstrap: str) -> None:
    fill(bootstrap, "formats")
    ours = ok(run("consume", "formats", "-o", "beginning", "-e", "-f", FORMAT, "-b", bootstrap))
    expected = "".join(
        f"formats|0|{i}|k{i}|v{i}|{BASE_TIMESTAMP_MS + i * STEP_MS}|h={i}|v{i}|2|2\n"
        for i in range(RECORDS)
    )
    assert ours == expected
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat is needed (apt-get install kcat)", pytrace=False)
    theirs = subprocess.run(
        [
            kcat,
            "-b",
            bootstrap,
            "-C",
            "-t",
            "formats",
            "-p",
            "0",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            FORMAT.replace("%v", "%s"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=KCAT_TIMEOUT_S,
        check=True,
    ).stdout
    assert ours == theirs


def test_consume_json_offsets_and_timestamps(bootstrap: str) -> None:
    fill(bootstrap, "positions")
    every = consume(bootstrap, "positions", "-o", "beginning")
    assert [r["offset"] for r in every] == list(range(RECORDS))
    first = every[0]
    assert first == {
        "topic": "positions",
        "partition": 0,
        "offset": 0,
        "timestamp": BASE_TIMESTAMP_MS,
        "timestamp_type": "CreateTime",
        "key": "k0",
        "value": "v0",
        "headers": [["h", "0"]],
    }
    assert [r["offset"] for r in consume(bootstrap, "positions", "-o", "-2")] == [4, 5]
    assert [r["offset"] for r in consume(bootstrap, "positions", "-o", "3")] == [3, 4, 5]
    assert consume(bootstrap, "positions", "-o", "end") == []
    # a time between records 2 and 3 starts at 3, in ms and as ISO-8601 (UTC)
    moment_ms = BASE_TIMESTAMP_MS + 2 * STEP_MS + 1
    iso = datetime.fromtimestamp(moment_ms / 1000, tz=timezone.utc).isoformat()
    for given in (str(moment_ms), iso):
        found = consume(bootstrap, "positions", "--from-timestamp", given)
        assert [r["offset"] for r in found] == [3, 4, 5]
    capped = ok(run("consume", "positions", "-o", "beginning", "--max-messages", "2",
                    "-f", "%o\\n", "-b", bootstrap))  # fmt: skip
    assert capped == "0\n1\n"


def test_consume_group_commits_and_resumes(bootstrap: str) -> None:
    fill(bootstrap, "grouped")
    base = ["consume", "grouped", "-g", "cli-group", "-e", "-f", "%p:%o\\n", "-b", bootstrap]
    # partition 1 is empty: only partition 0's records print
    assert ok(run(*base, "-o", "beginning", "--max-messages", "4")) == "".join(
        f"0:{i}\n" for i in range(4)
    )
    assert committed(bootstrap, "cli-group", "grouped") == 4  # librdkafka reads it back
    assert ok(run(*base, "-o", "beginning")) == "0:4\n0:5\n"  # resumes, --offset ignored
    assert committed(bootstrap, "cli-group", "grouped") == RECORDS
    assert ok(run(*base)) == ""


def test_bootstrap_from_flag_group_and_environment(bootstrap: str) -> None:
    ok(run("topics", "create", "where", "-b", bootstrap))
    assert "where" in ok(run("topics", "list", env={ENV_BROKERS: bootstrap})).split()
    assert "where" in ok(run("topics", "-b", bootstrap, "list")).split()
    # the command's flag wins over the environment; an unreachable one fails cleanly
    bad = {ENV_BROKERS: "127.0.0.1:9"}
    assert "where" in ok(run("topics", "list", "--bootstrap-server", bootstrap, env=bad)).split()
    assert "127.0.0.1:9" in fails(run("topics", "list", "--timeout", "5", env=bad))


def test_message_too_large_names_the_limit(bootstrap: str) -> None:
    create = ["topics", "create", "small", "--config", "max.message.bytes=2000", "-b", bootstrap]
    ok(run(*create))
    err = fails(run("produce", "small", "-b", bootstrap, stdin="x" * 5000 + "\n"))
    assert "MESSAGE_TOO_LARGE" in err
    assert "max.message.bytes=2000 (set on the topic)" in err
    assert "topics alter small --config max.message.bytes=" in err
    err = fails(run("produce", "small", "--max-message-bytes", "1000", "-b", bootstrap,
                    stdin="x" * 5000 + "\n"))  # fmt: skip
    assert "larger than the producer's message.max.bytes (1000)" in err


def test_status(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=CLIENT_TIMEOUT_S)
    ok(run("topics", "create", "status-topic", "--partitions", "3", "-b", bootstrap))
    out = ok(run("status", "-b", bootstrap)).splitlines()
    fields = {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out if line[:1] != " "
    }
    assert fields["Cluster id"] == metadata.cluster_id
    assert fields["Controller"] == "1"
    assert fields["Brokers"] == "1"
    assert fields["Partitions"] == "0 under-replicated, 0 offline"
    topics = [t for t in admin.list_topics(timeout=CLIENT_TIMEOUT_S).topics.values()]
    visible = [t for t in topics if not t.topic.startswith("__")]
    assert fields["Topics"].startswith(
        f"{len(visible)} ({sum(len(t.partitions) for t in visible)} partitions)"
    )
    assert fields["Log dirs"] == "1"
    [log_dir] = [line for line in out if line.startswith("  broker 1  /")]
    assert "partitions, disk " in log_dir


def test_reset_offsets_of_a_missing_group(bootstrap: str) -> None:
    err = fails(run("groups", "reset-offsets", "--group", "cli-no-such-group", "--all-topics",
                    "--to-earliest", "--execute", "-b", bootstrap))  # fmt: skip
    assert "GROUP_ID_NOT_FOUND: Group 'cli-no-such-group' not found" in err


def test_produce_without_auto_create(tmp_path_factory: pytest.TempPathFactory) -> None:
    overrides = {"auto.create.topics.enable": False}
    with data_broker(tmp_path_factory.mktemp("no-auto"), overrides) as broker:
        err = fails(run("produce", "nope", "-b", broker.bootstrap_servers, stdin="a\n"))
    assert "auto.create.topics.enable=false" in err
    assert "`ferrokafka topics create nope`" in err


def test_reset_offsets_progress(bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import ferrokafka_cli.groups as groups_module

    monkeypatch.setattr(groups_module, "COMMIT_CHUNK_PARTITIONS", 1)
    ok(run("topics", "create", "many", "--partitions", "3", "-b", bootstrap))
    result = run("groups", "reset-offsets", "--group", "cli-progress", "--topic", "many",
                 "--to-earliest", "--execute", "-b", bootstrap)  # fmt: skip
    ok(result)
    progress = [line for line in result.stderr.splitlines() if line.startswith("Committed")]
    assert progress == [f"Committed {n}/3 offsets of group 'cli-progress'" for n in (1, 2, 3)]
    assert "Group 'cli-progress' did not exist: it was created with these offsets." in (
        result.stderr
    )
    assert committed(bootstrap, "cli-progress", "many") == 0
