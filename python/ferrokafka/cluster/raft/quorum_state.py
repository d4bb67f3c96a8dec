"""Kafka's ``quorum-state`` file (``FileQuorumStateStore``): what a voter must remember about
elections across restarts (epoch, leader, the vote it cast).

One line of JSON, Kafka's ``QuorumStateData`` (versions 0-1) plus ``data_version``:

- version 0 (kraft.version 0: a static ``controller.quorum.voters``, what is written here)::

    {"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,
     "currentVoters":[{"voterId":1},{"voterId":2},{"voterId":3}],"data_version":0}

- version 1 (kraft.version 1, KIP-853): ``votedDirectoryId`` instead of the voters, no
  ``clusterId`` or ``appliedOffset``; read here, so a directory Kafka wrote can be opened.

As Kafka: ``clusterId`` is written empty (``ElectionState`` does not carry it), -1 means "none"
for the leader and the vote. Written atomically: a ``.tmp`` sibling, fsync, rename, fsync of
the directory. A file that cannot be read is a :class:`QuorumStateError` naming the file and
what is wrong with it, never a silent fresh start (which could cast a second vote in an epoch).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path

from ferrokafka.cluster.raft.election import ElectionState
from ferrokafka.storage.checkpoints import atomic_write

FILE_NAME = "quorum-state"
DATA_VERSION = "data_version"
WRITE_VERSION = 0
READ_VERSIONS = (0, 1)
NONE_ID = -1
FILE_BYTES_MAX = 1 << 20  # a quorum-state file is a few hundred bytes


class QuorumStateError(RuntimeError):
    """The quorum-state file is unreadable or not Kafka's format."""


def kafka_uuid(value: uuid.UUID) -> str:
    """Kafka's ``Uuid.toString``: URL-safe base64 of the 16 bytes, no padding."""
    return base64.urlsafe_b64encode(value.bytes).rstrip(b"=").decode("ascii")


def parse_kafka_uuid(text: str) -> uuid.UUID:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) != 16:
        raise ValueError(f"{text!r} is not a 16-byte Kafka Uuid")
    return uuid.UUID(bytes=raw)


def encode_quorum_state(election: ElectionState) -> bytes:
    data = {
        "clusterId": "",
        "leaderId": NONE_ID if election.leader_id is None else election.leader_id,
        "leaderEpoch": election.epoch,
        "votedId": NONE_ID if election.voted_id is None else election.voted_id,
        "appliedOffset": 0,
        "currentVoters": [{"voterId": v} for v in sorted(election.voters)],
        DATA_VERSION: WRITE_VERSION,
    }
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def decode_quorum_state(text: str, where: str = FILE_NAME) -> ElectionState:
    line = text.split("\n", 1)[0]
    if not line.strip():
        raise QuorumStateError(f"{where}: empty file")
    try:
        data = json.loads(line)
    except ValueError as e:
        raise QuorumStateError(f"{where}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise QuorumStateError(f"{where}: not a JSON object")
    version = data.get(DATA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise QuorumStateError(f"{where}: no {DATA_VERSION} field")
    if version not in READ_VERSIONS:
        raise QuorumStateError(
            f"{where}: data_version ({version}) is not within the min (0) and max (1) "
            "supported version"
        )

    def integer(name: str, default: int) -> int:
        value = data.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise QuorumStateError(f"{where}: {name} is not an integer: {value!r}")
        return value

    epoch = integer("leaderEpoch", -1)
    leader = integer("leaderId", NONE_ID)
    voted = integer("votedId", NONE_ID)
    if epoch < 0:
        raise QuorumStateError(f"{where}: negative leaderEpoch {epoch}")
    voters: frozenset[int] = frozenset()
    if version == 0:
        listed = data.get("currentVoters") or []
        if not isinstance(listed, list) or not all(
            isinstance(v, dict) and isinstance(v.get("voterId"), int) for v in listed
        ):
            raise QuorumStateError(f"{where}: currentVoters is not a list of {{voterId}}")
        voters = frozenset(v["voterId"] for v in listed)
    else:
        directory = data.get("votedDirectoryId", kafka_uuid(uuid.UUID(int=0)))
        try:
            parse_kafka_uuid(str(directory))
        except ValueError as e:
            raise QuorumStateError(f"{where}: votedDirectoryId: {e}") from None
    return ElectionState(
        epoch,
        None if leader < 0 else leader,
        None if voted < 0 else voted,
        voters,
    )


class QuorumStateFile:
    """``<dir>/quorum-state``; Kafka's ``dir`` is the metadata partition's directory
    (``<metadata.log.dir>/__cluster_metadata-0``)."""

    def __init__(self, metadata_dir: str | os.PathLike[str]) -> None:
        self.path = Path(metadata_dir) / FILE_NAME

    def read(self) -> ElectionState | None:
        """The stored election, None if there is no file (a new node)."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read(FILE_BYTES_MAX + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise QuorumStateError(f"{self.path}: {e.strerror}") from None
        if len(raw) > FILE_BYTES_MAX:
            raise QuorumStateError(f"{self.path}: larger than {FILE_BYTES_MAX} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise QuorumStateError(f"{self.path}: not UTF-8") from None
        return decode_quorum_state(text, str(self.path))

    def write(self, election: ElectionState) -> None:
        """Durably replace the file (blocking: call it from a worker thread)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, encode_quorum_state(election))
