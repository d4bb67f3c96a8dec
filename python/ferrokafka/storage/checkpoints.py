"""Kafka's small state files in a log directory, read and written byte-compatibly.

- Offset checkpoints (``recovery-point-offset-checkpoint``, ``log-start-offset-checkpoint``,
  ``replication-offset-checkpoint``): a version line ``0``, an entry count line, then one
  ``<topic> <partition> <offset>`` line per partition.
- ``leader-epoch-checkpoint`` in each partition directory: version ``0``, a count, then
  ``<epoch> <start offset>`` lines.
- ``meta.properties``: a Java properties file (``version=1``, ``cluster.id``, ``node.id``,
  ``directory.id``) as Kafka 4.x's storage format tool writes it.
- ``.kafka_cleanshutdown``: the marker Kafka's LogManager writes last on a clean shutdown,
  ``{"version":0,"brokerEpoch":N}``.

Every write goes to ``<file>.tmp``, is fsynced, atomically renamed over the file, and the
directory is fsynced, so a crash leaves either the old file or the new one, never half of one
(Kafka's ``CheckpointFile`` does the same). Reading follows Kafka's rules: a missing or empty
checkpoint is empty; anything else that does not parse raises :class:`CheckpointError` naming
the file and line.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

from ferrokafka._ferrokafka import FerrokafkaError

RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
REPLICATION_OFFSET_CHECKPOINT = "replication-offset-checkpoint"
LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
META_PROPERTIES = "meta.properties"
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"

CHECKPOINT_VERSION = 0
META_PROPERTIES_VERSION = 1
CLEAN_SHUTDOWN_VERSION = 0
TMP_SUFFIX = ".tmp"
# Java's Integer and Long ranges: Kafka parses partitions and epochs as int, offsets as long.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
# Kafka's Uuid reserves the all-zero id and ids whose high half is 0 and low half < 100
# (DirectoryId.UNASSIGNED, LOST, MIGRATING, ...); a random directory id avoids them.
RESERVED_UUID_LOW_MAX = 100
# Java's Pattern "\\s+": the separator Kafka's checkpoint formatters split on.
_WHITESPACE = re.compile(r"[ \t\n\x0b\f\r]+")


class CheckpointError(FerrokafkaError):
    """A checkpoint, properties or marker file that does not parse."""

    def __init__(self, path: str | os.PathLike[str], line_number: int | None, message: str):
        where = f"{path}" if line_number is None else f"{path}, line {line_number}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line_number = line_number


class TopicPartition(NamedTuple):
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


class EpochEntry(NamedTuple):
    """One leader epoch and the first offset written in it."""

    epoch: int
    start_offset: int


# -- atomic file replacement ----------------------------------------------------------------


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory, making renames, creations and deletions in it durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data``: write ``path.tmp``, fsync, rename, fsync the directory."""
    path = Path(path)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


# -- the checkpoint format ----------------------------------------------------------------

E = TypeVar("E")


def _parse_int(path: Path, number: int, line: str, text: str, low: int, high: int) -> int:
    # Java's parseInt/parseLong: an optional sign and ASCII digits only.
    if not re.fullmatch(r"[+-]?[0-9]+", text) or not low <= int(text) <= high:
        raise CheckpointError(path, number, f"malformed line {line!r}")
    return int(text)


def _read_checkpoint(
    path: Path, fields: int, parse: Callable[[Path, int, str, list[str]], E]
) -> list[E]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(path, None, f"not UTF-8 text ({e})") from None
    # Java's readLine ends a line at \n, \r or \r\n; a final newline does not start a line.
    lines = re.split(r"\r\n|\r|\n", text)
    if lines[-1] == "":
        lines.pop()
    if not lines:
        return []  # Kafka creates some checkpoints empty (cleaner-offset-checkpoint)
    version = _parse_int(path, 1, lines[0], lines[0], INT_MIN, INT_MAX)
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(path, 1, f"unrecognised version {version}")
    if len(lines) < 2:
        raise CheckpointError(path, 2, "missing the entry count line")
    expected = _parse_int(path, 2, lines[1], lines[1], 0, INT_MAX)
    entries = []
    for number, line in enumerate(lines[2:], start=3):
        parts = _WHITESPACE.split(line)
        while parts and parts[-1] == "":  # Java's split drops trailing empty strings
            parts.pop()
        if len(parts) != fields:
            raise CheckpointError(path, number, f"malformed line {line!r}")
        entries.append(parse(path, number, line, parts))
    if len(entries) != expected:
        raise CheckpointError(path, None, f"expected {expected} entries but found {len(entries)}")
    return entries


def _write_checkpoint(path: str | os.PathLike[str], lines: list[str]) -> None:
    text = f"{CHECKPOINT_VERSION}\n{len(lines)}\n" + "".join(f"{line}\n" for line in lines)
    atomic_write(path, text.encode("utf-8"))


def _offset_entry(
    path: Path, number: int, line: str, parts: list[str]
) -> tuple[TopicPartition, int]:
    partition = _parse_int(path, number, line, parts[1], INT_MIN, INT_MAX)
    offset = _parse_int(path, number, line, parts[2], LONG_MIN, LONG_MAX)
    return TopicPartition(parts[0], partition), offset


def read_offset_checkpoint(path: str | os.PathLike[str]) -> dict[TopicPartition, int]:
    """``{(topic, partition): offset}`` from an offset checkpoint; {} if the file is missing.

    A partition listed twice keeps its last offset, as Kafka's reader (a map) does.
    """
    return dict(_read_checkpoint(Path(path), 3, _offset_entry))


def write_offset_checkpoint(
    path: str | os.PathLike[str], offsets: Mapping[tuple[str, int], int]
) -> None:
    """Atomically replace an offset checkpoint (entries sorted, for stable diffs)."""
    lines = []
    for (topic, partition), offset in sorted(offsets.items()):
        if not topic or _WHITESPACE.search(topic):
            raise ValueError(f"topic name {topic!r} cannot be written to a checkpoint")
        lines.append(f"{topic} {int(partition)} {int(offset)}")
    _write_checkpoint(path, lines)


def _epoch_entry(path: Path, number: int, line: str, parts: list[str]) -> EpochEntry:
    epoch = _parse_int(path, number, line, parts[0], INT_MIN, INT_MAX)
    offset = _parse_int(path, number, line, parts[1], LONG_MIN, LONG_MAX)
    return EpochEntry(epoch, offset)


def read_leader_epoch_checkpoint(path: str | os.PathLike[str]) -> list[EpochEntry]:
    """The ``(epoch, start_offset)`` entries of a leader-epoch-checkpoint, in file order."""
    return _read_checkpoint(Path(path), 2, _epoch_entry)


def write_leader_epoch_checkpoint(
    path: str | os.PathLike[str], entries: Iterable[tuple[int, int]]
) -> None:
    _write_checkpoint(path, [f"{int(epoch)} {int(offset)}" for epoch, offset in entries])


# -- meta.properties ----------------------------------------------------------------------


@dataclass(frozen=True)
class MetaProperties:
    """A log directory's identity, as ``kafka-storage format`` writes it (KRaft, version 1)."""

    cluster_id: str
    node_id: int
    directory_id: str | None = None
    version: int = META_PROPERTIES_VERSION


def random_directory_id() -> str:
    """A Kafka Uuid in its string form: URL-safe base64 of 16 random bytes, no padding.

    Like Kafka's Uuid.randomUuid it avoids the reserved ids and a leading '-', which would
    read as a command-line flag.
    """
    while True:
        raw = uuid.uuid4().bytes
        high, low = int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")
        text = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        if not (high == 0 and low < RESERVED_UUID_LOW_MAX) and not text.startswith("-"):
            return text


UUID_BYTES = 16
# Kafka's Uuid.fromString refuses longer input before decoding it.
KAFKA_UUID_CHARS_MAX = 24


def parse_kafka_uuid(text: str) -> uuid.UUID:
    """Kafka's Uuid.fromString: URL-safe base64 (no padding) of exactly 16 bytes, so 22
    characters. Raises ValueError with Kafka's reasons."""
    if len(text) > KAFKA_UUID_CHARS_MAX:
        raise ValueError(
            f"Input string with prefix `{text[:KAFKA_UUID_CHARS_MAX]}` is too long to be "
            "decoded as a base64 UUID"
        )
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError(f"Input string `{text}` is not valid URL-safe base64")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) != UUID_BYTES:
        raise ValueError(
            f"Input string `{text}` decoded as {len(raw)} bytes, which is not equal to the "
            f"expected {UUID_BYTES} bytes of a base64-encoded UUID"
        )
    return uuid.UUID(bytes=raw)


def kafka_uuid_string(value: uuid.UUID) -> str:
    """A UUID as Kafka prints it (URL-safe base64, no padding)."""
    return base64.urlsafe_b64encode(value.bytes).decode("ascii").rstrip("=")


def is_reserved_directory_id(value: uuid.UUID) -> bool:
    """Kafka's DirectoryId.reserved: the all-zero id and ids below 100 with a zero high half."""
    return value.int >> 64 == 0 and value.int & ((1 << 64) - 1) < RESERVED_UUID_LOW_MAX


def _java_date(now_s: float) -> str:
    # java.util.Date.toString(): "EEE MMM dd HH:mm:ss zzz yyyy"; we always write UTC.
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(now_s))


def write_meta_properties(path: str | os.PathLike[str], meta: MetaProperties) -> None:
    """Write as java.util.Properties.store does: an empty comment, the date, then key=value.

    Values are ids and integers, which need none of the properties escapes.
    """
    values = {"node.id": str(meta.node_id)}
    if meta.directory_id is not None:
        values["directory.id"] = meta.directory_id
    values["version"] = str(meta.version)
    values["cluster.id"] = meta.cluster_id
    for key, value in values.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError(f"meta.properties {key}={value!r}: not a plain id")
    text = f"#\n#{_java_date(time.time())}\n" + "".join(f"{k}={v}\n" for k, v in values.items())
    atomic_write(path, text.encode("ascii"))


def _parse_properties(path: Path, text: str) -> dict[str, str]:
    """The subset of java.util.Properties syntax Kafka's files use: comments, ``=``/``:``
    separators, surrounding whitespace. Line continuations and escapes are refused, not
    guessed at, since ids never need them."""
    props: dict[str, str] = {}
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        line = raw.strip(" \t\f")
        if not line or line[0] in "#!":
            continue
        if "\\" in line:
            raise CheckpointError(path, number, f"escapes are not supported: {raw!r}")
        match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if match is None:
            raise CheckpointError(path, number, f"malformed line {raw!r}")
        props[match.group(1)] = match.group(2)
    return props


def read_meta_properties(path: str | os.PathLike[str]) -> MetaProperties | None:
    """A directory's meta.properties, or None if there is none. Version 0 (ZooKeeper-era,
    ``broker.id``) files are read too; their node id comes from ``broker.id``."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("latin-1")  # Properties.load's encoding
    except FileNotFoundError:
        return None
    props = _parse_properties(path, text)

    def need(key: str) -> str:
        if key not in props:
            raise CheckpointError(path, None, f"missing {key}")
        return props[key]

    def integer(key: str) -> int:
        value = need(key)
        if not re.fullmatch(r"[+-]?[0-9]+", value):
            raise CheckpointError(path, None, f"{key}={value!r} is not an integer")
        return int(value)

    version = integer("version")
    if version not in (0, META_PROPERTIES_VERSION):
        raise CheckpointError(path, None, f"unsupported version {version}")
    node_key = "node.id" if version == META_PROPERTIES_VERSION else "broker.id"
    return MetaProperties(
        cluster_id=need("cluster.id"),
        node_id=integer(node_key),
        directory_id=props.get("directory.id"),
        version=version,
    )


# -- the clean-shutdown marker ------------------------------------------------------------


def write_clean_shutdown_marker(log_dir: str | os.PathLike[str], broker_epoch: int = -1) -> None:
    """Write ``.kafka_cleanshutdown`` exactly as Kafka 4.x does (compact JSON, no newline)."""
    body = {"version": CLEAN_SHUTDOWN_VERSION, "brokerEpoch": int(broker_epoch)}
    atomic_write(
        Path(log_dir) / CLEAN_SHUTDOWN_FILE, json.dumps(body, separators=(",", ":")).encode()
    )


def read_clean_shutdown_marker(log_dir: str | os.PathLike[str]) -> int | None:
    """The broker epoch in the marker; None when there is no marker (the last stop was not
    clean). A marker whose content does not parse still means a clean shutdown: Kafka counts
    the file's existence and reads the epoch as -1."""
    path = Path(log_dir) / CLEAN_SHUTDOWN_FILE
    try:
        body = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:
        return -1
    epoch = body.get("brokerEpoch") if isinstance(body, dict) else None
    return epoch if isinstance(epoch, int) else -1


def remove_clean_shutdown_marker(log_dir: str | os.PathLike[str]) -> None:
    """Remove the marker durably: if the removal were lost in a crash, the next start would
    trust logs that were never flushed."""
    try:
        os.remove(Path(log_dir) / CLEAN_SHUTDOWN_FILE)
    except FileNotFoundError:
        return
    fsync_dir(log_dir)
