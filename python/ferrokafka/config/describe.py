"""DescribeConfigs entries for topics and brokers, computed the way Kafka's broker reports them.

For each key: the effective value (as Kafka prints it), its source, whether it is sensitive or
read-only, and its synonyms, highest precedence first. Synonyms are gathered per source in
Kafka's order (dynamic broker, dynamic default, static, default) and, as Kafka does, the list
is cut until the key's own first broker name appears; so a topic's ``retention.ms`` reports no
synonyms, and source DEFAULT_CONFIG, unless ``log.retention.ms`` itself is set somewhere.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ferrokafka.config import known_keys
from ferrokafka.config.broker import BrokerConfig
from ferrokafka.config.broker_keys import BROKER_KEYS
from ferrokafka.config.definitions import ConfigKey, ConfigType, to_kafka_string
from ferrokafka.config.group import (
    GROUP_KEYS,
    GROUP_SYNONYMS,
    describable_keys,
    effective_group_value,
)
from ferrokafka.config.topic import TOPIC_KEYS, TOPIC_SYNONYMS, TopicConfig


class ConfigSource(enum.IntEnum):
    """DescribeConfigs ``ConfigSource`` ids (Kafka's ``DescribeConfigsResponse.ConfigSource``)."""

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5
    DYNAMIC_BROKER_LOGGER_CONFIG = 6
    CLIENT_METRICS_CONFIG = 7
    GROUP_CONFIG = 8


@dataclass(frozen=True)
class ConfigSynonym:
    name: str
    value: str | None
    source: ConfigSource


@dataclass(frozen=True)
class ConfigEntry:
    """One DescribeConfigs result entry; ``config_type`` is the wire ConfigType id."""

    name: str
    value: str | None
    source: ConfigSource
    is_sensitive: bool
    read_only: bool
    synonyms: tuple[ConfigSynonym, ...]
    config_type: int
    documentation: str | None


# Broker keys that are synonyms of each other (Kafka's DynamicBrokerConfig.brokerConfigSynonyms).
_BROKER_SYNONYM_GROUPS = (
    ("log.roll.ms", "log.roll.hours"),
    ("log.roll.jitter.ms", "log.roll.jitter.hours"),
    ("log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
    ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
)


def broker_synonyms(name: str) -> tuple[str, ...]:
    for group in _BROKER_SYNONYM_GROUPS:
        if name in group:
            return group
    return (name,)


def _as_string(key: ConfigKey | None, value: object) -> str | None:
    if isinstance(value, str) or value is None:
        return value
    config_type = key.type if key is not None else ConfigType.STRING
    return to_kafka_string(config_type, value)


def _layer_strings(layer: Mapping[str, object]) -> dict[str, str | None]:
    return {name: _as_string(known_keys.lookup(name), value) for name, value in layer.items()}


@functools.cache
def _static_defaults() -> Mapping[str, str | None]:
    # Kafka lists only keys whose default is not null as DEFAULT_CONFIG synonyms.
    return MappingProxyType({
        name: to_kafka_string(key.type, key.default)
        for table in (BROKER_KEYS, known_keys.ACCEPTED_KEYS)
        for name, key in table.items()
        if key.default is not None and not key.required
    })  # fmt: skip


def _broker_key_names(broker: BrokerConfig) -> list[str]:
    """Kafka's broker describe: every public key, and the listener-prefixed ones that are set."""
    public = set(BROKER_KEYS) | {
        name for name in known_keys.ACCEPTED_KEYS if name not in known_keys.KAFKA_INTERNAL
    }
    return sorted(public | set(broker.originals))


def is_read_only(key: ConfigKey) -> bool:
    """Read-only unless both ferrokafka and Kafka change the key at run time."""
    return not key.dynamic or known_keys.KAFKA_MODES.get(key.name) == known_keys.READ_ONLY


def _config_synonyms(broker: BrokerConfig, name: str, sensitive: bool) -> list[ConfigSynonym]:
    layers = (
        (_layer_strings(broker.dynamic_broker), ConfigSource.DYNAMIC_BROKER_CONFIG),
        (_layer_strings(broker.dynamic_default), ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
        (_layer_strings(broker.static), ConfigSource.STATIC_BROKER_CONFIG),
        (_static_defaults(), ConfigSource.DEFAULT_CONFIG),
    )
    found: list[ConfigSynonym] = []
    for layer, source in layers:
        for synonym_name in broker_synonyms(name):
            if synonym_name in layer:
                value = None if sensitive else layer[synonym_name]
                found.append(ConfigSynonym(synonym_name, value, source))
    # Kafka's dropWhile(name != ...): keep from the first entry for the key itself.
    for i, synonym in enumerate(found):
        if synonym.name == name:
            return found[i:]
    return []


def describe_topic(
    broker: BrokerConfig,
    topic: TopicConfig,
    names: Iterable[str] | None = None,
    *,
    include_synonyms: bool = True,
    include_documentation: bool = False,
) -> list[ConfigEntry]:
    """Entries of a topic's config (all keys, or ``names``), as Kafka's broker reports them."""
    wanted = sorted(TOPIC_KEYS) if names is None else [n for n in names if n in TOPIC_KEYS]
    entries = []
    for name in wanted:
        key = TOPIC_KEYS[name]
        value = None if key.is_sensitive else to_kafka_string(key.type, topic.values[name])
        synonyms: list[ConfigSynonym] = []
        if name in topic.overrides:
            synonyms.append(ConfigSynonym(name, value, ConfigSource.DYNAMIC_TOPIC_CONFIG))
        if name in TOPIC_SYNONYMS:
            first = TOPIC_SYNONYMS[name][0][0]
            synonyms += _config_synonyms(broker, first, key.is_sensitive)
        source = synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG
        entries.append(
            ConfigEntry(
                name=name,
                value=value,
                source=source,
                is_sensitive=key.is_sensitive,
                read_only=False,  # every topic config can be altered
                synonyms=tuple(synonyms) if include_synonyms else (),
                config_type=key.type.value,
                documentation=key.doc if include_documentation else None,
            )
        )
    return entries


def describe_broker(
    broker: BrokerConfig,
    names: Iterable[str] | None = None,
    *,
    include_synonyms: bool = True,
    include_documentation: bool = False,
) -> list[ConfigEntry]:
    """Entries of this broker's own config (DescribeConfigs with the broker's id)."""
    if names is None:
        wanted = _broker_key_names(broker)
    else:
        wanted = [n for n in names if known_keys.lookup(n) is not None or n in broker.custom]
    entries = []
    for name in wanted:
        key = known_keys.lookup(name)
        if key is None:
            entries.append(_custom_entry(broker, name, include_synonyms))
            continue
        value = None if key.is_sensitive else to_kafka_string(key.type, broker.value(name))
        synonyms = _config_synonyms(broker, name, key.is_sensitive)
        source = synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG
        entries.append(
            ConfigEntry(
                name=name,
                value=value,
                source=source,
                is_sensitive=key.is_sensitive,
                read_only=is_read_only(key),
                synonyms=tuple(synonyms) if include_synonyms else (),
                config_type=key.type.value,
                documentation=key.doc if include_documentation else None,
            )
        )
    return entries


def describe_group(
    broker: BrokerConfig,
    overrides: Mapping[str, str],
    names: Iterable[str] | None = None,
    *,
    include_synonyms: bool = True,
    include_documentation: bool = False,
) -> list[ConfigEntry]:
    """Entries of a group's config (every public key, or ``names``), as Kafka reports them."""
    entries = []
    for name in describable_keys(names):
        key = GROUP_KEYS[name]
        synonyms: list[ConfigSynonym] = []
        if name in overrides:
            synonyms.append(ConfigSynonym(name, overrides[name], ConfigSource.GROUP_CONFIG))
        broker_name = GROUP_SYNONYMS.get(name)
        if broker_name is not None:
            synonyms += _config_synonyms(broker, broker_name, False)
        else:
            default = to_kafka_string(key.type, key.default)
            synonyms.append(ConfigSynonym(name, default, ConfigSource.DEFAULT_CONFIG))
        value = to_kafka_string(key.type, effective_group_value(broker, overrides, name))
        if name in overrides:
            value = overrides[name]
        entries.append(
            ConfigEntry(
                name=name,
                value=value,
                source=synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG,
                is_sensitive=False,
                read_only=False,
                synonyms=tuple(synonyms) if include_synonyms else (),
                config_type=key.type.value,
                documentation=key.doc if include_documentation else None,
            )
        )
    return entries


def _custom_entry(broker: BrokerConfig, name: str, include_synonyms: bool) -> ConfigEntry:
    """A key no one knows, set at run time: Kafka reports it as a sensitive read-only key of
    unknown type (``KafkaConfig.maybeSensitive``), its value hidden."""
    synonyms = _config_synonyms(broker, name, True)
    return ConfigEntry(
        name=name,
        value=None,
        source=synonyms[0].source if synonyms else ConfigSource.UNKNOWN,
        is_sensitive=True,
        read_only=True,
        synonyms=tuple(synonyms) if include_synonyms else (),
        config_type=0,
        documentation=None,
    )
