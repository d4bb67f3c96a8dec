"""The node's own connections to other nodes' listeners, secured as the listener says
(issue 18): TLS and SASL on the client side, for raft (cluster/raft/peer.py), the node
clients (cluster/node_client.py: broker-to-controller, replica fetchers, the brokers' clients).

Layout:
- connector.py: :class:`Connector` (TCP, TLS handshake, ApiVersions + SaslHandshake +
  SaslAuthenticate, KIP-368 re-authentication) and :class:`Connection`.
- sasl_client.py: the PLAIN and SCRAM-SHA-256/512 client mechanisms, sans-io.
- tls.py: the client SSLContext of a listener's ``ssl.*`` values.

What to dial with comes from config/internode.py (the controller listener and
``sasl.mechanism.controller.protocol``; the inter-broker listener and
``sasl.mechanism.inter.broker.protocol``; the JAAS ``username``/``password``).
:func:`node_connectors` builds both once per BrokerConfig.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from ferrokafka.cluster.connector.connector import (
    AuthenticationError,
    Connection,
    Connector,
    DialError,
)
from ferrokafka.cluster.connector.tls import client_tls_context
from ferrokafka.config import BrokerConfig
from ferrokafka.config.definitions import ConfigError
from ferrokafka.config.internode import (
    PLAINTEXT_SETTINGS,
    InternodeSettings,
    controller_settings,
    inter_broker_settings,
)
from ferrokafka.config.tls_settings import TlsSettingsError

__all__ = [
    "PLAINTEXT",
    "AuthenticationError",
    "Connection",
    "Connector",
    "DialError",
    "NodeConnectors",
    "make_connector",
    "node_connectors",
]

PLAINTEXT = Connector(PLAINTEXT_SETTINGS, None, "plaintext")


@dataclass(frozen=True)
class NodeConnectors:
    controller: Connector  # raft, broker-to-controller
    inter_broker: Connector  # replica fetchers, the brokers' own clients


_BUILT: weakref.WeakKeyDictionary[BrokerConfig, NodeConnectors] = weakref.WeakKeyDictionary()


def make_connector(settings: InternodeSettings, purpose: str) -> Connector:
    """ConfigError (one line, naming the listener) when the TLS material cannot be used."""
    if not settings.uses_tls:
        return Connector(settings, None, purpose)
    assert settings.tls_values is not None
    try:
        context = client_tls_context(settings.tls_values)
    except TlsSettingsError as exc:
        raise ConfigError(
            None, None, f"{purpose} TLS client of listener {settings.listener}: {exc}"
        ) from None
    return Connector(settings, context, purpose)


def node_connectors(config: BrokerConfig) -> NodeConnectors:
    """The connectors of ``config``'s node, built on first use (keystores read once)."""
    built = _BUILT.get(config)
    if built is None:
        controller = make_connector(controller_settings(config), "controller")
        inter_broker = (
            PLAINTEXT
            if config.inter_broker_listener_name is None
            else make_connector(inter_broker_settings(config), "inter-broker")
        )
        built = _BUILT[config] = NodeConnectors(controller, inter_broker)
    return built
