"""`ferrokafka dump-log` on the files beside a segment — .index, .timeindex, the producer
.snapshot — and on the checkpoint files of a log directory, written by a ferrokafka broker and
by an Apache Kafka 4.4.0 broker (both stopped cleanly first, so every file is final). For the
index and snapshot files the lines must be the ones Kafka's own DumpLogSegments prints; the
checkpoint files (which Kafka's tool skips) are checked against their text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka import Producer
from data_broker import data_broker

import kafka_support as ks
from ferrokafka_cli.main import cli
from kafka_support.jars import dump_log_segments_class

TOPIC = "dumped"
# Small index intervals: every batch gets an offset and a time index entry.
TOPIC_CONFIGS = {"index.interval.bytes": "1"}
BATCHES = 12
RECORDS_PER_BATCH = 3
CLIENT_TIMEOUT_S = 30.0
BASE_TIMESTAMP_MS = 1_700_000_000_000
SUFFIXES = (".index", ".timeindex", ".snapshot")
CHECKPOINTS = (
    "recovery-point-offset-checkpoint",
    "replication-offset-checkpoint",
    "log-start-offset-checkpoint",
)


def fill(bootstrap: str) -> None:
    """BATCHES batches from one idempotent producer (so the snapshot has its state)."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0}
    )
    for b in range(BATCHES):
        for r in range(RECORDS_PER_BATCH):
            producer.produce(
                TOPIC, value=b"x" * 100, key=f"{b}-{r}".encode(), partition=0,
                timestamp=BASE_TIMESTAMP_MS + b * 1000 + r,
            )  # fmt: skip
        assert producer.flush(CLIENT_TIMEOUT_S) == 0


def create_topic(bootstrap: str) -> None:
    configs = [a for k, v in TOPIC_CONFIGS.items() for a in ("--config", f"{k}={v}")]
    result = CliRunner().invoke(cli, ["topics", "create", TOPIC, *configs, "-b", bootstrap])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def ferrokafka_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("ferrokafka")
    with data_broker(data) as broker:
        create_topic(broker.bootstrap_servers)
        fill(broker.bootstrap_servers)
    [partition] = data.glob(f"**/{TOPIC}-0")
    return partition.parent


@pytest.fixture(scope="module")
def kafka_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    ks.require_kafka()
    broker = ks.KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        create_topic(broker.bootstrap_servers)
        fill(broker.bootstrap_servers)
    finally:
        broker.stop()
    yield broker.data_dir


@pytest.fixture(params=["ferrokafka", pytest.param("kafka", marks=[pytest.mark.kafka])])
def log_dir(request: pytest.FixtureRequest) -> Path:
    return Path(request.getfixturevalue(f"{request.param}_dir"))


def sections(text: str) -> dict[str, list[str]]:
    """The lines each tool printed after each "Dumping <file>", by file name."""
    out: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("Dumping "):
            current = out.setdefault(Path(line.removeprefix("Dumping ")).name, [])
        else:
            current.append(line)
    return out


def ours(*files: Path) -> dict[str, list[str]]:
    result = CliRunner().invoke(cli, ["dump-log", *map(str, files)])
    assert result.exit_code == 0, result.output
    assert not result.stderr, result.stderr  # no index mismatch, no corrupt snapshot
    return sections(result.stdout)


def kafkas(work_dir: Path, *files: Path) -> dict[str, list[str]]:
    result = ks.run_kafka_tool(
        dump_log_segments_class(ks.kafka_classpath()),
        ["--files", ",".join(map(str, files))],
        work_dir=work_dir,
    )
    assert not result.stderr.strip(), result.stderr
    return sections(result.stdout)


@pytest.mark.kafka
def test_indexes_and_snapshot_as_kafka_prints_them(log_dir: Path, tmp_path: Path) -> None:
    partition = log_dir / f"{TOPIC}-0"
    files = sorted(p for p in partition.iterdir() if p.suffix in SUFFIXES)
    assert {p.suffix for p in files} == set(SUFFIXES), files
    mine = ours(*files)
    assert mine == kafkas(tmp_path, *files)
    [index] = [v for k, v in mine.items() if k.endswith(".index")]
    # index.interval.bytes=1: an entry for every batch after the first (librdkafka decides
    # how the records are batched), with the Kafka-checked mismatch report empty (no stderr)
    assert len(index) >= 2, index
    [snapshot] = [v for k, v in mine.items() if k.endswith(".snapshot")]
    [producer] = snapshot
    last = BATCHES * RECORDS_PER_BATCH - 1
    assert re.search(
        rf"producerEpoch: 0 .* lastSequence: {last} lastOffset: {last} offsetDelta: \d+ ",
        producer,
    ), producer


def test_checkpoint_files(log_dir: Path) -> None:
    end = BATCHES * RECORDS_PER_BATCH
    found = ours(*(log_dir / name for name in CHECKPOINTS))
    assert f"topic: {TOPIC} partition: 0 offset: {end}" in found[CHECKPOINTS[0]]
    assert f"topic: {TOPIC} partition: 0 offset: {end}" in found[CHECKPOINTS[1]]
    for name in CHECKPOINTS:
        version, count, *entries = (log_dir / name).read_text().splitlines()
        expected = sorted((t, int(p), int(o)) for t, p, o in (line.split() for line in entries))
        assert found[name] == [f"version: {version} entries: {count}"] + [
            f"topic: {t} partition: {p} offset: {o}" for t, p, o in expected
        ]
    partition = log_dir / f"{TOPIC}-0"
    found = ours(partition / "leader-epoch-checkpoint", partition / "partition.metadata")
    assert found["leader-epoch-checkpoint"] == ["version: 0 entries: 1", "epoch: 0 startOffset: 0"]
    topic_id = (partition / "partition.metadata").read_text().split("topic_id:")[1].strip()
    assert found["partition.metadata"] == [f"version: 0 topicId: {topic_id}"]


def test_progress_goes_to_stderr_only(log_dir: Path) -> None:
    [segment] = (log_dir / f"{TOPIC}-0").glob("*.log")
    plain = CliRunner().invoke(cli, ["dump-log", str(segment)])
    shown = CliRunner().invoke(cli, ["dump-log", "--progress", str(segment)])
    assert plain.exit_code == shown.exit_code == 0
    assert plain.stdout == shown.stdout
    assert not plain.stderr
    size = segment.stat().st_size
    assert shown.stderr.endswith(f"{segment}: {size}/{size} bytes (100%)\n")
