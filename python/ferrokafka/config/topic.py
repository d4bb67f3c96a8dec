"""Topic-level configs: Kafka's keys, their broker synonyms, and the native LogConfig they make.

A topic's effective value of a key is its own override if it has one, else the broker's
value of the key's synonyms (``segment.ms`` <- ``log.roll.ms`` <- ``log.roll.hours`` x 3.6e6),
else Kafka's default. The synonym table is Kafka's ``ServerTopicConfigSynonyms``, in its
order: the first synonym that is set wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ferrokafka.config.broker_keys import BROKER_KEYS
from ferrokafka.config.definitions import (
    LONG_MAX,
    ConfigError,
    ConfigKey,
    ConfigTable,
    ConfigType,
    UnknownConfigError,
    at_least,
)
from ferrokafka.config.log_keys import HOUR_MS, MINUTE_MS

if TYPE_CHECKING:
    from ferrokafka._ferrokafka import LogConfig

_B = ConfigType.BOOLEAN
_S = ConfigType.STRING
_I = ConfigType.INT
_L = ConfigType.LONG
_D = ConfigType.DOUBLE
_LIST = ConfigType.LIST

TOPIC_SYNONYMS: Mapping[str, tuple[tuple[str, int], ...]] = MappingProxyType({
    "segment.bytes": (("log.segment.bytes", 1),),
    "segment.ms": (("log.roll.ms", 1), ("log.roll.hours", HOUR_MS)),
    "segment.jitter.ms": (("log.roll.jitter.ms", 1), ("log.roll.jitter.hours", HOUR_MS)),
    "segment.index.bytes": (("log.index.size.max.bytes", 1),),
    "flush.messages": (("log.flush.interval.messages", 1),),
    "flush.ms": (("log.flush.interval.ms", 1), ("log.flush.scheduler.interval.ms", 1)),
    "retention.bytes": (("log.retention.bytes", 1),),
    "retention.ms": (
        ("log.retention.ms", 1),
        ("log.retention.minutes", MINUTE_MS),
        ("log.retention.hours", HOUR_MS),
    ),
    "max.message.bytes": (("message.max.bytes", 1),),
    "index.interval.bytes": (("log.index.interval.bytes", 1),),
    "delete.retention.ms": (("log.cleaner.delete.retention.ms", 1),),
    "min.compaction.lag.ms": (("log.cleaner.min.compaction.lag.ms", 1),),
    "max.compaction.lag.ms": (("log.cleaner.max.compaction.lag.ms", 1),),
    "file.delete.delay.ms": (("log.segment.delete.delay.ms", 1),),
    "min.cleanable.dirty.ratio": (("log.cleaner.min.cleanable.ratio", 1),),
    "cleanup.policy": (("log.cleanup.policy", 1),),
    "unclean.leader.election.enable": (("unclean.leader.election.enable", 1),),
    "min.insync.replicas": (("min.insync.replicas", 1),),
    "compression.type": (("compression.type", 1),),
    "compression.gzip.level": (("compression.gzip.level", 1),),
    "compression.lz4.level": (("compression.lz4.level", 1),),
    "compression.zstd.level": (("compression.zstd.level", 1),),
    "preallocate": (("log.preallocate", 1),),
    "message.timestamp.type": (("log.message.timestamp.type", 1),),
    "message.timestamp.before.max.ms": (("log.message.timestamp.before.max.ms", 1),),
    "message.timestamp.after.max.ms": (("log.message.timestamp.after.max.ms", 1),),
})  # fmt: skip
"""Topic key -> broker synonyms in precedence order, each with its factor to the topic unit."""


def _throttled_replicas(value: object) -> str | None:
    # Kafka's ThrottledReplicaListValidator: "*" alone, or partition:broker pairs.
    assert isinstance(value, list)
    if value == ["*"]:
        return None
    for item in value:
        partition, sep, broker = item.partition(":")
        if not (sep and partition.strip().isdigit() and broker.strip().isdigit()):
            return "must be the literal '*' or a list of replicas as partition:broker pairs"
    return None


def _scaled(value: Any, factor: int) -> Any:
    # Only duration synonyms (hours, minutes) have a factor; booleans and lists must not be
    # multiplied (False * 1 is 0, not False).
    return value if factor == 1 else value * factor


def _no_tiered_storage(value: object) -> str | None:
    return "ferrokafka has no tiered storage" if value else None


def _from_broker(name: str, doc: str, validator: Any = None) -> ConfigKey:
    """A topic key whose type and default are its first broker synonym's."""
    synonyms = TOPIC_SYNONYMS[name]
    first = BROKER_KEYS[synonyms[0][0]]
    # log.roll.ms, log.retention.ms... have no default: the first synonym that has one gives it
    # (log.roll.hours = 168 -> 604800000 ms).
    default = next(
        _scaled(BROKER_KEYS[s].default, f)
        for s, f in synonyms
        if BROKER_KEYS[s].default is not None
    )
    return ConfigKey(name, first.type, default, doc, validator or first.validator, True)


# fmt: off
def _topic_keys() -> tuple[ConfigKey, ...]:
    return (
        _from_broker("cleanup.policy", "delete, compact, or both (or empty: keep everything)."),
        _from_broker("compression.type", "Codec batches are stored with (producer: as sent)."),
        _from_broker("compression.gzip.level", "gzip level when compression.type=gzip."),
        _from_broker("compression.lz4.level", "lz4 level when compression.type=lz4."),
        _from_broker("compression.zstd.level", "zstd level when compression.type=zstd."),
        _from_broker("delete.retention.ms", "How long, in ms, tombstones stay after compaction."),
        _from_broker("file.delete.delay.ms", "How long, in ms, deleted segment files linger."),
        _from_broker("flush.messages", "Records between two fsyncs (default: never)."),
        _from_broker("flush.ms", "Longest time, in ms, between two fsyncs (default: never).",
                     at_least(0)),
        _from_broker("index.interval.bytes", "Bytes between two offset index entries."),
        _from_broker("max.compaction.lag.ms", "Oldest age, in ms, of an uncompacted record."),
        _from_broker("max.message.bytes", "Largest record batch accepted, in bytes."),
        _from_broker("message.timestamp.type", "CreateTime or LogAppendTime."),
        _from_broker("message.timestamp.before.max.ms",
                     "How far, in ms, a CreateTime timestamp may lie in the past."),
        _from_broker("message.timestamp.after.max.ms",
                     "How far, in ms, a CreateTime timestamp may lie in the future."),
        _from_broker("min.cleanable.dirty.ratio", "Dirty share above which the log is compacted."),
        _from_broker("min.compaction.lag.ms", "Youngest age, in ms, at which a record compacts."),
        _from_broker("min.insync.replicas", "Replicas that must have an acks=all write."),
        _from_broker("preallocate", "Whether segment files are preallocated."),
        _from_broker("retention.bytes", "Partition size above which old segments go (-1: none)."),
        _from_broker("retention.ms", "How long, in ms, closed segments are kept (-1: forever).",
                     at_least(-1)),
        _from_broker("segment.bytes", "Size at which the active segment rolls."),
        _from_broker("segment.index.bytes", "Largest size of a segment's offset index."),
        _from_broker("segment.jitter.ms", "Largest random reduction, in ms, of segment.ms.",
                     at_least(0)),
        _from_broker("segment.ms", "Age, in ms, at which the active segment rolls.",
                     at_least(1)),
        _from_broker("unclean.leader.election.enable",
                     "Whether an out-of-sync replica may become leader."),
        ConfigKey("leader.replication.throttled.replicas", _LIST, [],
                  "Replicas (partition:broker, or *) whose leader-side replication is throttled.",
                  _throttled_replicas, True),
        ConfigKey("follower.replication.throttled.replicas", _LIST, [],
                  "Replicas (partition:broker, or *) whose follower-side replication is "
                  "throttled.", _throttled_replicas, True),
        ConfigKey("errors.deadletterqueue.group.enable", _B, False,
                  "Whether share groups may write their dead-letter queue records to this "
                  "topic (KIP-1191).", None, True),
        ConfigKey("remote.storage.enable", _B, False,
                  "Tiered storage; accepted only as false, since ferrokafka has none.",
                  _no_tiered_storage, True),
    )
# fmt: on


TOPIC_KEYS = ConfigTable(sorted(_topic_keys(), key=lambda k: k.name))
"""Every topic-level key ferrokafka accepts, sorted by name (as Kafka documents them)."""


@dataclass(frozen=True)
class TopicConfig:
    """A topic's effective config: ``values`` of every key; ``overrides`` are the keys the
    topic itself sets (typed), ``raw_overrides`` the same as given (strings)."""

    values: Mapping[str, Any]
    overrides: Mapping[str, Any] = field(default_factory=dict)
    raw_overrides: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def to_log_config(self) -> LogConfig:
        """The native storage engine's LogConfig. Kafka's "unlimited" sentinels become None:
        retention -1 (any negative retention.bytes), flush and timestamp bounds Long.MAX."""
        from ferrokafka._ferrokafka import LogConfig, LogConfigError

        v = self.values
        kwargs: dict[str, Any] = {
            "segment_bytes": v["segment.bytes"],
            "segment_ms": v["segment.ms"],
            "segment_index_bytes": v["segment.index.bytes"],
            "index_interval_bytes": v["index.interval.bytes"],
            "retention_ms": None if v["retention.ms"] < 0 else v["retention.ms"],
            "retention_bytes": None if v["retention.bytes"] < 0 else v["retention.bytes"],
            "flush_messages": _unbounded(v["flush.messages"]),
            "flush_ms": _unbounded(v["flush.ms"]),
            "max_message_bytes": v["max.message.bytes"],
            "message_timestamp_type": v["message.timestamp.type"],
            "message_timestamp_before_max_ms": _unbounded(v["message.timestamp.before.max.ms"]),
            "message_timestamp_after_max_ms": _unbounded(v["message.timestamp.after.max.ms"]),
            "compression_type": v["compression.type"],
            "cleanup_policy": list(v["cleanup.policy"]),
            "delete_retention_ms": v["delete.retention.ms"],
            "min_compaction_lag_ms": v["min.compaction.lag.ms"],
            "max_compaction_lag_ms": _unbounded(v["max.compaction.lag.ms"]),
            "min_cleanable_dirty_ratio": float(v["min.cleanable.dirty.ratio"]),
        }
        try:
            return LogConfig(**kwargs)
        except LogConfigError as e:
            # The engine has its own (tighter) floors, e.g. an index must hold 3 entries.
            match = re.search(r"invalid log config: (\w+)", str(e))
            key = match.group(1).replace("_", ".") if match else None
            value = v.get(key) if key else None
            raise ConfigError(key, value, f"not accepted by the storage engine: {e}") from e


def _unbounded(value: int) -> int | None:
    return None if value == LONG_MAX else value


def topic_defaults(broker_values: Mapping[str, Any], broker_set: set[str]) -> dict[str, Any]:
    """Each topic key's value from the broker: the first synonym set in ``broker_set`` (the
    keys the broker's configuration names), converted; else the first synonym's value with a
    default; else the topic key's own default."""
    result: dict[str, Any] = {}
    for name, key in TOPIC_KEYS.items():
        synonyms = TOPIC_SYNONYMS.get(name, ())
        chosen = next(((s, f) for s, f in synonyms if s in broker_set), None)
        if chosen is None:
            chosen = next(((s, f) for s, f in synonyms if broker_values.get(s) is not None), None)
        if chosen is None:
            result[name] = key.default
            continue
        synonym, factor = chosen
        result[name] = _scaled(broker_values[synonym], factor)
    return result


def check_topic_defaults(defaults: Mapping[str, Any], broker_set: set[str]) -> None:
    """Validate inherited values with the topic keys' validators, naming the broker key that
    supplied a bad value (Kafka fails at startup in that case too)."""
    for name, value in defaults.items():
        key = TOPIC_KEYS[name]
        reason = key.validator(value) if key.validator else None
        if reason is not None:
            synonyms = [s for s, _ in TOPIC_SYNONYMS.get(name, ()) if s in broker_set]
            raise ConfigError(synonyms[0] if synonyms else name, value, reason)


def make_topic_config(defaults: Mapping[str, Any], overrides: Mapping[str, object]) -> TopicConfig:
    """``defaults`` (from :func:`topic_defaults`) with the topic's ``overrides`` on top."""
    for name, raw in overrides.items():
        if name not in TOPIC_KEYS:
            raise UnknownConfigError(name, raw, TOPIC_KEYS.suggest(name))
    typed = {name: TOPIC_KEYS[name].parse(raw) for name, raw in overrides.items()}
    values = {**defaults, **typed}
    # Kafka's LogConfig.validateValues: the one cross-key rule of topic configs.
    if values["min.compaction.lag.ms"] > values["max.compaction.lag.ms"]:
        raise ConfigError(
            "min.compaction.lag.ms",
            values["min.compaction.lag.ms"],
            f"conflict topic config setting min.compaction.lag.ms "
            f"({values['min.compaction.lag.ms']}) > max.compaction.lag.ms "
            f"({values['max.compaction.lag.ms']})",
        )
    raw = {n: r if isinstance(r, str) else str(r) for n, r in overrides.items()}
    return TopicConfig(MappingProxyType(values), MappingProxyType(typed), MappingProxyType(raw))
