"""Kafka's checkpoint, meta.properties and clean-shutdown files: exact bytes written, round
trips, Kafka's reading rules, and typed errors naming the file and line. (Files Kafka itself
wrote are read in test_manager.py, next to the broker that writes them.)"""

import base64
import re
from pathlib import Path

import pytest

from ferrokafka.storage import FerrokafkaError
from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.checkpoints import (
    CheckpointError,
    EpochEntry,
    MetaProperties,
    TopicPartition,
)

# meta.properties and the marker exactly as Apache Kafka 4.3.1 wrote them (kafka-storage format
# --standalone, then a clean broker stop).
KAFKA_META_PROPERTIES = (
    b"#\n#Sat Nov 21 13:35:28 UTC 2026\nnode.id=1\ndirectory.id=CNwXT_KPRNmt0TNtlwOjcQ\n"
    b"version=1\ncluster.id=VwruvdZ7SLeUKeFkWTtAjA\n"
)
KAFKA_MARKER = b'{"version":0,"brokerEpoch":13}'
JAVA_DATE = re.compile(r"#[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d [A-Z]+ \d{4}")


def test_offset_checkpoint_exact_bytes_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / ckpt.RECOVERY_POINT_CHECKPOINT
    offsets = {("my.topic-with-dash", 1): 25, ("my.topic-with-dash", 0): 7, ("a", 10): 0}
    ckpt.write_offset_checkpoint(path, offsets)
    assert path.read_bytes() == b"0\n3\na 10 0\nmy.topic-with-dash 0 7\nmy.topic-with-dash 1 25\n"
    assert ckpt.read_offset_checkpoint(path) == offsets
    assert list(tmp_path.iterdir()) == [path]  # no .tmp left behind


def test_offset_checkpoint_empty_forms(tmp_path: Path) -> None:
    assert ckpt.read_offset_checkpoint(tmp_path / "missing") == {}
    (tmp_path / "empty").write_bytes(b"")  # Kafka creates cleaner-offset-checkpoint so
    assert ckpt.read_offset_checkpoint(tmp_path / "empty") == {}
    ckpt.write_offset_checkpoint(tmp_path / "none", {})
    assert (tmp_path / "none").read_bytes() == b"0\n0\n"
    assert ckpt.read_offset_checkpoint(tmp_path / "none") == {}


def test_reader_follows_java_line_and_field_rules(tmp_path: Path) -> None:
    path = tmp_path / "c"
    path.write_bytes(b"0\r\n2\r\nt  0\t5\nt 1 -1")  # CRLF, runs of whitespace, no final newline
    assert ckpt.read_offset_checkpoint(path) == {("t", 0): 5, ("t", 1): -1}
    path.write_bytes(b"0\n2\nt 0 5\nt 0 9\n")  # a repeated partition: the last one wins
    assert ckpt.read_offset_checkpoint(path) == {("t", 0): 9}


@pytest.mark.parametrize(
    ("content", "line_number", "message"),
    [
        (b"1\n0\n", 1, "unrecognised version 1"),
        (b"x\n0\n", 1, "malformed line 'x'"),
        (b"0\n", 2, "missing the entry count"),
        (b"0\n-1\n", 2, "malformed line"),
        (b"0\n1\nt 0\n", 3, "malformed line 't 0'"),
        (b"0\n1\nt zero 5\n", 3, "malformed line"),
        (b"0\n1\nt 0 5 6\n", 3, "malformed line"),
        (b"0\n1\nt 0 99999999999999999999\n", 3, "malformed line"),
        (b"0\n2\nt 0 1\n\n", 4, "malformed line ''"),
        (b"0\n2\nt 0 1\n", None, "expected 2 entries but found 1"),
        (b"0\n1\nt 0 1\nt 1 2\n", None, "expected 1 entries but found 2"),
        (b"0\n1\n\xff 0 1\n", None, "not UTF-8"),
    ],
)
def test_malformed_checkpoints_name_file_and_line(
    tmp_path: Path, content: bytes, line_number: int | None, message: str
) -> None:
    path = tmp_path / ckpt.LOG_START_OFFSET_CHECKPOINT
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(message)) as info:
        ckpt.read_offset_checkpoint(path)
    assert info.value.path == str(path) and info.value.line_number == line_number
    assert str(path) in str(info.value)
    if line_number is not None:
        assert f"line {line_number}" in str(info.value)
    assert isinstance(info.value, FerrokafkaError)


def test_topic_names_that_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ckpt.write_offset_checkpoint(tmp_path / "c", {("a b", 0): 1})


def test_leader_epoch_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / ckpt.LEADER_EPOCH_CHECKPOINT
    ckpt.write_leader_epoch_checkpoint(path, [(0, 0), (3, 120), (4, 500)])
    assert path.read_bytes() == b"0\n3\n0 0\n3 120\n4 500\n"
    assert ckpt.read_leader_epoch_checkpoint(path) == [
        EpochEntry(0, 0),
        EpochEntry(3, 120),
        EpochEntry(4, 500),
    ]
    path.write_bytes(b"0\n1\n0 0\n")  # as Kafka wrote it for a fresh single-node partition
    assert ckpt.read_leader_epoch_checkpoint(path) == [EpochEntry(0, 0)]
    path.write_bytes(b"0\n1\n0 0 0\n")
    with pytest.raises(CheckpointError, match="line 3"):
        ckpt.read_leader_epoch_checkpoint(path)


def test_reads_kafka_meta_properties(tmp_path: Path) -> None:
    path = tmp_path / ckpt.META_PROPERTIES
    path.write_bytes(KAFKA_META_PROPERTIES)
    assert ckpt.read_meta_properties(path) == MetaProperties(
        cluster_id="VwruvdZ7SLeUKeFkWTtAjA", node_id=1, directory_id="CNwXT_KPRNmt0TNtlwOjcQ"
    )
    assert ckpt.read_meta_properties(tmp_path / "missing") is None


def test_writes_meta_properties_as_kafka_does(tmp_path: Path) -> None:
    path = tmp_path / ckpt.META_PROPERTIES
    meta = MetaProperties("VwruvdZ7SLeUKeFkWTtAjA", 1, "CNwXT_KPRNmt0TNtlwOjcQ")
    ckpt.write_meta_properties(path, meta)
    ours, kafkas = path.read_bytes().split(b"\n"), KAFKA_META_PROPERTIES.split(b"\n")
    # Same shape line by line: the empty comment, the Java date, then the same key=value lines.
    assert ours[0] == kafkas[0] == b"#"
    assert JAVA_DATE.fullmatch(ours[1].decode()) and JAVA_DATE.fullmatch(kafkas[1].decode())
    assert ours[2:] == kafkas[2:]
    assert ckpt.read_meta_properties(path) == meta


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"version=1\nnode.id=1\n", "missing cluster.id"),
        (b"version=2\ncluster.id=x\nnode.id=1\n", "unsupported version 2"),
        (b"version=1\ncluster.id=x\nnode.id=one\n", "node.id='one' is not an integer"),
        (b"version=1\ncluster.id=x\\\n  y\nnode.id=1\n", "line 2: escapes are not supported"),
    ],
)
def test_malformed_meta_properties(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / ckpt.META_PROPERTIES
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        ckpt.read_meta_properties(path)


def test_meta_properties_version_0_and_java_syntax(tmp_path: Path) -> None:
    path = tmp_path / ckpt.META_PROPERTIES
    path.write_bytes(b"! a comment\n  version = 0\ncluster.id:abc\nbroker.id=3\n")
    assert ckpt.read_meta_properties(path) == MetaProperties("abc", 3, None, version=0)


def test_random_directory_ids_are_kafka_uuids() -> None:
    ids = {ckpt.random_directory_id() for _ in range(200)}
    assert len(ids) == 200
    for text in ids:
        assert len(text) == 22 and not text.startswith("-")
        assert len(base64.urlsafe_b64decode(text + "==")) == 16


def test_clean_shutdown_marker(tmp_path: Path) -> None:
    assert ckpt.read_clean_shutdown_marker(tmp_path) is None
    ckpt.write_clean_shutdown_marker(tmp_path, 13)
    assert (tmp_path / ckpt.CLEAN_SHUTDOWN_FILE).read_bytes() == KAFKA_MARKER
    assert ckpt.read_clean_shutdown_marker(tmp_path) == 13
    # Kafka counts the file's existence; an unreadable epoch is -1.
    (tmp_path / ckpt.CLEAN_SHUTDOWN_FILE).write_bytes(b"garbage")
    assert ckpt.read_clean_shutdown_marker(tmp_path) == -1
    ckpt.remove_clean_shutdown_marker(tmp_path)
    ckpt.remove_clean_shutdown_marker(tmp_path)  # already gone: fine
    assert ckpt.read_clean_shutdown_marker(tmp_path) is None


def test_topic_partition_prints_as_its_directory_name() -> None:
    assert str(TopicPartition("a.b-c", 4)) == "a.b-c-4"


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old content that is longer")
    (tmp_path / "f.tmp").write_bytes(b"leftover of a crash")
    ckpt.atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
