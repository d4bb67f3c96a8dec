"""Group configs (config resource type GROUP, 32): Kafka 4.4's ``GroupConfig``.

Keys, types, defaults and ``ConfigDef`` ranges come from :mod:`ferrokafka.config.kafka_keys`.
On top of those, Kafka checks a group's configs against the broker's current bounds
(``GroupConfig.validate``): a consumer group's ``consumer.session.timeout.ms`` must lie within
``group.consumer.min/max.session.timeout.ms``, and so on (:data:`RANGE_BOUNDS`); and a group's
session timeout must exceed its heartbeat interval. The messages are Kafka's.

A key a group does not set takes the broker's value of its synonym (``group.consumer.*``); the
values a coordinator uses are clamped to the broker's bounds of the moment (Kafka's
``GroupConfig.evaluate``), since the bounds may have changed since the group's were set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ferrokafka.config.definitions import (
    ConfigError,
    ConfigKey,
    ConfigTable,
    ConfigType,
    parse_typed,
)
from ferrokafka.config.kafka_keys import GROUP_ROWS
from ferrokafka.config.known_keys import range_validator

# Kafka's ConfigResource.Type.GROUP id.
GROUP_RESOURCE = 32

# Group key -> (broker key of its lowest allowed value, of its highest); None: unbounded.
RANGE_BOUNDS: Mapping[str, tuple[str | None, str | None]] = {
    "consumer.heartbeat.interval.ms": (
        "group.consumer.min.heartbeat.interval.ms",
        "group.consumer.max.heartbeat.interval.ms",
    ),
    "consumer.session.timeout.ms": (
        "group.consumer.min.session.timeout.ms",
        "group.consumer.max.session.timeout.ms",
    ),
    "consumer.assignment.interval.ms": (
        "group.consumer.min.assignment.interval.ms",
        "group.consumer.max.assignment.interval.ms",
    ),
    "share.heartbeat.interval.ms": (
        "group.share.min.heartbeat.interval.ms",
        "group.share.max.heartbeat.interval.ms",
    ),
    "share.session.timeout.ms": (
        "group.share.min.session.timeout.ms",
        "group.share.max.session.timeout.ms",
    ),
    "share.record.lock.duration.ms": (
        "group.share.min.record.lock.duration.ms",
        "group.share.max.record.lock.duration.ms",
    ),
    "share.delivery.count.limit": (
        "group.share.min.delivery.count.limit",
        "group.share.max.delivery.count.limit",
    ),
    "share.partition.max.record.locks": (
        "group.share.min.partition.max.record.locks",
        "group.share.max.partition.max.record.locks",
    ),
    "share.assignment.interval.ms": (
        "group.share.min.assignment.interval.ms",
        "group.share.max.assignment.interval.ms",
    ),
    "streams.heartbeat.interval.ms": (
        "group.streams.min.heartbeat.interval.ms",
        "group.streams.max.heartbeat.interval.ms",
    ),
    "streams.session.timeout.ms": (
        "group.streams.min.session.timeout.ms",
        "group.streams.max.session.timeout.ms",
    ),
    "streams.num.standby.replicas": (None, "group.streams.max.standby.replicas"),
    "streams.assignment.interval.ms": (
        "group.streams.min.assignment.interval.ms",
        "group.streams.max.assignment.interval.ms",
    ),
    "streams.task.offset.interval.ms": ("group.streams.min.task.offset.interval.ms", None),
    "streams.num.warmup.replicas": (None, "group.streams.max.warmup.replicas"),
}
# (session timeout key, heartbeat interval key) pairs: the first must exceed the second.
SESSION_OVER_HEARTBEAT = (
    ("consumer.session.timeout.ms", "consumer.heartbeat.interval.ms"),
    ("share.session.timeout.ms", "share.heartbeat.interval.ms"),
    ("streams.session.timeout.ms", "streams.heartbeat.interval.ms"),
)
DLQ_TOPIC = "errors.deadletterqueue.topic.name"
RACK_TAGS = "streams.rack.aware.assignment.tags"
ASSIGNOR_NAME = "streams.assignor.name"
AUTO_OFFSET_RESET = "share.auto.offset.reset"
_AUTO_OFFSET_RESET_PREFIX = "by_duration:"


def _auto_offset_reset(value: Any) -> str | None:
    # Kafka's ShareGroupAutoOffsetResetStrategy validator.
    if value in ("earliest", "latest"):
        return None
    if isinstance(value, str) and value.startswith(_AUTO_OFFSET_RESET_PREFIX):
        duration = value[len(_AUTO_OFFSET_RESET_PREFIX) :]
        if duration.startswith("P") and len(duration) > 1 and not duration.startswith("P-"):
            return None
    return (
        f"Invalid value `{value}` for configuration {AUTO_OFFSET_RESET}. The value must be "
        "either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."
    )


def _one_of(*choices: str) -> Any:
    def check(value: Any) -> str | None:
        if value is not None and value not in choices:
            return f"String must be one of: {', '.join(choices)}"
        return None

    return check


_GroupRow = tuple[str, str, str | None, str | None, bool, str | None, str | None]


def _group_key(row: _GroupRow) -> ConfigKey:
    name, type_name, default, validator, _internal, _synonym, doc = row
    config_type = ConfigType[type_name]
    check = range_validator(validator, config_type)
    if name == AUTO_OFFSET_RESET:
        check = _auto_offset_reset
    elif name == "share.isolation.level":
        check = _one_of("read_committed", "read_uncommitted")
    default_value = parse_typed(name, config_type, default)
    return ConfigKey(name, config_type, default_value, doc or "", check)


GROUP_KEYS = ConfigTable(_group_key(row) for row in GROUP_ROWS)
"""Every group config key of Kafka, internal ones included (they may be set, not described)."""
GROUP_INTERNAL: frozenset[str] = frozenset(row[0] for row in GROUP_ROWS if row[4])
GROUP_SYNONYMS: Mapping[str, str] = {row[0]: row[5] for row in GROUP_ROWS if row[5]}
"""Group key -> the broker key whose value a group that does not set it takes."""


class GroupConfigError(ValueError):
    """A group config Kafka refuses with INVALID_CONFIG; the message is Kafka's."""


def _broker_int(broker: Any, name: str) -> int:
    return int(broker.value(name))


def broker_default(broker: Any, name: str) -> Any:
    """The value a group that does not set ``name`` takes: its broker synonym's, else the key's
    own default. ``streams.assignor.name`` takes the first of ``group.streams.assignors``."""
    synonym = GROUP_SYNONYMS.get(name)
    if synonym is None:
        return GROUP_KEYS[name].default
    value = broker.value(synonym)
    if name == ASSIGNOR_NAME:
        return value[0] if value else None
    return value


def validate_group_config(broker: Any, overrides: Mapping[str, str]) -> None:
    """Kafka's ``GroupConfig.validate`` of a group's whole set of overrides (raw strings)."""
    for name in overrides:
        if name not in GROUP_KEYS:
            raise GroupConfigError(f"Unknown group config name: {name}")
    if RACK_TAGS in overrides:
        tags = [t for t in (p.strip() for p in overrides[RACK_TAGS].split(",")) if t]
        if len(set(tags)) != len(tags):
            raise GroupConfigError(f"{RACK_TAGS} must not contain duplicate tag keys.")
    values: dict[str, Any] = {}
    for name, raw in overrides.items():
        try:
            values[name] = GROUP_KEYS[name].parse(raw)
        except ConfigError as exc:
            raise GroupConfigError(
                f"Invalid value {exc.value} for configuration {exc.key}: {exc.reason}"
            ) from exc
    _check_bounds(broker, values)
    if ASSIGNOR_NAME in values:
        assignors = list(broker.value("group.streams.assignors") or [])
        if values[ASSIGNOR_NAME] not in assignors:
            raise GroupConfigError(
                f"{ASSIGNOR_NAME} '{values[ASSIGNOR_NAME]}' is not a registered task assignor. "
                f"Registered assignors are: [{', '.join(assignors)}]."
            )
    for session_key, heartbeat_key in SESSION_OVER_HEARTBEAT:
        if session_key in values or heartbeat_key in values:
            session = values.get(session_key, broker_default(broker, session_key))
            heartbeat = values.get(heartbeat_key, broker_default(broker, heartbeat_key))
            if session <= heartbeat:
                raise GroupConfigError(f"{session_key} must be greater than {heartbeat_key}")
    dlq = values.get(DLQ_TOPIC)
    if dlq and dlq.startswith("__"):
        raise GroupConfigError(f"{DLQ_TOPIC}: DLQ topic name must not start with '__'")


def _check_bounds(broker: Any, values: Mapping[str, Any]) -> None:
    for name, (low_key, high_key) in RANGE_BOUNDS.items():
        if name not in values:
            continue
        value = values[name]
        low = _broker_int(broker, low_key) if low_key else None
        high = _broker_int(broker, high_key) if high_key else None
        if low is not None and high is not None:
            if not low <= value <= high:
                raise GroupConfigError(f"{name} must be in the range {low} to {high} inclusive.")
        elif high is not None and value > high:
            raise GroupConfigError(f"{name} must be less than or equal to {high}")
        elif low is not None and value < low:
            raise GroupConfigError(f"{name} must be greater than or equal to {low}")


def effective_group_value(broker: Any, overrides: Mapping[str, str], name: str) -> Any:
    """The value a coordinator uses for a group: its override clamped to the broker's current
    bounds (Kafka's ``GroupConfig.evaluate``), else the broker's value."""
    if name not in overrides:
        return broker_default(broker, name)
    try:
        value = GROUP_KEYS[name].parse(overrides[name])
    except ConfigError:
        return broker_default(broker, name)  # validated when written; a broken log
    low_key, high_key = RANGE_BOUNDS.get(name, (None, None))
    if low_key is not None:
        value = max(value, _broker_int(broker, low_key))
    if high_key is not None:
        value = min(value, _broker_int(broker, high_key))
    return value


def describable_keys(names: Iterable[str] | None) -> list[str]:
    """The keys DescribeConfigs reports: the asked ones Kafka knows (internal ones too, as
    Kafka), else every public one."""
    if names is None:
        return sorted(name for name in GROUP_KEYS if name not in GROUP_INTERNAL)
    return [name for name in names if name in GROUP_KEYS]
