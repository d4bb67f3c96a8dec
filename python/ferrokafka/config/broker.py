"""The broker's configuration: a ``server.properties`` file plus overrides, checked as Kafka does.

:func:`load_broker_config` reads the file, applies overrides (a dict, or ``key=value`` CLI
flags), parses every key with :data:`BROKER_KEYS` and then applies Kafka's cross-key rules for
a KRaft node (roles, controller listeners, quorum, advertised and inter-broker listeners, log
directories, retention). Every problem is a :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ferrokafka.config import known_keys
from ferrokafka.config.broker_keys import BROKER_KEYS
from ferrokafka.config.definitions import ConfigError, UnknownConfigError
from ferrokafka.config.listeners import (
    INTERNAL_SECURITY_PROTOCOLS,
    SUPPORTED_SECURITY_PROTOCOLS,
    Endpoint,
    QuorumVoter,
    parse_bootstrap_servers,
    parse_listeners,
    parse_protocol_map,
    parse_voters,
)
from ferrokafka.config.properties import merge_overrides, read_properties
from ferrokafka.config.redact import HIDDEN, redact_value
from ferrokafka.config.topic import (
    TopicConfig,
    check_topic_defaults,
    make_topic_config,
    topic_defaults,
)

logger = logging.getLogger(__name__)

SINGLE_NODE_PROPERTIES: Mapping[str, str] = MappingProxyType({
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.quorum.bootstrap.servers": "localhost:9093",
    "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093",
    "advertised.listeners": "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093",
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    # One node cannot hold three replicas of the internal topics.
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
})  # fmt: skip
"""A combined broker+controller on localhost:9092, as Kafka's shipped server.properties sets up."""


class BrokerConfig:
    """A validated broker configuration.

    ``static`` is what ``server.properties`` and overrides said; ``dynamic_default`` and
    ``dynamic_broker`` are cluster-wide and per-broker values set at run time (AlterConfigs),
    which win over it in that order, as in Kafka. ``config[key]`` is a key's typed value.
    """

    def __init__(
        self,
        static: Mapping[str, object],
        *,
        dynamic_default: Mapping[str, object] | None = None,
        dynamic_broker: Mapping[str, object] | None = None,
    ) -> None:
        self.static: Mapping[str, object] = MappingProxyType(dict(static))
        self.dynamic_default: Mapping[str, object] = MappingProxyType(dict(dynamic_default or {}))
        self.dynamic_broker: Mapping[str, object] = MappingProxyType(dict(dynamic_broker or {}))
        _check_static_keys(self.static)
        for layer in (self.dynamic_default, self.dynamic_broker):
            for name in layer:
                key = known_keys.lookup(name)
                if key is not None and not key.dynamic:
                    raise ConfigError(name, layer[name], "read-only; cannot be set dynamically")
        originals = {**self.static, **self.dynamic_default, **self.dynamic_broker}
        self.originals: Mapping[str, object] = MappingProxyType(originals)
        implemented = {k: v for k, v in originals.items() if k in BROKER_KEYS}
        self.values: Mapping[str, Any] = MappingProxyType(BROKER_KEYS.parse(implemented))
        # Keys Kafka knows that ferrokafka accepts without acting on them (known_keys).
        self.accepted: Mapping[str, Any] = MappingProxyType(_parse_accepted(originals))
        # Keys no one knows, set at run time: Kafka keeps those too (custom configs of plugins).
        self.custom: Mapping[str, object] = MappingProxyType({
            name: value for name, value in originals.items() if known_keys.lookup(name) is None
        })  # fmt: skip
        _check_roles(self)
        self.security_protocol_map = _protocol_map(self)
        self.listeners = _listeners(self)
        self.advertised_listeners = _advertised_listeners(self)
        self.inter_broker_listener_name = _inter_broker_listener(self)
        _check_internal_protocols(self)
        self.quorum_voters: list[QuorumVoter] = parse_voters(
            "controller.quorum.voters", self["controller.quorum.voters"]
        )
        self.quorum_bootstrap_servers: list[tuple[str, int]] = parse_bootstrap_servers(
            "controller.quorum.bootstrap.servers", self["controller.quorum.bootstrap.servers"]
        )
        _check_quorum(self)
        self.log_dirs: list[str] = self["log.dirs"] or self["log.dir"]
        self.log_retention_ms = _retention_ms(self)
        set_keys = set(originals)
        defaults = topic_defaults(self.values, set_keys)
        # Kafka's getLogRetentionTimeMillis maps any negative retention to -1 (unlimited).
        defaults["retention.ms"] = self.log_retention_ms
        check_topic_defaults(defaults, set_keys)
        self.topic_defaults: Mapping[str, Any] = MappingProxyType(defaults)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def value(self, name: str) -> Any:
        """Typed value of any key Kafka knows: implemented, else accepted (set or default)."""
        if name in self.values:
            return self.values[name]
        if name in self.accepted:
            return self.accepted[name]
        key = known_keys.lookup(name)
        if key is None:
            raise KeyError(name)
        return key.default

    @property
    def node_id(self) -> int:
        return int(self["node.id"])

    @property
    def process_roles(self) -> tuple[str, ...]:
        return tuple(self["process.roles"])

    @property
    def controller_listener_names(self) -> tuple[str, ...]:
        return tuple(name.upper() for name in self["controller.listener.names"] or ())

    @property
    def log_roll_ms(self) -> int:
        return int(self.topic_defaults["segment.ms"])

    @property
    def log_roll_jitter_ms(self) -> int:
        return int(self.topic_defaults["segment.jitter.ms"])

    @property
    def log_flush_interval_ms(self) -> int:
        return int(self.topic_defaults["flush.ms"])

    def topic_config(self, overrides: Mapping[str, object] | None = None) -> TopicConfig:
        """A topic's effective config: this broker's defaults with the topic's overrides."""
        return make_topic_config(self.topic_defaults, overrides or {})


def load_broker_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, object] | Iterable[str] = (),
) -> BrokerConfig:
    """The config of ``path`` (a ``server.properties``) with ``overrides`` applied; without a
    path, :data:`SINGLE_NODE_PROPERTIES`. Logs one WARNING per key that has no effect here."""
    base = read_properties(path) if path is not None else dict(SINGLE_NODE_PROPERTIES)
    config = BrokerConfig(merge_overrides(base, overrides))
    for name in sorted(config.static):
        key = known_keys.lookup(name)
        if key is not None and not key.applies:
            logger.warning(
                "Configuration %s=%s accepted, has no effect in ferrokafka yet",
                name,
                _shown(name, config.static[name]),
            )
    return config


def _shown(name: str, value: object) -> object:
    """The value as a log line may show it: hidden when Kafka's catalog types the key PASSWORD
    or its name says it is a secret (:mod:`.redact`)."""
    key = known_keys.lookup(name)
    return HIDDEN if key is not None and key.is_sensitive else redact_value(name, value)


def _check_static_keys(static: Mapping[str, object]) -> None:
    """Unknown keys and security keys (known_keys) are refused in server.properties."""
    for name, raw in static.items():
        kind = known_keys.classify(name)
        if kind == known_keys.UNKNOWN:
            raise UnknownConfigError(name, raw, known_keys.suggest(name))
        if kind == known_keys.SECURITY:
            raise ConfigError(name, _shown(name, raw), known_keys.SECURITY_REASON)


def _parse_accepted(originals: Mapping[str, object]) -> dict[str, Any]:
    accepted = {}
    for name, raw in originals.items():
        if name in BROKER_KEYS:
            continue
        key = known_keys.lookup(name)
        if key is not None:  # else custom: only the dynamic layers may hold one
            accepted[name] = key.parse(raw)
    return accepted


def _check_roles(config: BrokerConfig) -> None:
    roles = config["process.roles"]
    if len(set(roles)) != len(roles):
        raise ConfigError("process.roles", ",".join(roles), "duplicate role names")
    broker_id = config["broker.id"]
    if broker_id != -1 and broker_id != config["node.id"]:
        raise ConfigError(
            "broker.id", broker_id, f"must equal node.id ({config['node.id']}) when both are set"
        )
    if not config["controller.listener.names"]:
        raise ConfigError(
            "controller.listener.names",
            config["controller.listener.names"],
            "must contain at least one listener name in KRaft mode",
        )


def _protocol_map(config: BrokerConfig) -> dict[str, str]:
    key = "listener.security.protocol.map"
    mapping = parse_protocol_map(key, config[key])
    if key not in config.originals:
        # Kafka maps unmapped controller listeners to PLAINTEXT when the map was left default.
        for name in config.controller_listener_names:
            mapping.setdefault(name, "PLAINTEXT")
    return mapping


def _check_protocols(
    key: str, value: str, endpoints: list[Endpoint], mapping: dict[str, str]
) -> None:
    for ep in endpoints:
        protocol = mapping.get(ep.name)
        if protocol is None:
            raise ConfigError(
                key,
                value,
                f"no security protocol defined for listener {ep.name} "
                "in listener.security.protocol.map",
            )
        if protocol not in SUPPORTED_SECURITY_PROTOCOLS:
            raise ConfigError(
                key,
                value,
                f"listener {ep.name} uses {protocol}: {known_keys.SECURITY_REASON}; "
                f"ferrokafka supports only {', '.join(SUPPORTED_SECURITY_PROTOCOLS)}",
            )


def _check_internal_protocols(config: BrokerConfig) -> None:
    """The node's own clients (raft, broker-to-controller, replica fetchers) dial PLAINTEXT
    only: a controller or inter-broker listener of another protocol is refused. Only the first
    controller listener is dialed (as in Kafka); the others only serve (admin clients with
    ``--bootstrap-controller``), so they may be of any protocol."""
    internal = [("controller.listener.names", n) for n in config.controller_listener_names[:1]]
    if config.inter_broker_listener_name is not None:
        internal.append(("inter.broker.listener.name", config.inter_broker_listener_name))
    for key, name in internal:
        protocol = config.security_protocol_map.get(name, "PLAINTEXT")
        if protocol not in INTERNAL_SECURITY_PROTOCOLS:
            raise ConfigError(
                key,
                name,
                f"listener {name} uses {protocol}, but ferrokafka's controller and inter-broker "
                f"clients speak only {', '.join(INTERNAL_SECURITY_PROTOCOLS)}: give them a "
                "PLAINTEXT listener",
            )


def _listeners(config: BrokerConfig) -> list[Endpoint]:
    value = config["listeners"]
    endpoints = parse_listeners("listeners", value, require_distinct_ports=True)
    _check_protocols("listeners", value, endpoints, config.security_protocol_map)
    controller_names = set(config.controller_listener_names)
    names = {ep.name for ep in endpoints}
    roles = set(config.process_roles)
    if "controller" in roles and not names & controller_names:
        raise ConfigError(
            "listeners",
            value,
            "must contain a listener named in controller.listener.names "
            "when process.roles contains controller",
        )
    if roles == {"broker"} and names & controller_names:
        raise ConfigError(
            "listeners",
            value,
            "must not contain controller listeners "
            f"({', '.join(sorted(names & controller_names))}) when process.roles=broker",
        )
    if roles == {"controller"} and names - controller_names:
        raise ConfigError(
            "listeners",
            value,
            "must contain only controller listeners when process.roles=controller",
        )
    return endpoints


def _advertised_listeners(config: BrokerConfig) -> list[Endpoint]:
    value = config["advertised.listeners"]
    if value is None:
        return list(config.listeners)
    endpoints = parse_listeners("advertised.listeners", value, require_distinct_ports=False)
    listener_names = {ep.name for ep in config.listeners}
    for ep in endpoints:
        if ep.name not in listener_names:
            raise ConfigError(
                "advertised.listeners", value, f"listener {ep.name} is not defined in listeners"
            )
        if ep.host == "0.0.0.0":
            raise ConfigError(
                "advertised.listeners", value, "cannot use the nonroutable meta-address 0.0.0.0"
            )
    return endpoints


def _inter_broker_listener(config: BrokerConfig) -> str | None:
    explicit_name = config["inter.broker.listener.name"]
    if explicit_name is not None and "security.inter.broker.protocol" in config.originals:
        raise ConfigError(
            "inter.broker.listener.name",
            explicit_name,
            "only one of inter.broker.listener.name and security.inter.broker.protocol may be set",
        )
    if "broker" not in config.process_roles:
        return None
    name = str(explicit_name or config["security.inter.broker.protocol"]).upper()
    key = "inter.broker.listener.name" if explicit_name else "security.inter.broker.protocol"
    if name in config.controller_listener_names:
        raise ConfigError(key, name, "must not be a controller listener")
    advertised = {ep.name for ep in config.advertised_listeners}
    if name not in advertised:
        raise ConfigError(
            key,
            name,
            "must be a listener name defined in advertised.listeners "
            f"(one of {', '.join(sorted(advertised - set(config.controller_listener_names)))})",
        )
    return name


def _check_quorum(config: BrokerConfig) -> None:
    if not config.quorum_voters and not config.quorum_bootstrap_servers:
        raise ConfigError(
            "controller.quorum.bootstrap.servers",
            "",
            "either controller.quorum.bootstrap.servers or controller.quorum.voters must be set",
        )
    voter_ids = {v.node_id for v in config.quorum_voters}
    if "controller" in config.process_roles and voter_ids and config.node_id not in voter_ids:
        raise ConfigError(
            "controller.quorum.voters",
            ",".join(config["controller.quorum.voters"]),
            f"node.id {config.node_id} must be a voter when process.roles contains controller",
        )
    if set(config.process_roles) == {"broker"} and config.node_id in voter_ids:
        raise ConfigError(
            "controller.quorum.voters",
            ",".join(config["controller.quorum.voters"]),
            f"node.id {config.node_id} must not be a voter when process.roles=broker "
            "(a voter runs a controller: add it to process.roles, or give it another id)",
        )


def _retention_ms(config: BrokerConfig) -> int:
    """Kafka's precedence: log.retention.ms, else .minutes, else .hours; negative means -1."""
    if config["log.retention.ms"] is not None:
        key, millis = "log.retention.ms", config["log.retention.ms"]
    elif config["log.retention.minutes"] is not None:
        key, millis = "log.retention.minutes", config["log.retention.minutes"] * 60_000
    else:
        key, millis = "log.retention.hours", config["log.retention.hours"] * 3_600_000
    if millis < 0:
        return -1
    if millis == 0:
        raise ConfigError(key, config[key], "log retention must be unlimited (-1) or at least 1 ms")
    return int(millis)
