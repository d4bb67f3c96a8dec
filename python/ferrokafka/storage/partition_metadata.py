"""Kafka's ``partition.metadata`` file: the topic id of the partition a log directory holds.

Kafka writes it in every partition directory (``version: 0`` and ``topic_id: <Uuid>``, one per
line) before the first append, and on start compares it with the metadata: a directory whose
topic id is missing from the metadata, differs from it, or whose partition is no longer assigned
to the broker is a *stray* and is renamed aside (``<topic>-<partition>.<uuid>-stray``), never
deleted and never reattached to a new topic of the same name.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from ferrokafka.storage.checkpoints import atomic_write, kafka_uuid_string, parse_kafka_uuid

PARTITION_METADATA_FILE = "partition.metadata"
PARTITION_METADATA_VERSION = 0
# The file is two short lines; anything longer is not one of ours.
PARTITION_METADATA_BYTES_MAX = 4096


class PartitionMetadataError(ValueError):
    """The file exists but is not Kafka's partition.metadata."""


def write_topic_id(log_dir: str | os.PathLike[str], topic_id: uuid.UUID) -> None:
    """Write the file (atomically, synced) as Kafka's PartitionMetadataFile does."""
    text = f"version: {PARTITION_METADATA_VERSION}\ntopic_id: {kafka_uuid_string(topic_id)}\n"
    atomic_write(Path(log_dir) / PARTITION_METADATA_FILE, text.encode("ascii"))


def read_topic_id(log_dir: str | os.PathLike[str]) -> uuid.UUID | None:
    """The topic id the directory holds; None when it has no partition.metadata."""
    path = Path(log_dir) / PARTITION_METADATA_FILE
    try:
        with open(path, "rb") as f:
            raw = f.read(PARTITION_METADATA_BYTES_MAX + 1)
    except FileNotFoundError:
        return None
    if len(raw) > PARTITION_METADATA_BYTES_MAX:
        raise PartitionMetadataError(f"{path}: larger than {PARTITION_METADATA_BYTES_MAX} bytes")
    fields: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise PartitionMetadataError(f"{path}: malformed line {line!r}")
        fields[key.strip()] = value.strip()
    if fields.get("version") != str(PARTITION_METADATA_VERSION):
        raise PartitionMetadataError(f"{path}: unknown version {fields.get('version')!r}")
    try:
        return parse_kafka_uuid(fields.get("topic_id", ""))
    except ValueError as exc:
        raise PartitionMetadataError(f"{path}: {exc}") from None
