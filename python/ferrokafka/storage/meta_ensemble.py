"""The ``meta.properties`` of every directory of a node, loaded and checked together.

This is Kafka's ``MetaPropertiesEnsemble``: each directory (``log.dirs`` and
``metadata.log.dir``) is formatted (its meta.properties read), empty (missing, or no
meta.properties) or failed (an I/O error reading it). ``verify`` applies Kafka's rules: one
cluster id, one node id (the configured one when given), unique, unreserved directory ids.
``ferrokafka storage format`` loads it before writing anything; ``ferrokafka serve`` with a
config file refuses to start on a directory nobody formatted, as Kafka's server does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ferrokafka.storage.checkpoints import (
    META_PROPERTIES,
    META_PROPERTIES_VERSION,
    MetaProperties,
    is_reserved_directory_id,
    parse_kafka_uuid,
    read_meta_properties,
)

METADATA_PARTITION_DIR = "__cluster_metadata-0"


class MetaPropertiesError(RuntimeError):
    """Directories whose identities do not agree, or that are not formatted (one line)."""


@dataclass
class MetaEnsemble:
    """What each directory holds. ``metadata_dir`` is one of the directories."""

    metadata_dir: str
    formatted: dict[str, MetaProperties] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def directories(self) -> list[str]:
        return sorted({*self.formatted, *self.empty, *self.failed})

    def verify(self, cluster_id: str | None = None, node_id: int | None = None) -> None:
        """Kafka's MetaPropertiesEnsemble.verify: every formatted directory has the same
        cluster id and node id (``cluster_id``/``node_id`` when given, else the first one's),
        and directory ids are unique and not reserved."""
        seen: dict[str, str] = {}
        for log_dir in sorted(self.formatted):
            meta = self.formatted[log_dir]
            path = os.path.join(log_dir, META_PROPERTIES)
            if cluster_id is None:
                cluster_id = meta.cluster_id
            elif meta.cluster_id != cluster_id:
                raise MetaPropertiesError(
                    f"Invalid cluster.id in: {path}. Expected {cluster_id}, "
                    f"but read {meta.cluster_id}"
                )
            if node_id is None:
                node_id = meta.node_id
            elif meta.node_id != node_id:
                raise MetaPropertiesError(
                    f"Stored node id {meta.node_id} doesn't match previous node id {node_id} "
                    f"in {path}. If you moved your data, make sure your configured node id "
                    "matches. If you intend to create a new node, you should remove all data "
                    "in your data directories."
                )
            if meta.directory_id is not None:
                _check_directory_id(meta.directory_id, log_dir)
                if meta.directory_id in seen:
                    raise MetaPropertiesError(
                        f"Duplicate directory ID {meta.directory_id} found. It was the ID of "
                        f"{seen[meta.directory_id]}, but also of {log_dir}"
                    )
                seen[meta.directory_id] = log_dir
        if self.metadata_dir in self.failed:
            raise MetaPropertiesError(
                f"Encountered I/O error in metadata log directory {self.metadata_dir}. "
                "Cannot continue."
            )

    def require_formatted(self) -> None:
        """What a server checks before it starts (Kafka's KafkaRaftServer.initializeLogDirs):
        at least one meta.properties, none missing, no metadata partition outside the
        metadata directory."""
        if not self.formatted and not self.empty:
            raise MetaPropertiesError("No readable meta.properties files found.")
        for log_dir in self.directories:
            if log_dir in self.empty:
                raise MetaPropertiesError(
                    f"No `{META_PROPERTIES}` found in {log_dir} (have you run "
                    "`ferrokafka storage format` to format the directory?)"
                )
            if log_dir in self.failed:
                continue
            meta = self.formatted[log_dir]
            if meta.version != META_PROPERTIES_VERSION:
                raise MetaPropertiesError(
                    f"{os.path.join(log_dir, META_PROPERTIES)} is version {meta.version} "
                    "(ZooKeeper mode); a KRaft node needs version 1"
                )
            stray = Path(log_dir) / METADATA_PARTITION_DIR
            if log_dir != self.metadata_dir and stray.exists():
                raise MetaPropertiesError(
                    f"Found unexpected metadata location in data directory `{stray}` "
                    f"(the configured metadata directory is {self.metadata_dir})."
                )


def _check_directory_id(directory_id: str, log_dir: str) -> None:
    try:
        value = parse_kafka_uuid(directory_id)
    except ValueError as exc:
        raise MetaPropertiesError(
            f"Invalid directory ID {directory_id} in {log_dir}: {exc}"
        ) from None
    if is_reserved_directory_id(value):
        raise MetaPropertiesError(
            f"Invalid reserved directory ID {directory_id} found in {log_dir}"
        )


def load_meta_ensemble(log_dirs: Iterable[str], metadata_dir: str) -> MetaEnsemble:
    """Read the meta.properties of ``log_dirs`` and ``metadata_dir`` (Kafka's Loader).

    A meta.properties that cannot be parsed raises CheckpointError: the directory is not
    empty, and guessing at it could format over someone's data."""
    ensemble = MetaEnsemble(metadata_dir=metadata_dir)
    for log_dir in sorted({*log_dirs, metadata_dir}):
        try:
            meta = read_meta_properties(Path(log_dir) / META_PROPERTIES)
        except NotADirectoryError:
            ensemble.failed[log_dir] = f"{log_dir} is not a directory"
            continue
        except OSError as exc:
            ensemble.failed[log_dir] = f"{log_dir}: {exc.strerror or exc}"
            continue
        if meta is None:
            ensemble.empty.append(log_dir)
        else:
            ensemble.formatted[log_dir] = meta
    return ensemble
