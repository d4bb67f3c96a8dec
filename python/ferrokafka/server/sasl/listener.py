"""The SASL authenticator factories of a broker's listeners: one per SASL listener, each making
a fresh :class:`SaslAuthenticator` per accepted connection."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from ferrokafka.cluster.scram_credentials import ScramLookup
from ferrokafka.config import BrokerConfig
from ferrokafka.protocol import API_VERSIONS_KEY
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.sasl.authenticator import SaslAuthenticator
from ferrokafka.server.sasl.settings import sasl_listener_settings


def sasl_authenticators(
    config: BrokerConfig, dispatchers: Mapping[str, Dispatcher], scram_lookup: ScramLookup
) -> dict[str, Callable[[], SaslAuthenticator]]:
    """listener name -> authenticator factory, for the SASL listeners of ``config``;
    ConfigError (at start) when a SASL listener's settings cannot work."""
    factories: dict[str, Callable[[], SaslAuthenticator]] = {}
    for name, settings in sasl_listener_settings(config, scram_lookup).items():
        api_versions = dispatchers[name].handler_for(API_VERSIONS_KEY)
        assert api_versions is not None, "every dispatcher answers ApiVersions"
        factories[name] = partial(SaslAuthenticator, settings, api_versions)
    return factories
