"""The topology of a streams group (KIP-1071), as a member's StreamsGroupHeartbeat declares it,
and what the broker derives from it against the cluster's topics: the number of tasks of each
subtopology and the internal topics (repartition and changelog) it needs, with their partition
counts and configs. Sans-io: topics in, a :class:`ConfiguredTopology` out.

The rules are Kafka's (group coordinator's ``streams.topics``): a subtopology has as many tasks
as its most partitioned source topic (repartition sources included); a repartition topic
without a declared partition count gets the task count of the subtopologies writing to it,
resolved to a fixed point since subtopologies chain; the topics of a copartition group must
agree, and its repartition topics take the group's count; a changelog topic has one partition
per task of its subtopology.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# StreamsGroupHeartbeatResponse Status codes (StreamsGroupHeartbeatResponse.json).
STALE_TOPOLOGY = 0
MISSING_SOURCE_TOPICS = 1
INCORRECTLY_PARTITIONED_TOPICS = 2
MISSING_INTERNAL_TOPICS = 3
SHUTDOWN_APPLICATION = 4
# Subtopologies one topology may declare, and topics per subtopology: bounds the work a
# heartbeat can ask for (Kafka Streams applications have a handful of each).
SUBTOPOLOGIES_MAX = 10_000
TOPICS_PER_SUBTOPOLOGY_MAX = 10_000


class TopologyError(Exception):
    """The declared topology cannot be valid (INVALID_REQUEST's message)."""


@dataclass(frozen=True)
class TopicInfo:
    """An internal topic as declared: partitions 0 means "derive it"; replication factor 0
    means the broker's default."""

    name: str
    partitions: int = 0
    replication_factor: int = 0
    configs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CopartitionGroup:
    source_topics: tuple[int, ...] = ()
    source_topic_regex: tuple[int, ...] = ()
    repartition_source_topics: tuple[int, ...] = ()


@dataclass(frozen=True)
class Subtopology:
    subtopology_id: str
    source_topics: tuple[str, ...] = ()
    source_topic_regex: tuple[str, ...] = ()
    repartition_sink_topics: tuple[str, ...] = ()
    repartition_source_topics: tuple[TopicInfo, ...] = ()
    state_changelog_topics: tuple[TopicInfo, ...] = ()
    copartition_groups: tuple[CopartitionGroup, ...] = ()


@dataclass(frozen=True)
class Topology:
    epoch: int
    subtopologies: tuple[Subtopology, ...]


@dataclass(frozen=True)
class Status:
    code: int
    detail: str


@dataclass(frozen=True)
class ConfiguredTopology:
    """The topology resolved against the cluster's topics: ``task_counts`` when it is ready
    (every source topic exists, the partitioning agrees, every internal topic exists with the
    right partition count), else the statuses that say why not; ``to_create`` the missing
    internal topics with their partition counts."""

    task_counts: dict[str, int] | None
    statuses: tuple[Status, ...] = ()
    to_create: tuple[tuple[TopicInfo, int], ...] = ()
    # subtopology id -> its source topic names (resolved regexes and repartition sources)
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)


def configure(topology: Topology, partition_counts: Mapping[str, int]) -> ConfiguredTopology:
    """Resolve ``topology`` against ``partition_counts`` (every topic of the cluster)."""
    sources = {s.subtopology_id: _sources(s, partition_counts) for s in topology.subtopologies}
    missing = sorted(
        {t for s in topology.subtopologies for t in s.source_topics if t not in partition_counts}
        | {
            r
            for s in topology.subtopologies
            for r in s.source_topic_regex
            if not _matching(r, partition_counts)
        }
    )
    if missing:
        return ConfiguredTopology(
            None,
            (Status(MISSING_SOURCE_TOPICS, f"Source topics {', '.join(missing)} are missing."),),
            sources=sources,
        )
    repartition = _repartition_counts(topology, partition_counts, sources)
    try:
        _enforce_copartitioning(topology, partition_counts, repartition, sources)
    except _Incorrect as exc:
        return ConfiguredTopology(
            None, (Status(INCORRECTLY_PARTITIONED_TOPICS, str(exc)),), sources=sources
        )
    counts = {
        s.subtopology_id: _task_count(s, partition_counts, repartition, sources)
        for s in topology.subtopologies
    }
    required: dict[str, tuple[TopicInfo, int]] = {}
    for s in topology.subtopologies:
        for info in s.repartition_source_topics:
            required[info.name] = (info, repartition[info.name])
        for info in s.state_changelog_topics:
            required[info.name] = (info, info.partitions or counts[s.subtopology_id])
    to_create = tuple(required[name] for name in sorted(required) if name not in partition_counts)
    wrong = sorted(
        f"{name} ({partition_counts[name]} partitions, {n} expected)"
        for name, (_info, n) in required.items()
        if name in partition_counts and partition_counts[name] != n
    )
    statuses: list[Status] = []
    if to_create:
        names = ", ".join(info.name for info, _n in to_create)
        statuses.append(Status(MISSING_INTERNAL_TOPICS, f"Internal topics are missing: {names}"))
    if wrong:
        statuses.append(
            Status(
                INCORRECTLY_PARTITIONED_TOPICS,
                f"Internal topics have the wrong partition count: {', '.join(wrong)}",
            )
        )
    if statuses:
        return ConfiguredTopology(None, tuple(statuses), to_create, sources)
    return ConfiguredTopology(counts, (), (), sources)


class _Incorrect(Exception):
    pass


def _matching(regex: str, partition_counts: Mapping[str, int]) -> list[str]:
    try:
        pattern = re.compile(regex)
    except re.error:
        return []
    return sorted(t for t in partition_counts if pattern.fullmatch(t))


def _sources(s: Subtopology, partition_counts: Mapping[str, int]) -> tuple[str, ...]:
    names = list(s.source_topics)
    for regex in s.source_topic_regex:
        names += _matching(regex, partition_counts)
    names += [info.name for info in s.repartition_source_topics]
    return tuple(dict.fromkeys(names))


def _repartition_counts(
    topology: Topology,
    partition_counts: Mapping[str, int],
    sources: Mapping[str, tuple[str, ...]],
) -> dict[str, int]:
    """Every repartition topic's partition count: declared, else the most tasks of the
    subtopologies writing to it (a fixed point: at most one round per subtopology)."""
    counts = {
        info.name: info.partitions
        for s in topology.subtopologies
        for info in s.repartition_source_topics
    }
    derived = {name for name, n in counts.items() if n <= 0}
    for _round in range(len(topology.subtopologies) + 1):
        changed = False
        for s in topology.subtopologies:
            known = [partition_counts.get(t, 0) for t in sources[s.subtopology_id]]
            known += [counts.get(t, 0) for t in sources[s.subtopology_id] if t in counts]
            tasks = max(known, default=0)
            for sink in s.repartition_sink_topics:
                if sink in derived and tasks > counts.get(sink, 0):
                    counts[sink] = tasks
                    changed = True
        if not changed:
            break
    # A repartition topic nothing writes to (or whose writers have no tasks) still needs one.
    return {name: max(n, 1) for name, n in counts.items()}


def _enforce_copartitioning(
    topology: Topology,
    partition_counts: Mapping[str, int],
    repartition: dict[str, int],
    sources: Mapping[str, tuple[str, ...]],
) -> None:
    for s in topology.subtopologies:
        for group in s.copartition_groups:
            external = [s.source_topics[i] for i in group.source_topics]
            for i in group.source_topic_regex:
                external += _matching(s.source_topic_regex[i], partition_counts)
            internal = [s.repartition_source_topics[i] for i in group.repartition_source_topics]
            external_counts = {partition_counts[t] for t in external}
            if len(external_counts) > 1:
                raise _Incorrect(
                    "Following topics are not copartitioned: "
                    + ", ".join(f"{t} ({partition_counts[t]})" for t in sorted(external))
                )
            fixed = {info.partitions for info in internal if info.partitions > 0}
            if external_counts and fixed and fixed != external_counts:
                raise _Incorrect(
                    "Repartition topics with a fixed partition count are not copartitioned "
                    "with the source topics: "
                    + ", ".join(f"{info.name} ({info.partitions})" for info in internal)
                )
            target = next(iter(external_counts or fixed), 0) or max(
                (repartition[info.name] for info in internal), default=1
            )
            for info in internal:
                repartition[info.name] = target


def _task_count(
    s: Subtopology,
    partition_counts: Mapping[str, int],
    repartition: Mapping[str, int],
    sources: Mapping[str, tuple[str, ...]],
) -> int:
    return max(
        (repartition.get(t) or partition_counts.get(t, 0) for t in sources[s.subtopology_id]),
        default=0,
    )
