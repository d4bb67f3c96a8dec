"""The feature levels a new cluster starts with, as Apache Kafka 4.4's storage tool picks them.

``kafka-storage format`` turns a release version (``--release-version 4.4``, default the
newest production ``metadata.version``) and ``--feature name=level`` flags into the levels of
every feature, checks them, and writes them as ``FeatureLevelRecord`` s into the bootstrap
snapshot. The tables below were read off Kafka 4.4.0's own tool (``kafka-storage
version-mapping`` for every release, ``feature-dependencies`` for every level), not guessed.

``kraft.version`` is special: it is never a FeatureLevelRecord (the snapshot's
``KRaftVersionRecord`` control record carries it), and it defaults to 1 exactly when the
quorum is dynamic (no ``controller.quorum.voters``, and one of ``--standalone``,
``--initial-controllers``, ``--no-initial-controllers``), else 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ferrokafka.cluster.records import FeatureLevelRecord

METADATA_VERSION_FEATURE = "metadata.version"
KRAFT_VERSION_FEATURE = "kraft.version"

# (name, feature level, production?) of each metadata.version Kafka 4.4.0 knows, oldest
# first. 3.3-IV3 is the oldest a KRaft cluster may start at; 4.5-IV0 is in development.
METADATA_VERSIONS: tuple[tuple[str, int, bool], ...] = (
    ("3.3-IV3", 7, True),
    ("3.4-IV0", 8, True),
    ("3.5-IV0", 9, True),
    ("3.5-IV1", 10, True),
    ("3.5-IV2", 11, True),
    ("3.6-IV0", 12, True),
    ("3.6-IV1", 13, True),
    ("3.6-IV2", 14, True),
    ("3.7-IV0", 15, True),
    ("3.7-IV1", 16, True),
    ("3.7-IV2", 17, True),
    ("3.7-IV3", 18, True),
    ("3.7-IV4", 19, True),
    ("3.8-IV0", 20, True),
    ("3.9-IV0", 21, True),
    ("4.0-IV0", 22, True),
    ("4.0-IV1", 23, True),
    ("4.0-IV2", 24, True),
    ("4.0-IV3", 25, True),
    ("4.1-IV0", 26, True),
    ("4.1-IV1", 27, True),
    ("4.2-IV0", 28, True),
    ("4.2-IV1", 29, True),
    ("4.3-IV0", 30, True),
    ("4.4-IV0", 31, True),
    ("4.4-IV1", 32, True),
    ("4.4-IV2", 33, True),
    ("4.5-IV0", 34, False),
)
# The production metadata.version levels that turned on each default level of a feature:
# (first metadata.version level, feature level), in order (``version-mapping`` of Kafka 4.4).
_DEFAULTS: Mapping[str, tuple[tuple[int, int], ...]] = {
    "eligible.leader.replicas.version": ((26, 1),),
    "group.version": ((22, 1),),
    "share.version": ((28, 1), (31, 2)),
    "streams.version": ((29, 1),),
    "transaction.version": ((24, 2),),
}
# The highest level of each feature other than metadata.version (Kafka 4.4, stable levels).
FEATURE_LEVEL_MAX: Mapping[str, int] = {
    "eligible.leader.replicas.version": 1,
    "group.version": 1,
    KRAFT_VERSION_FEATURE: 1,
    "share.version": 2,
    "streams.version": 1,
    "transaction.version": 2,
}
# What this implementation really supports, as a broker tells the controller (registration)
# and its clients (ApiVersions): metadata.version up to 4.4-IV2, since every record version
# up to it is decoded (the record schemas are Kafka 4.4's); group.version 1 (the consumer
# group protocol of KIP-848); eligible.leader.replicas.version 1 (KIP-966: the controller keeps
# ELRs, a leader holds its high watermark while the ISR is below min.insync.replicas).
# transaction.version 2 (TransactionVersion.TV_1: flexible __transaction_state values, which
# the transaction coordinator writes at level 1+; TV_2, KIP-890 part 2: an epoch bump on every
# EndTxn v5, markers with the bumped epoch, leaders adding partitions for Produce v12+), what
# Kafka 4.4 formats by default. share.version 2 (ShareVersion.SV_1: share groups, KIP-932;
# SV_2, the 4.4 default: their dead-letter queues, KIP-1191). streams.version stays at 0: no
# streams groups, so a cluster formatted at streams.version 1 starts at 0 (see
# cluster/bootstrap.py). A Kafka controller refuses a broker that does not support a finalized
# level, so a mixed cluster is formatted with those at 0.
METADATA_VERSION_SUPPORTED_MIN = 7
METADATA_VERSION_SUPPORTED_MAX = 33
SUPPORTED_FEATURES: Mapping[str, tuple[int, int]] = {
    METADATA_VERSION_FEATURE: (METADATA_VERSION_SUPPORTED_MIN, METADATA_VERSION_SUPPORTED_MAX),
    "group.version": (0, 1),
    "eligible.leader.replicas.version": (0, 1),
    "transaction.version": (0, 2),
    "share.version": (0, 2),
}
# (feature, level) -> the metadata.version level it needs (``feature-dependencies``).
_DEPENDENCIES: Mapping[tuple[str, int], int] = {("eligible.leader.replicas.version", 1): 23}
# Java's Short.parseShort range.
_SHORT_MIN, _SHORT_MAX = -(2**15), 2**15 - 1


class FeatureLevelError(ValueError):
    """A release version or feature level Kafka's storage tool would refuse (its message)."""


@dataclass(frozen=True)
class MetadataVersion:
    name: str
    level: int
    production: bool

    @property
    def release(self) -> str:
        """The release it belongs to: ``4.4`` of ``4.4-IV2``."""
        return self.name.split("-")[0]


_BY_NAME = {name: MetadataVersion(name, level, prod) for name, level, prod in METADATA_VERSIONS}
_BY_LEVEL = {mv.level: mv for mv in _BY_NAME.values()}
LATEST_PRODUCTION = max((mv for mv in _BY_NAME.values() if mv.production), key=lambda m: m.level)


def metadata_version_from_string(text: str) -> MetadataVersion:
    """Kafka's MetadataVersion.fromVersionString: ``4.4-IV2``, or a release (``4.4``) for its
    newest version."""
    if text in _BY_NAME:
        return _BY_NAME[text]
    in_release = [mv for mv in _BY_NAME.values() if mv.release == text]
    if re.fullmatch(r"[0-9]+\.[0-9]+", text) and in_release:
        return max(in_release, key=lambda m: m.level)
    known = ", ".join(name for name, _, prod in METADATA_VERSIONS if prod)
    raise FeatureLevelError(
        f"Unknown metadata.version '{text}'. Supported metadata.version are: {known}"
    )


def metadata_version_from_level(level: int) -> MetadataVersion:
    if level not in _BY_LEVEL:
        raise FeatureLevelError(f"Unknown metadata.version feature level {level}")
    return _BY_LEVEL[level]


def parse_feature_flag(text: str) -> tuple[str, int]:
    """One ``--feature name=level`` argument (Kafka's messages for what does not parse)."""
    name, sep, level = text.partition("=")
    if not sep:
        raise FeatureLevelError(f"Can't parse feature=level string {text}: equals sign not found.")
    level = level.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", level) or not _SHORT_MIN <= int(level) <= _SHORT_MAX:
        raise FeatureLevelError(
            f"Can't parse feature=level string {text}: unable to parse {level} as a short."
        )
    return name.strip(), int(level)


def default_level(feature: str, metadata_version: MetadataVersion) -> int:
    """The level ``feature`` starts at for a cluster formatted at ``metadata_version``."""
    level = 0
    for first_mv, feature_level in _DEFAULTS.get(feature, ()):
        if metadata_version.level >= first_mv:
            level = feature_level
    return level


@dataclass(frozen=True)
class FeatureLevels:
    """The effective levels: ``metadata_version`` and every other feature (kraft.version too)."""

    metadata_version: MetadataVersion
    levels: Mapping[str, int]

    def bootstrap_records(self) -> list[FeatureLevelRecord]:
        """The FeatureLevelRecords Kafka's BootstrapMetadata holds: metadata.version first,
        then each other non-zero level by name; never kraft.version."""
        records = [
            FeatureLevelRecord(
                name=METADATA_VERSION_FEATURE, feature_level=self.metadata_version.level
            )
        ]
        for name, level in sorted(self.levels.items()):
            if name != KRAFT_VERSION_FEATURE and level > 0:
                records.append(FeatureLevelRecord(name=name, feature_level=level))
        return records


def effective_levels(
    release_version: str | None,
    features: Mapping[str, int],
    *,
    dynamic_quorum: bool,
) -> FeatureLevels:
    """Kafka's Formatter.calculateEffectiveReleaseVersion and calculateEffectiveFeatureLevels:
    the release version (or ``--feature metadata.version=N``, not both), each requested level
    checked against what exists, defaults for the rest, then the cross-feature dependencies."""
    if METADATA_VERSION_FEATURE in features:
        if release_version is not None:
            raise FeatureLevelError(
                "Use --release-version instead of --feature metadata.version=X to avoid ambiguity."
            )
        mv = metadata_version_from_level(features[METADATA_VERSION_FEATURE])
    elif release_version is not None:
        mv = metadata_version_from_string(release_version)
    else:
        mv = LATEST_PRODUCTION
    if not mv.production:
        raise FeatureLevelError(f"metadata.version {mv.name} is not yet stable.")
    levels: dict[str, int] = {}
    for name, level in features.items():
        if name == METADATA_VERSION_FEATURE:
            continue
        if name not in FEATURE_LEVEL_MAX:
            raise FeatureLevelError(
                f"Unsupported feature: {name}. Supported features are: "
                + ", ".join(sorted(FEATURE_LEVEL_MAX))
            )
        levels[name] = level
    levels[KRAFT_VERSION_FEATURE] = _kraft_version(
        levels.get(KRAFT_VERSION_FEATURE), dynamic_quorum
    )
    for name in FEATURE_LEVEL_MAX:
        levels.setdefault(name, default_level(name, mv))
    for name, level in sorted(levels.items()):
        if not 0 <= level <= FEATURE_LEVEL_MAX[name]:
            raise FeatureLevelError(f"No feature:{name} with feature level {level}")
        needed = _DEPENDENCIES.get((name, level))
        if needed is not None and mv.level < needed:
            raise FeatureLevelError(
                f"{name} could not be set to {level} because it depends on "
                f"metadata.version level {needed}"
            )
    return FeatureLevels(mv, levels)


def _kraft_version(requested: int | None, dynamic_quorum: bool) -> int:
    if requested is None:
        return 1 if dynamic_quorum else 0
    if requested == 0 and dynamic_quorum:
        raise FeatureLevelError(
            "Cannot set kraft.version to 0 if controller.quorum.voters is empty and one of the "
            "flags --standalone, --initial-controllers, or --no-initial-controllers is used. "
            "For dynamic controllers support, try removing the --feature flag for kraft.version."
        )
    if requested != 0 and not dynamic_quorum:
        raise FeatureLevelError(
            f"Cannot set kraft.version to {requested} unless controller.quorum.voters is empty "
            "and one of the flags --standalone, --initial-controllers, or "
            "--no-initial-controllers is used. For dynamic controllers support, try using one "
            "of --standalone, --initial-controllers, or --no-initial-controllers and removing "
            "controller.quorum.voters."
        )
    return requested
