"""The feature levels a new cluster starts at, read from the bootstrap snapshot that
``storage format`` (ours or Kafka's) wrote into the metadata directory
(``__cluster_metadata-0/00000000000000000000-0000000000.checkpoint``).

The first active controller of a cluster writes them as its bootstrap records (Kafka's
QuorumController does the same with its BootstrapMetadata). What this implementation does not
support is not finalized (and the SCRAM credentials of ``--add-scram`` follow them,
:func:`read_bootstrap_scram`): a metadata.version outside :data:`SUPPORTED_FEATURES` stops the
controller with a one-line error; another feature it lacks (the 4.4 default
streams.version 1) is left at 0 with a warning
(eligible.leader.replicas.version 1, transaction.version 2 and share.version 2, 4.4 defaults,
are supported and kept), since a
cluster must not promise what its controller cannot do. Without a snapshot (the single node
of ``ferrokafka serve``), the controller's own defaults apply.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from ferrokafka.cluster.feature_levels import METADATA_VERSION_FEATURE, SUPPORTED_FEATURES
from ferrokafka.cluster.metadata_log import METADATA_PARTITION_DIR
from ferrokafka.cluster.records import FeatureLevelRecord, UserScramCredentialRecord
from ferrokafka.cluster.snapshot_file import BOOTSTRAP_SNAPSHOT_ID, SnapshotFileError, read_snapshot

log = logging.getLogger(__name__)


class BootstrapError(RuntimeError):
    """The bootstrap snapshot cannot start a cluster on this controller (one-line reason)."""


def bootstrap_snapshot_path(metadata_dir: str | os.PathLike[str]) -> Path:
    return Path(metadata_dir) / METADATA_PARTITION_DIR / BOOTSTRAP_SNAPSHOT_ID.file_name


def read_bootstrap_levels(
    metadata_dir: str | os.PathLike[str], *, warn: bool = True
) -> dict[str, int] | None:
    """The levels to finalize on a new cluster, metadata.version first; None without a
    bootstrap snapshot. Raises :class:`BootstrapError` for an unreadable snapshot or a
    metadata.version this controller cannot run; ``warn``: log the features left at 0."""
    path = bootstrap_snapshot_path(metadata_dir)
    if not path.exists():
        return None
    try:
        snapshot = read_snapshot(path)
    except (SnapshotFileError, OSError) as exc:
        raise BootstrapError(f"cannot read the bootstrap snapshot {path}: {exc}") from None
    formatted = {
        m.name: m.feature_level for m in snapshot.messages() if isinstance(m, FeatureLevelRecord)
    }
    return supported_levels(formatted, str(path), warn=warn)


def read_bootstrap_scram(metadata_dir: str | os.PathLike[str]) -> list[UserScramCredentialRecord]:
    """The SCRAM credentials ``storage format --add-scram`` put in the bootstrap snapshot
    (none without one); the first active controller writes them with the levels."""
    path = bootstrap_snapshot_path(metadata_dir)
    if not path.exists():
        return []
    try:
        snapshot = read_snapshot(path)
    except (SnapshotFileError, OSError) as exc:
        raise BootstrapError(f"cannot read the bootstrap snapshot {path}: {exc}") from None
    return [m for m in snapshot.messages() if isinstance(m, UserScramCredentialRecord)]


def supported_levels(
    formatted: Mapping[str, int], where: str, *, warn: bool = True
) -> dict[str, int]:
    """``formatted`` without what this implementation does not support (see the module)."""
    if METADATA_VERSION_FEATURE not in formatted:
        raise BootstrapError(f"{where} finalizes no {METADATA_VERSION_FEATURE}")
    levels: dict[str, int] = {}
    for name, level in formatted.items():
        low, high = SUPPORTED_FEATURES.get(name, (0, 0))
        if low <= level <= high:
            levels[name] = level
        elif name == METADATA_VERSION_FEATURE:
            raise BootstrapError(
                f"{where} finalizes {name} {level}; this controller supports {low} to {high}"
            )
        elif warn:
            log.warning("%s finalizes %s %d, which is not supported: left at 0", where, name, level)
    first = {METADATA_VERSION_FEATURE: levels.pop(METADATA_VERSION_FEATURE)}
    return first | dict(sorted(levels.items()))
