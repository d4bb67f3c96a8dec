"""Config changes as ConfigRecords: validation and Kafka's alter-config operations (sans-io).

Topic configs are validated as a whole, the way the topic would run with them: the broker's
defaults plus the new overrides through :class:`ferrokafka.config.TopicConfig`, down to the
storage engine's LogConfig. Broker configs (a broker id, or "" for the cluster-wide default)
are validated by building the :class:`ferrokafka.config.BrokerConfig` they would give, which
also refuses keys Kafka cannot change at run time.

IncrementalAlterConfigs operations are Kafka's: SET, DELETE, APPEND and SUBTRACT (the last two
only for LIST keys, starting from the current value). Legacy AlterConfigs replaces a
resource's whole set of overrides. Each answer is a per-resource :class:`ApiError`; records
are only produced for resources that pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ferrokafka.cluster import errors
from ferrokafka.cluster.errors import SUCCESS, ApiError
from ferrokafka.cluster.image import (
    BROKER_RESOURCE,
    CLUSTER_DEFAULT_BROKER,
    TOPIC_RESOURCE,
    MetadataImage,
)
from ferrokafka.cluster.records import ConfigRecord
from ferrokafka.config import BROKER_KEYS, TOPIC_KEYS, BrokerConfig, ConfigError, ConfigType
from ferrokafka.config.definitions import to_kafka_string

# Kafka's AlterConfigOp.OpType ids.
OP_SET = 0
OP_DELETE = 1
OP_APPEND = 2
OP_SUBTRACT = 3
OP_NAMES = {OP_SET: "SET", OP_DELETE: "DELETE", OP_APPEND: "APPEND", OP_SUBTRACT: "SUBTRACT"}

Change = tuple[int, str | None]  # (operation, value)


def _config_error(exc: ConfigError) -> ApiError:
    # Kafka's ConfigException text: "Invalid value V for configuration K: reason".
    if exc.key is None:
        return ApiError.of(errors.INVALID_CONFIG, exc.reason)
    return ApiError.of(
        errors.INVALID_CONFIG,
        f"Invalid value {exc.value} for configuration {exc.key}: {exc.reason}",
    )


def validate_topic_overrides(broker: BrokerConfig, overrides: Mapping[str, str]) -> ApiError:
    """Whether a topic may run with ``overrides`` (raw strings) on top of ``broker``."""
    for name in overrides:
        if name not in TOPIC_KEYS:
            return ApiError.of(errors.INVALID_CONFIG, f"Unknown topic config name: {name}")
    try:
        broker.topic_config(overrides).to_log_config()
    except ConfigError as exc:
        return _config_error(exc)
    return SUCCESS


def validate_broker_overrides(
    broker: BrokerConfig, resource_name: str, overrides: Mapping[str, str], image: MetadataImage
) -> ApiError:
    """Whether the dynamic broker configs of ``resource_name`` may become ``overrides``."""
    if resource_name != CLUSTER_DEFAULT_BROKER and not _is_broker_id(resource_name):
        return ApiError.of(
            errors.INVALID_REQUEST, "Unable to parse broker name as a base 10 number."
        )
    unknown = sorted(name for name in overrides if name not in BROKER_KEYS)
    if unknown:
        return ApiError.of(errors.INVALID_CONFIG, f"Unknown broker config name: {unknown[0]}")
    static = sorted(name for name in overrides if not BROKER_KEYS[name].dynamic)
    if static:
        return ApiError.of(
            errors.INVALID_REQUEST,
            f"Cannot update these configs dynamically: Set({', '.join(static)})",
        )
    cluster = dict(image.broker_config(None))
    per_broker = dict(image.broker_config(broker.node_id))
    if resource_name == CLUSTER_DEFAULT_BROKER:
        cluster = dict(overrides)
    elif int(resource_name) == broker.node_id:
        per_broker = dict(overrides)
    try:
        BrokerConfig(broker.static, dynamic_default=cluster, dynamic_broker=per_broker)
    except ConfigError as exc:
        return _config_error(exc)
    return SUCCESS


def _is_broker_id(name: str) -> bool:
    return name.isascii() and name.isdigit()


def resource_error(image: MetadataImage, resource_type: int, resource_name: str) -> ApiError:
    """Whether the resource can hold configs at all."""
    if resource_type == TOPIC_RESOURCE:
        if image.topic(resource_name) is None:
            return ApiError.of(
                errors.UNKNOWN_TOPIC_OR_PARTITION, f"The topic '{resource_name}' does not exist."
            )
        return SUCCESS
    if resource_type == BROKER_RESOURCE:
        return SUCCESS
    return ApiError.of(errors.INVALID_REQUEST, f"Unsupported resource type {resource_type}.")


def _key_type(resource_type: int, name: str) -> ConfigType | None:
    table = TOPIC_KEYS if resource_type == TOPIC_RESOURCE else BROKER_KEYS
    return table[name].type if name in table else None


def _current_list(
    broker: BrokerConfig, resource_type: int, name: str, current: Mapping[str, str]
) -> list[str]:
    """The value APPEND and SUBTRACT start from: the override, else the effective default."""
    if name in current:
        raw = current[name]
    elif resource_type == TOPIC_RESOURCE:
        raw = to_kafka_string(ConfigType.LIST, broker.topic_defaults[name]) or ""
    else:
        raw = to_kafka_string(ConfigType.LIST, broker[name]) or ""
    return [item for item in (part.strip() for part in raw.split(",")) if item]


def apply_incremental(
    broker: BrokerConfig,
    resource_type: int,
    current: Mapping[str, str],
    changes: Sequence[tuple[str, int, str | None]],
) -> tuple[dict[str, str], ApiError]:
    """``current`` overrides after ``changes`` of (name, operation, value), or an error."""
    result = dict(current)
    seen: set[str] = set()
    for name, op, value in changes:
        if name in seen:
            return result, ApiError.of(errors.INVALID_REQUEST, "Error due to duplicate config keys")
        seen.add(name)
        if op not in OP_NAMES:
            return result, ApiError.of(errors.INVALID_REQUEST, f"Unknown operation type {op}")
        if op == OP_DELETE:
            result.pop(name, None)
            continue
        if value is None:
            return result, ApiError.of(
                errors.INVALID_REQUEST, f"Null value not supported for : {name}"
            )
        if op == OP_SET:
            result[name] = value
            continue
        if _key_type(resource_type, name) is not ConfigType.LIST:
            return result, ApiError.of(
                errors.INVALID_CONFIG,
                f"Can't {OP_NAMES[op]} to key {name} because its type is not LIST.",
            )
        items = _current_list(broker, resource_type, name, current)
        for item in (part.strip() for part in value.split(",")):
            if op == OP_APPEND and item not in items:
                items.append(item)
            elif op == OP_SUBTRACT and item in items:
                items.remove(item)
        result[name] = ",".join(items)
    return result, SUCCESS


def validate_resource(
    broker: BrokerConfig,
    image: MetadataImage,
    resource_type: int,
    resource_name: str,
    overrides: Mapping[str, str],
) -> ApiError:
    if resource_type == TOPIC_RESOURCE:
        return validate_topic_overrides(broker, overrides)
    return validate_broker_overrides(broker, resource_name, overrides, image)


def config_records(
    resource_type: int, resource_name: str, old: Mapping[str, str], new: Mapping[str, str]
) -> list[ConfigRecord]:
    """ConfigRecords taking a resource from ``old`` to ``new`` overrides (None: delete)."""
    out = []
    for name in sorted(set(old) | set(new)):
        if name in new and old.get(name) != new[name]:
            value: str | None = new[name]
        elif name not in new:
            value = None
        else:
            continue
        out.append(
            ConfigRecord(
                resource_type=resource_type, resource_name=resource_name, name=name, value=value
            )
        )
    return out
