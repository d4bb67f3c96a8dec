"""Kafka's quorum-state file: the exact JSON, both versions read, atomic replace, corrupt files
refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferrokafka.cluster.raft.election import ElectionState
from ferrokafka.cluster.raft.quorum_state import (
    QuorumStateError,
    QuorumStateFile,
    kafka_uuid,
    parse_kafka_uuid,
)


def test_writes_kafkas_version_0_json(tmp_path: Path) -> None:
    store = QuorumStateFile(tmp_path)
    assert store.read() is None
    store.write(ElectionState(2, 1, 1, frozenset({3, 1, 2})))
    assert store.path.read_text() == (
        '{"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":1,"appliedOffset":0,'
        '"currentVoters":[{"voterId":1},{"voterId":2},{"voterId":3}],"data_version":0}'
    )
    assert store.read() == ElectionState(2, 1, 1, frozenset({1, 2, 3}))
    store.write(ElectionState(3, None, 2, frozenset({1, 2, 3})))
    assert store.read() == ElectionState(3, None, 2, frozenset({1, 2, 3}))
    assert not (tmp_path / "quorum-state.tmp").exists()


def test_reads_kafkas_version_1(tmp_path: Path) -> None:
    # FileQuorumStateStore's own example of version 1.
    (tmp_path / "quorum-state").write_text(
        '{"leaderId":-1,"leaderEpoch":2,"votedId":1,'
        '"votedDirectoryId":"J8aAPcfLQt2bqs1JT_rMgQ","data_version":1}'
    )
    assert QuorumStateFile(tmp_path).read() == ElectionState(2, None, 1, frozenset())


def test_kafka_uuid_text() -> None:
    assert kafka_uuid(parse_kafka_uuid("J8aAPcfLQt2bqs1JT_rMgQ")) == "J8aAPcfLQt2bqs1JT_rMgQ"
    assert kafka_uuid(parse_kafka_uuid("AAAAAAAAAAAAAAAAAAAAAQ")).endswith("AQ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"leaderEpoch":1}', "no data_version"),
        ('{"leaderEpoch":1,"data_version":7}', "data_version \\(7\\)"),
        ('{"leaderEpoch":"x","data_version":0}', "leaderEpoch is not an integer"),
        ('{"leaderEpoch":1,"currentVoters":[1],"data_version":0}', "currentVoters"),
    ],
)
def test_corrupt_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "quorum-state").write_text(content)
    with pytest.raises(QuorumStateError, match=message):
        QuorumStateFile(tmp_path).read()
