"""Which broker keys Kafka knows, and what ferrokafka does with each (start-up and AlterConfigs).

:mod:`ferrokafka.config.kafka_keys` lists every key Kafka 4.4's broker accepts. A key is

- *implemented*: in :data:`~ferrokafka.config.broker_keys.BROKER_KEYS`; parsed and used;
- *security*: TLS, SASL or ACL settings (``ssl.*``, ``sasl.*``, ``authorizer.class.name``,
  ``super.users``, ``principal.builder.class``, ``listener.name.X.ssl.*``/``sasl.*``, ...).
  ``server.properties`` may not set them: a broker that silently ran without the TLS or
  authentication its file asks for would be a security hole (issue 18 implements them);
- *accepted*: any other key Kafka knows (or one of Kafka's ``listener.name.X.`` forms); parsed
  with Kafka's type and range, stored, reported by DescribeConfigs, but without effect here;
- *unknown*: neither; refused as "Unknown configuration" (most likely a typo).

Accepted keys are turned into :class:`ConfigKey` rows with ``applies=False`` so the rest of
the config layer (parsing, DescribeConfigs, AlterConfigs) treats them like any other key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ferrokafka.config.broker_keys import BROKER_KEYS
from ferrokafka.config.definitions import (
    NO_DEFAULT,
    ConfigKey,
    ConfigTable,
    ConfigType,
    Validator,
    at_least,
    between,
    parse_typed,
)
from ferrokafka.config.kafka_keys import BROKER_ROWS, KAFKA_VERSION, REQUIRED

IMPLEMENTED = "implemented"
ACCEPTED = "accepted"
SECURITY = "security"
UNKNOWN = "unknown"

READ_ONLY = "read-only"
PER_BROKER = "per-broker"
CLUSTER_WIDE = "cluster-wide"

SECURITY_REASON = (
    "not supported yet (ferrokafka implements TLS, SASL PLAIN/SCRAM/OAUTHBEARER and ACLs; "
    "this security setting is beyond them)"
)
NO_EFFECT_DOC = (
    f"Accepted for compatibility with Apache Kafka {KAFKA_VERSION}; "
    "has no effect in ferrokafka yet."
)

_SECURITY_PREFIXES = ("ssl.", "sasl.", "delegation.token.")
_SECURITY_NAMES = frozenset({
    "authorizer.class.name",
    "super.users",  # the authorizer's
    "principal.builder.class",
    "security.providers",
    "connections.max.reauth.ms",
    "connection.failed.authentication.delay.ms",
    # StandardAuthorizer's own keys: not in the broker's ConfigDef, but read from the same file.
    "allow.everyone.if.no.acl.found",
})  # fmt: skip
# Kafka's per-listener form of a key: listener.name.<listener>.<key> (and, for SASL,
# listener.name.<listener>.<mechanism>.sasl.*).
_LISTENER_PREFIX = re.compile(r"listener\.name\.([^.]+)\.(.+)")
# ConfigDef.Range.toString: "[1,...]", "[0,...,100]", "[...,5]".
_RANGE = re.compile(r"\[(-?[0-9.E]+)?,\.\.\.(?:,(-?[0-9.E]+))?\]")
_NUMERIC = (ConfigType.SHORT, ConfigType.INT, ConfigType.LONG, ConfigType.DOUBLE)


def _number(text: str, config_type: ConfigType) -> int | float:
    return float(text) if config_type is ConfigType.DOUBLE else int(float(text))


def range_validator(description: str | None, config_type: ConfigType) -> Validator | None:
    """Kafka's ``Range`` validator from its description; other validators are not rebuilt."""
    if description is None or config_type not in _NUMERIC:
        return None
    match = _RANGE.fullmatch(description)
    if match is None:
        return None
    low, high = match.groups()
    if low is not None and high is not None:
        return between(_number(low, config_type), _number(high, config_type))
    if low is not None:
        return at_least(_number(low, config_type))
    return None


def _catalog_key(row: tuple[str, str, str | None, str | None, bool, str, bool]) -> ConfigKey:
    name, type_name, default, validator, _internal, mode, _security = row
    config_type = ConfigType[type_name]
    if default == REQUIRED:
        typed: Any = NO_DEFAULT
    else:
        typed = parse_typed(name, config_type, default)
    return ConfigKey(
        name,
        config_type,
        typed,
        NO_EFFECT_DOC,
        range_validator(validator, config_type),
        dynamic=mode != READ_ONLY,
        applies=False,
    )


KAFKA_MODES: Mapping[str, str] = MappingProxyType({row[0]: row[5] for row in BROKER_ROWS})
"""Kafka's dynamic update mode of each key: read-only, per-broker or cluster-wide."""
KAFKA_INTERNAL: frozenset[str] = frozenset(row[0] for row in BROKER_ROWS if row[4])
DYNAMIC_SECURITY: frozenset[str] = frozenset(row[0] for row in BROKER_ROWS if row[6])
"""Keys Kafka changes at run time only in their listener.name.X. form (keystores, ...)."""

ACCEPTED_KEYS = ConfigTable(_catalog_key(row) for row in BROKER_ROWS if row[0] not in BROKER_KEYS)
"""Every key Kafka's broker knows that ferrokafka does not implement, as no-effect rows."""


LISTENER_LIMIT_KEYS = frozenset({"max.connections", "max.connection.creation.rate"})
"""Keys Kafka also reads per listener (listener.name.X.<key>) that ferrokafka applies."""


def listener_base(name: str) -> str | None:
    """``ssl.keystore.location`` for ``listener.name.external.ssl.keystore.location``."""
    match = _LISTENER_PREFIX.fullmatch(name)
    if match is None:
        return None
    rest = match.group(2)
    if rest in KAFKA_MODES:
        return rest
    # listener.name.X.<mechanism>.sasl.jaas.config and friends.
    mechanism_rest = rest.split(".", 1)
    if len(mechanism_rest) == 2 and mechanism_rest[1] in KAFKA_MODES:
        return mechanism_rest[1]
    return None


def is_security_key(name: str) -> bool:
    match = _LISTENER_PREFIX.fullmatch(name)
    # listener.name.X.<key> and listener.name.X.<mechanism>.<key>
    candidates = (match.group(2), match.group(2).split(".", 1)[-1]) if match else (name,)
    return any(c.startswith(_SECURITY_PREFIXES) or c in _SECURITY_NAMES for c in candidates)


def classify(name: str) -> str:
    """IMPLEMENTED, SECURITY, ACCEPTED or UNKNOWN (see the module doc)."""
    if name in BROKER_KEYS or (is_security_key(name) and listener_base(name) in BROKER_KEYS):
        return IMPLEMENTED
    if is_security_key(name):
        return SECURITY  # known to Kafka or not: a misspelt ssl.* key still asks for TLS
    if name in ACCEPTED_KEYS or listener_base(name) is not None:
        return ACCEPTED
    return UNKNOWN


def lookup(name: str) -> ConfigKey | None:
    """The row of any key a broker may hold: implemented, accepted, or listener-prefixed."""
    if name in BROKER_KEYS:
        return BROKER_KEYS[name]
    if name in ACCEPTED_KEYS:
        return ACCEPTED_KEYS[name]
    base = listener_base(name)
    if base is None:
        return None
    key = BROKER_KEYS.get(base) or ACCEPTED_KEYS[base]
    # Kafka's listener-prefixed keys are per-broker dynamic configs of that listener; they
    # apply when their base key does and is a security key (read per listener: server/tls/)
    # or a listener's connection limit (server/server.py).
    applies = (
        base in BROKER_KEYS
        and key.applies
        and (is_security_key(base) or base in LISTENER_LIMIT_KEYS)
    )
    return ConfigKey(name, key.type, None, key.doc, key.validator, dynamic=True, applies=applies)


def suggest(name: str) -> str | None:
    return BROKER_KEYS.suggest(name) or ACCEPTED_KEYS.suggest(name)
