"""What the node's own clients need to dial a listener of another node: the listener's security
protocol, its ``ssl.*`` values (the client side of the same keystore and truststore, as Kafka's
inter-broker channel builder reads them) and the SASL mechanism with the client credentials.

Two listeners matter (Kafka's): the first of ``controller.listener.names`` (raft between
controllers, brokers' heartbeats, registration and forwarded requests), with
``sasl.mechanism.controller.protocol``; and the inter-broker listener (replica fetchers, the
transaction coordinator's markers and verification), with
``sasl.mechanism.inter.broker.protocol``. The credentials are the ``username``/``password``
options of the listener's JAAS entry for that mechanism (PlainLoginModule, ScramLoginModule):
``listener.name.<listener>.<mechanism>.sasl.jaas.config``, then ``listener.name.<listener>.
sasl.jaas.config``, then ``sasl.jaas.config`` — the lookup the listener's server side uses, so
one entry names both what the broker accepts and who it is when it dials.

Pure: nothing is opened here; cluster/connector/ turns these settings into an SSLContext and
a SASL exchange. Anything that cannot work is a one-line :class:`ConfigError` at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ferrokafka.config.definitions import ConfigError
from ferrokafka.config.jaas import JaasConfigError, parse_jaas_config
from ferrokafka.config.listeners import TLS_PROTOCOLS

if TYPE_CHECKING:
    from ferrokafka.config.broker import BrokerConfig

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
# Mechanisms the node's own clients speak (OAUTHBEARER would need a token provider: refused).
CLIENT_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
CONTROLLER_MECHANISM_KEY = "sasl.mechanism.controller.protocol"
INTER_BROKER_MECHANISM_KEY = "sasl.mechanism.inter.broker.protocol"
JAAS_KEY = "sasl.jaas.config"
# The client's session: Kafka's SaslClientAuthenticator re-authenticates at a random point
# between 85 % and 95 % of the session lifetime the server announced (KIP-368).
REAUTH_FRACTION = 0.85


@dataclass(frozen=True)
class SaslClientSettings:
    mechanism: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class InternodeSettings:
    """How to dial ``listener``: ``protocol``, its ``ssl.*`` values when TLS, SASL when SASL."""

    listener: str
    protocol: str
    tls_values: dict[str, Any] | None = field(default=None, repr=False)
    sasl: SaslClientSettings | None = None

    @property
    def uses_tls(self) -> bool:
        return self.protocol in TLS_PROTOCOLS


PLAINTEXT_SETTINGS = InternodeSettings("PLAINTEXT", "PLAINTEXT")


def controller_settings(config: BrokerConfig) -> InternodeSettings:
    """How this node dials controllers (its first controller listener)."""
    return internode_settings(
        config, config.controller_listener_names[0], CONTROLLER_MECHANISM_KEY, "controller"
    )


def inter_broker_settings(config: BrokerConfig) -> InternodeSettings:
    """How this broker dials other brokers (PLAINTEXT settings when it is no broker)."""
    listener = config.inter_broker_listener_name
    if listener is None:
        return PLAINTEXT_SETTINGS
    return internode_settings(config, listener, INTER_BROKER_MECHANISM_KEY, "inter-broker")


def internode_settings(
    config: BrokerConfig, listener: str, mechanism_key: str, purpose: str
) -> InternodeSettings:
    from ferrokafka.config.tls_settings import listener_values  # imports config.broker

    protocol = config.security_protocol_map.get(listener, "PLAINTEXT")
    tls_values = listener_values(config, listener) if protocol in TLS_PROTOCOLS else None
    sasl = None
    if protocol in SASL_PROTOCOLS:
        sasl = _sasl_client(config, listener, mechanism_key, purpose)
    return InternodeSettings(listener, protocol, tls_values, sasl)


def _sasl_client(
    config: BrokerConfig, listener: str, mechanism_key: str, purpose: str
) -> SaslClientSettings:
    mechanism = str(config.value(mechanism_key)).upper()
    if mechanism not in CLIENT_MECHANISMS:
        raise ConfigError(
            mechanism_key,
            mechanism,
            f"{purpose} SASL on listener {listener}: ferrokafka's own clients speak "
            f"{', '.join(CLIENT_MECHANISMS)}",
        )
    prefix = f"listener.name.{listener.lower()}."
    wanted = f"{prefix}{mechanism.lower()}.{JAAS_KEY}"
    found = next(
        (
            (name, config.originals[name])
            for name in (wanted, prefix + JAAS_KEY, JAAS_KEY)
            if config.originals.get(name) is not None
        ),
        None,
    )
    if found is None:
        raise ConfigError(wanted, None, f"{wanted} is needed for {purpose} SASL")
    name, text = found
    try:
        module = parse_jaas_config(str(text))
    except JaasConfigError as exc:
        raise ConfigError(name, "[hidden]", f"invalid JAAS configuration: {exc}") from None
    username = module.options.get("username")
    password = module.options.get("password")
    if not username or password is None:
        raise ConfigError(
            name,
            "[hidden]",
            f"{purpose} SASL ({mechanism}) needs the username= and password= options: the "
            "credentials this node presents when it dials",
        )
    return SaslClientSettings(mechanism, username, password)
