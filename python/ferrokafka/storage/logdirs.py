"""Log directories: the ``.lock`` that keeps two brokers out of one directory, and Kafka's
naming of partition directories (``<topic>-<partition>``, and the ``-delete`` / ``-future`` /
``-stray`` forms Kafka renames them to).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ferrokafka._ferrokafka import FerrokafkaError
from ferrokafka.storage.checkpoints import TopicPartition, fsync_dir

LOCK_FILE = ".lock"
DELETE_DIR_SUFFIX = "-delete"
FUTURE_DIR_SUFFIX = "-future"
STRAY_DIR_SUFFIX = "-stray"
# The KRaft metadata log lives in a log dir but belongs to the raft layer, not LogManager.
METADATA_TOPIC = "__cluster_metadata"
# Tiered storage's index cache sits in the log dir and is not a partition.
REMOTE_INDEX_CACHE_DIR = "remote-log-index-cache"
# Kafka's Topic.validate: at most 249 characters of [a-zA-Z0-9._-], and not "." or "..".
TOPIC_NAME_LENGTH_MAX = 249
FILE_NAME_LENGTH_MAX = 255
_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")
_RENAMED_DIR = re.compile(r"^(\S+)-(\d+)\.(\S+)(-delete|-future|-stray)$")


class LogDirError(FerrokafkaError):
    """A log directory that cannot be used: locked by another broker, or holding a directory
    that is not a partition."""


@dataclass
class DirLock:
    """An flock'd ``.lock`` file; held until :meth:`release` (or the process dies)."""

    path: Path
    fd: int

    @classmethod
    def acquire(cls, log_dir: Path) -> DirLock:
        path = log_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # flock, not fcntl locks: an fcntl lock is per process, so a second LogManager in
            # the same process (a test, or a misconfigured embed) would get it too.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise LogDirError(
                    f"failed to acquire lock on {path}: another broker (process or thread) is "
                    f"using log directory {log_dir}"
                ) from None
            raise
        return cls(path, fd)

    def release(self) -> None:
        if self.fd < 0:
            return
        fd, self.fd = self.fd, -1
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def validate_topic(topic: str) -> None:
    if topic in ("", ".", "..") or len(topic) > TOPIC_NAME_LENGTH_MAX:
        raise ValueError(f"illegal topic name {topic!r}")
    if not _LEGAL_TOPIC.fullmatch(topic):
        raise ValueError(f"illegal topic name {topic!r}: only [a-zA-Z0-9._-] are allowed")


def partition_dir_name(topic: str, partition: int) -> str:
    return f"{topic}-{partition}"


def renamed_dir_name(tp: TopicPartition, suffix: str) -> str:
    """Kafka's ``<topic>-<partition>.<uuid>-delete`` (or -future, -stray): unique, so a topic
    deleted and recreated can be deleted again before the first copy is gone; the topic is cut
    so the name fits in a file name."""
    tail = f"-{tp.partition}.{uuid.uuid4().hex}{suffix}"
    return tp.topic[: FILE_NAME_LENGTH_MAX - len(tail)] + tail


@dataclass(frozen=True)
class ParsedDir:
    tp: TopicPartition
    suffix: str | None
    """None for a live partition, else "-delete", "-future" or "-stray"."""


def parse_partition_dir(log_dir: Path, name: str) -> ParsedDir:
    """A partition directory's topic and partition: the partition follows the last '-' (topic
    names may hold '-' and '.'). Anything else is an error, as in Kafka: a log dir holds
    topic data only."""
    match = _RENAMED_DIR.match(name)
    if match is not None:
        return ParsedDir(TopicPartition(match.group(1), int(match.group(2))), match.group(4))
    topic, dash, partition = name.rpartition("-")
    if not dash or not topic or not partition.isascii() or not partition.isdigit():
        raise LogDirError(
            f"found directory {log_dir / name}: {name!r} is not in the form of "
            f"topic-partition or topic-partition.uniqueId-delete (if marked for deletion); "
            f"a log directory should only contain topic data"
        )
    return ParsedDir(TopicPartition(topic, int(partition)), None)


def is_ignored_dir(name: str) -> bool:
    """Directories in a log dir that LogManager leaves to others."""
    return name == REMOTE_INDEX_CACHE_DIR or name.startswith(f"{METADATA_TOPIC}-")


def create_and_validate_dirs(dirs: Sequence[str]) -> tuple[Path, ...]:
    """Absolute, distinct, existing directories (created, with the parent fsynced, if missing)."""
    paths: list[Path] = []
    for raw in dirs:
        path = Path(raw).absolute()
        if not path.exists():
            path.mkdir(parents=True)
            fsync_dir(path.parent)
        if not path.is_dir() or not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            raise LogDirError(f"{path} is not a readable and writable directory")
        if path.resolve() in [p.resolve() for p in paths]:
            raise LogDirError(f"duplicate log directory {path}")
        paths.append(path)
    return tuple(paths)
