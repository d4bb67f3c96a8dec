"""`ferrokafka storage format` against Apache Kafka 4.4's kafka-storage, on the same configs.

- Both tools format the same config: the same meta.properties keys and values (directory ids
  aside, which are random), and bootstrap snapshots that decode to the same records, with our
  reader and with Kafka's DumpLogSegments (``--cluster-metadata-decoder``).
- Kafka's ``kafka-storage info`` accepts what we formatted and prints what ours prints.
- A real Kafka broker starts on directories we formatted; ``ferrokafka serve --config`` starts
  on directories Kafka formatted; each serves confluent-kafka (create, produce, consume).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_support as ks
from ferrokafka.cluster.snapshot_file import BOOTSTRAP_SNAPSHOT_ID, Snapshot, read_snapshot
from ferrokafka.storage.checkpoints import kafka_uuid_string, read_meta_properties
from ferrokafka_cli.main import cli
from kafka_support.broker import STORAGE_TOOL_CLASS, free_loopback_port
from kafka_support.jars import dump_log_segments_class

REPO = Path(__file__).resolve().parents[2]
SERVE = [sys.executable, "-c", "from ferrokafka_cli.main import main; main()", "serve"]
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qk"
DYNAMIC = "controller.quorum.bootstrap.servers=127.0.0.1:{controller}"
STATIC = "controller.quorum.voters=1@127.0.0.1:{controller}"
SNAPSHOT = Path("__cluster_metadata-0") / BOOTSTRAP_SNAPSHOT_ID.file_name
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_S = 30.0
RECORDS = 20

pytestmark = pytest.mark.kafka


def write_config(
    root: Path, quorum: str, *, port: int = 9092, controller: int = 9093, single_dir: bool = False
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    dirs = (
        f"log.dirs={root / 'data'}\n"
        if single_dir
        else (f"log.dirs={root / 'd1'},{root / 'd2'}\nmetadata.log.dir={root / 'meta'}\n")
    )
    path = root / "server.properties"
    path.write_text(
        "process.roles=broker,controller\n"
        "node.id=1\n"
        f"{quorum.format(controller=controller)}\n"
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n"
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n"
        "controller.listener.names=CONTROLLER\n"
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
        "offsets.topic.replication.factor=1\n"
        "transaction.state.log.replication.factor=1\n"
        "transaction.state.log.min.isr=1\n"
        f"{dirs}"
    )
    return path


def kafka_storage(work_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return ks.run_kafka_tool(STORAGE_TOOL_CLASS, list(args), work_dir=work_dir)


def our_storage(*args: str) -> str:
    result = CliRunner().invoke(cli, ["storage", *args])
    assert result.exit_code == 0, result.output
    return result.output


def dump(work_dir: Path, files: list[Path]) -> dict[str, list[str]]:
    """Kafka's DumpLogSegments --cluster-metadata-decoder of ``files``, per file, with what
    differs from one format to the next (times, CRCs, random directory ids) blanked."""
    result = ks.run_kafka_tool(
        dump_log_segments_class(ks.kafka_classpath()),
        ["--cluster-metadata-decoder", "--files", ",".join(map(str, files))],
        work_dir=work_dir,
    )
    assert "Exception" not in result.stderr, result.stderr
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in result.stdout.splitlines():
        if line.startswith("Dumping "):
            current = sections.setdefault(line.removeprefix("Dumping "), [])
            continue
        line = re.sub(r"CreateTime: \d+", "CreateTime: T", line)
        line = re.sub(r"crc: \d+", "crc: C", line)
        line = re.sub(r'"lastContainedLogTimestamp":\d+', '"lastContainedLogTimestamp":T', line)
        line = re.sub(r'"voterDirectoryId":"[^"]+"', '"voterDirectoryId":D', line)
        current.append(line)
    assert len(sections) == len(files), result.stdout
    return sections


def without_directory_ids(snapshot: Snapshot) -> tuple[object, ...]:
    voters = None
    if snapshot.voters is not None:
        voters = [
            (v.voter_id, [(e.name, e.host, e.port) for e in v.endpoints], v.k_raft_version_feature)
            for v in snapshot.voters.voters
        ]
    return (snapshot.kraft_version, voters, snapshot.records)


FORMATS = {
    "standalone": (DYNAMIC, ["--standalone"]),
    "initial-controllers": (
        DYNAMIC,
        [
            "--initial-controllers",
            "1@127.0.0.1:9093:MvDxzVmcRsaTz33bUuRU6A,2@h2:9094:jyUakS24TDWvo2MOs588CQ",
        ],
    ),
    "non-voter": (DYNAMIC, ["-I", "2@127.0.0.1:9094:MvDxzVmcRsaTz33bUuRU6A"]),
    "no-initial-controllers-3.9": (
        DYNAMIC,
        [
            "--no-initial-controllers",
            "--release-version",
            "3.9",
            "--feature",
            "transaction.version=2",
        ],
    ),
    "static-voters": (STATIC, ["--feature", "group.version=0"]),
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_format_matches_kafka(tmp_path: Path, kafka_tool_dir: Path, name: str) -> None:
    quorum, flags = FORMATS[name]
    theirs, ours = tmp_path / "kafka", tmp_path / "ours"
    kafka_out = kafka_storage(
        kafka_tool_dir, "format", "-t", CLUSTER_ID, "-c", str(write_config(theirs, quorum)), *flags
    ).stdout
    our_out = our_storage("format", "-t", CLUSTER_ID, "-c", str(write_config(ours, quorum)), *flags)
    # The same kind for each directory, the same metadata.version (Kafka's order is a
    # HashMap's; ours is sorted).
    progress = re.compile(r"Formatting (.*) \S+/(\w+) with metadata.version (\S+)\.")
    assert sorted(progress.findall(our_out)) == sorted(progress.findall(kafka_out)), (
        our_out,
        kafka_out,
    )

    for directory in ("d1", "d2", "meta"):
        kafka_text = (theirs / directory / "meta.properties").read_text()
        our_text = (ours / directory / "meta.properties").read_text()
        keys = re.compile(r"^([a-z.]+)=(.*)$", re.M)
        kafka_props, our_props = dict(keys.findall(kafka_text)), dict(keys.findall(our_text))
        assert list(our_props) == list(kafka_props)  # same keys, in the same order
        assert {k: v for k, v in our_props.items() if k != "directory.id"} == {
            k: v for k, v in kafka_props.items() if k != "directory.id"
        }
        assert our_text.splitlines()[0] == "#" and our_text.splitlines()[1].startswith("#")
    # Only the metadata directory holds the bootstrap snapshot; Kafka 4.4 writes no
    # bootstrap.checkpoint.
    for root in (theirs, ours):
        assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
            "d1/meta.properties",
            "d2/meta.properties",
            f"meta/{SNAPSHOT.as_posix()}",
            "meta/meta.properties",
            "server.properties",
        ]
    kafka_snapshot, our_snapshot = (
        read_snapshot(theirs / "meta" / SNAPSHOT),
        read_snapshot(ours / "meta" / SNAPSHOT),
    )
    assert without_directory_ids(our_snapshot) == without_directory_ids(kafka_snapshot)
    if name == "standalone":  # the voter's directory id is the metadata directory's id
        meta = read_meta_properties(ours / "meta" / "meta.properties")
        assert our_snapshot.voters is not None and meta is not None
        assert (
            kafka_uuid_string(our_snapshot.voters.voters[0].voter_directory_id) == meta.directory_id
        )
    if name == "initial-controllers":
        assert our_snapshot.voters == kafka_snapshot.voters
    # Kafka's own decoder reads both files to the same records, batch by batch.
    dumped = dump(kafka_tool_dir, [theirs / "meta" / SNAPSHOT, ours / "meta" / SNAPSHOT])
    kafka_lines, our_lines = dumped.values()
    assert our_lines == kafka_lines
    assert all("isvalid: true" in line for line in our_lines if line.startswith("baseOffset"))

    # Kafka's info accepts what we formatted, and both tools describe it alike.
    our_config = ours / "server.properties"
    kafka_info = kafka_storage(kafka_tool_dir, "info", "-c", str(our_config)).stdout
    assert kafka_info == our_storage("info", "-c", str(our_config))
    assert "Found metadata: {cluster.id=MkU3OEVBNTcwNTJENDM2Qk, directory.id=" in kafka_info


def test_kafka_refuses_what_we_refuse(tmp_path: Path, kafka_tool_dir: Path) -> None:
    """The same already-formatted message from both tools."""
    config = write_config(tmp_path, DYNAMIC)
    our_storage("format", "-t", CLUSTER_ID, "-c", str(config), "--standalone")
    with pytest.raises(ks.KafkaToolError) as kafka_error:
        kafka_storage(kafka_tool_dir, "format", "-t", CLUSTER_ID, "-c", str(config), "-s")
    ours = CliRunner().invoke(cli, ["storage", "format", "-t", CLUSTER_ID, "-c", str(config), "-s"])
    assert ours.exit_code == 1

    # Kafka names the first directory of a HashMap; we name the first in sorted order.
    def message(text: str) -> str:
        return re.sub(r"Log directory \S+ is", "Log directory DIR is", text)

    assert message(ours.output.strip()) in message(str(kafka_error.value))


class _OurFormattedKafka(ks.KafkaBroker):
    """Apache Kafka started on directories `ferrokafka storage format --standalone` made."""

    def _format_storage(self) -> None:
        our_storage("format", "-t", self.cluster_id, "-c", str(self.config_file), "--standalone")


def produce_and_consume(bootstrap: str, topic: str) -> list[bytes]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    futures[topic].result(timeout=CLIENT_TIMEOUT_S)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(RECORDS):
        producer.produce(topic, key=b"k", value=f"v{i}".encode())
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "storage-test", "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        got: list[bytes] = []
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while len(got) < RECORDS and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                got.append(message.value())
        return got
    finally:
        consumer.close()


def test_kafka_broker_starts_on_our_format(tmp_path: Path, kafka_classpath: str) -> None:
    broker = _OurFormattedKafka(tmp_path / "kafka")
    broker.start()
    try:
        got = produce_and_consume(broker.bootstrap_servers, "formatted-by-ferrokafka")
        assert got == [f"v{i}".encode() for i in range(RECORDS)]
        cluster_id = (
            AdminClient(broker.client_config()).list_topics(timeout=CLIENT_TIMEOUT_S).cluster_id
        )
        assert cluster_id == broker.cluster_id
    finally:
        broker.stop()


def first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT_S)
    assert line and line[0], "serve printed nothing"
    return line[0]


@pytest.fixture
def kafka_formatted(tmp_path: Path, kafka_tool_dir: Path) -> Iterator[Path]:
    port, controller = free_loopback_port(), free_loopback_port()
    config = write_config(tmp_path, DYNAMIC, port=port, controller=controller, single_dir=True)
    kafka_storage(kafka_tool_dir, "format", "-t", CLUSTER_ID, "-c", str(config), "--standalone")
    yield config
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


def test_serve_starts_on_kafka_format(kafka_formatted: Path) -> None:
    proc = subprocess.Popen(
        [*SERVE, "--config", str(kafka_formatted)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = first_line(proc)
        match = re.search(r"listening on PLAINTEXT://([0-9.]+:\d+)", line)
        assert match, line
        bootstrap = match.group(1)
        got = produce_and_consume(bootstrap, "formatted-by-kafka")
        assert got == [f"v{i}".encode() for i in range(RECORDS)]
        metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(
            timeout=CLIENT_TIMEOUT_S
        )
        assert metadata.cluster_id == CLUSTER_ID  # the id Kafka's tool wrote
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=STOP_TIMEOUT_S)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=STOP_TIMEOUT_S)
