"""Per-listener SASL settings from the broker config, read as Kafka reads them.

A key is looked up as ``listener.name.<listener>.<mechanism>.<key>`` (the JAAS config, the
callback handler, connections.max.reauth.ms), then ``listener.name.<listener>.<key>``, then
``<key>``; listener and mechanism are lower case in key names, as Kafka's ListenerName
normalises them. Everything is checked at start: a SASL listener whose mechanisms cannot work
(GSSAPI, a missing JAAS entry, a bad JWKS URL) stops the broker with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ferrokafka.cluster.scram_credentials import MECHANISMS as SCRAM_MECHANISMS
from ferrokafka.cluster.scram_credentials import ScramLookup
from ferrokafka.config import BrokerConfig
from ferrokafka.config.definitions import ConfigError
from ferrokafka.config.jaas import JaasConfigError, LoginModule, parse_jaas_config
from ferrokafka.config.sasl_keys import SASL_KEYS
from ferrokafka.server.sasl.mechanism import MechanismServer
from ferrokafka.server.sasl.oauth_validators import (
    JwksKeys,
    JwksValidator,
    TokenValidator,
    UnsecuredValidator,
)
from ferrokafka.server.sasl.oauthbearer import OAUTHBEARER, OAuthBearerServer
from ferrokafka.server.sasl.plain import PLAIN, PlainServer, plain_users
from ferrokafka.server.sasl.scram import ScramServer

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
SUPPORTED_MECHANISMS = (PLAIN, *SCRAM_MECHANISMS, OAUTHBEARER)
_KEYS = {key.name: key for key in SASL_KEYS}
_OAUTH_PACKAGE = "org.apache.kafka.common.security.oauthbearer."
JWKS_HANDLER = _OAUTH_PACKAGE + "OAuthBearerValidatorCallbackHandler"
UNSECURED_HANDLERS = frozenset({
    _OAUTH_PACKAGE + "internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler",
    _OAUTH_PACKAGE + "OAuthBearerUnsecuredValidatorCallbackHandler",
})  # fmt: skip

MechanismFactory = Callable[[], MechanismServer]


@dataclass(frozen=True)
class SaslListenerSettings:
    listener: str
    mechanisms: tuple[str, ...]  # enabled, in the config's order (the handshake lists them)
    factories: Mapping[str, MechanismFactory]
    reauth_ms: Mapping[str, int]  # connections.max.reauth.ms per mechanism (0: none)
    failed_auth_delay_ms: int
    receive_bytes_max: int = 524_288  # sasl.server.max.receive.size


class _Lookup:
    def __init__(self, config: BrokerConfig, listener: str) -> None:
        self._config = config
        self._prefix = f"listener.name.{listener.lower()}."

    def raw(self, key: str, mechanism: str | None = None) -> tuple[str, Any] | None:
        names = [self._prefix + key, key]
        if mechanism is not None:
            names.insert(0, f"{self._prefix}{mechanism.lower()}.{key}")
        originals = self._config.originals
        for name in names:
            if name in originals:
                return name, originals[name]
        return None

    def get(self, key: str, mechanism: str | None = None) -> Any:
        found = self.raw(key, mechanism)
        if found is None:
            return _KEYS[key].default
        name, raw = found
        return _KEYS[key].parse(raw) if isinstance(raw, str) else raw


def sasl_listener_settings(
    config: BrokerConfig, scram_lookup: ScramLookup
) -> dict[str, SaslListenerSettings]:
    """Settings of every SASL listener of ``config``; ConfigError when one cannot work."""
    protocols = config.security_protocol_map
    return {
        ep.name: _listener_settings(config, ep.name, scram_lookup)
        for ep in config.listeners
        if protocols.get(ep.name) in SASL_PROTOCOLS
    }


def _listener_settings(
    config: BrokerConfig, listener: str, scram_lookup: ScramLookup
) -> SaslListenerSettings:
    look = _Lookup(config, listener)
    mechanisms = tuple(look.get("sasl.enabled.mechanisms"))
    found = look.raw("sasl.enabled.mechanisms")
    key = found[0] if found is not None else "sasl.enabled.mechanisms"  # the one to fix
    if not mechanisms:
        raise ConfigError(key, "", f"SASL listener {listener} enables no SASL mechanism")
    factories: dict[str, MechanismFactory] = {}
    reauth_ms: dict[str, int] = {}
    for mechanism in mechanisms:
        if mechanism not in SUPPORTED_MECHANISMS:
            raise ConfigError(
                key,
                ",".join(mechanisms),
                f"SASL mechanism {mechanism} is not supported (ferrokafka supports "
                f"{', '.join(SUPPORTED_MECHANISMS)})",
            )
        module = _jaas(look, listener, mechanism)
        factories[mechanism] = _factory(look, mechanism, module, scram_lookup)
        reauth_ms[mechanism] = int(look.get("connections.max.reauth.ms", mechanism))
    return SaslListenerSettings(
        listener=listener,
        mechanisms=mechanisms,
        factories=factories,
        reauth_ms=reauth_ms,
        failed_auth_delay_ms=int(look.get("connection.failed.authentication.delay.ms")),
        receive_bytes_max=int(look.get("sasl.server.max.receive.size")),
    )


def _jaas(look: _Lookup, listener: str, mechanism: str) -> LoginModule:
    found = look.raw("sasl.jaas.config", mechanism)
    if found is None:
        # Kafka's JaasContext.loadServerContext when neither property nor JAAS file has it.
        raise ConfigError(
            f"listener.name.{listener.lower()}.{mechanism.lower()}.sasl.jaas.config",
            None,
            f"no JAAS configuration for mechanism {mechanism} of listener {listener}",
        )
    name, text = found
    try:
        return parse_jaas_config(str(text))
    except JaasConfigError as exc:
        raise ConfigError(name, "[hidden]", f"invalid JAAS configuration: {exc}") from None


def _factory(
    look: _Lookup, mechanism: str, module: LoginModule, scram_lookup: ScramLookup
) -> MechanismFactory:
    handler = look.get("sasl.server.callback.handler.class", mechanism)
    if mechanism == PLAIN:
        _no_custom_handler(handler, mechanism)
        users = plain_users(module.options)
        return lambda: PlainServer(users)
    if mechanism in SCRAM_MECHANISMS:
        _no_custom_handler(handler, mechanism)
        return lambda: ScramServer(mechanism, scram_lookup)
    validator = _oauth_validator(look, handler, module)
    return lambda: OAuthBearerServer(validator)


def _no_custom_handler(handler: str | None, mechanism: str) -> None:
    if handler is not None:
        raise ConfigError(
            "sasl.server.callback.handler.class",
            handler,
            f"custom callback handlers are not supported for {mechanism}",
        )


def _oauth_validator(look: _Lookup, handler: str | None, module: LoginModule) -> TokenValidator:
    if handler is None or handler in UNSECURED_HANDLERS:
        try:
            return UnsecuredValidator.from_jaas_options(module.options)
        except ValueError as exc:
            raise ConfigError("sasl.jaas.config", "[hidden]", str(exc)) from None
    if handler != JWKS_HANDLER:
        raise ConfigError(
            "sasl.server.callback.handler.class",
            handler,
            f"OAUTHBEARER supports {JWKS_HANDLER} and the unsecured validator only",
        )
    url = look.get("sasl.oauthbearer.jwks.endpoint.url")
    if not url:
        raise ConfigError(
            "sasl.oauthbearer.jwks.endpoint.url", url, f"{JWKS_HANDLER} needs a JWKS endpoint"
        )
    try:
        keys = JwksKeys(
            url,
            refresh_ms=int(look.get("sasl.oauthbearer.jwks.endpoint.refresh.ms")),
            retry_backoff_ms=int(look.get("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms")),
        )
    except ValueError as exc:
        raise ConfigError("sasl.oauthbearer.jwks.endpoint.url", url, str(exc)) from None
    return JwksValidator(
        keys,
        audience=list(look.get("sasl.oauthbearer.expected.audience")),
        issuer=look.get("sasl.oauthbearer.expected.issuer"),
        sub_claim=look.get("sasl.oauthbearer.sub.claim.name"),
        scope_claim=look.get("sasl.oauthbearer.scope.claim.name"),
        clock_skew_s=int(look.get("sasl.oauthbearer.clock.skew.seconds")),
    )
