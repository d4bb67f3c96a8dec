"""Config changes as ConfigRecords: validation and Kafka's alter-config operations (sans-io).

Topic configs are validated as a whole, the way the topic would run with them: the broker's
defaults plus the new overrides through :class:`ferrokafka.config.TopicConfig`, down to the
storage engine's LogConfig. Broker configs (a broker id, or "" for the cluster-wide default)
are refused as Kafka refuses them (read-only keys, security keys without a listener prefix,
per-broker keys at the cluster level), then validated by building the
:class:`ferrokafka.config.BrokerConfig` they would give; keys Kafka knows that ferrokafka does
not implement are stored like the others (:mod:`ferrokafka.config.known_keys`). Group configs
(a group id; the group need not exist) are validated as Kafka's ``GroupConfig.validate``.

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
from ferrokafka.config import TOPIC_KEYS, BrokerConfig, ConfigError, ConfigType, known_keys
from ferrokafka.config.definitions import to_kafka_string
from ferrokafka.config.group import (
    GROUP_RESOURCE,
    GroupConfigError,
    validate_group_config,
)

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
    # A key no one knows is kept, as Kafka keeps it (DynamicConfig's customPropsAllowed): a
    # plugin's own config. Kafka's DynamicBrokerConfig.validateConfigs, its checks in its order.
    checks = (
        (_read_only, "Cannot update these configs dynamically"),
        (
            lambda name: name in known_keys.DYNAMIC_SECURITY,
            "These security configs can be dynamically updated only per-listener using the "
            "listener prefix",
        ),
    )
    for refused, message in checks:
        names = sorted(name for name in overrides if refused(name))
        if names:
            return ApiError.of(errors.INVALID_REQUEST, f"{message}: [{', '.join(names)}]")
    if resource_name == CLUSTER_DEFAULT_BROKER:
        broker_only = sorted(name for name in overrides if _per_broker(name))
        if broker_only:
            return ApiError.of(
                errors.INVALID_REQUEST,
                "Cannot update these configs at default cluster level, broker id must be "
                f"specified: [{', '.join(broker_only)}]",
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
        # Kafka answers a broker config's ConfigException with INVALID_REQUEST.
        return ApiError.of(errors.INVALID_REQUEST, _config_error(exc).message)
    return SUCCESS


def _read_only(name: str) -> bool:
    key = known_keys.lookup(name)
    if key is None:
        return False  # a custom key
    return not key.dynamic or known_keys.KAFKA_MODES.get(name) == known_keys.READ_ONLY


def _per_broker(name: str) -> bool:
    if known_keys.listener_base(name) is not None:
        return True  # Kafka's listener-prefixed configs are per broker
    return known_keys.KAFKA_MODES.get(name) == known_keys.PER_BROKER


def validate_group_overrides(
    broker: BrokerConfig, resource_name: str, overrides: Mapping[str, str]
) -> ApiError:
    """Kafka's GroupConfig.validate of a group's configs after the change."""
    try:
        validate_group_config(broker, overrides)
    except GroupConfigError as exc:
        return ApiError.of(errors.INVALID_CONFIG, str(exc))
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
    if resource_type == GROUP_RESOURCE:
        if resource_name == "":
            return ApiError.of(errors.INVALID_REQUEST, "Default group resources are not allowed.")
        return SUCCESS  # Kafka keeps configs of groups that do not exist (yet)
    return ApiError.of(errors.INVALID_REQUEST, f"Unsupported resource type {resource_type}.")


def _key_type(resource_type: int, name: str) -> ConfigType | None:
    if resource_type == TOPIC_RESOURCE:
        key = TOPIC_KEYS.get(name)
    else:
        key = known_keys.lookup(name)
    return key.type if key is not None else None


def _current_list(
    broker: BrokerConfig, resource_type: int, name: str, current: Mapping[str, str]
) -> list[str]:
    """The value APPEND and SUBTRACT start from: the override, else the effective default."""
    if name in current:
        raw = current[name]
    elif resource_type == TOPIC_RESOURCE:
        raw = to_kafka_string(ConfigType.LIST, broker.topic_defaults[name]) or ""
    else:
        raw = to_kafka_string(ConfigType.LIST, broker.value(name)) or ""
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
        # Kafka knows the types of broker and topic keys only here: every group key is "not
        # LIST" to APPEND and SUBTRACT.
        if resource_type == GROUP_RESOURCE or _key_type(resource_type, name) is not ConfigType.LIST:
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
    if resource_type == GROUP_RESOURCE:
        return validate_group_overrides(broker, resource_name, overrides)
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
