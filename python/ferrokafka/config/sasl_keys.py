"""Broker keys of SASL authentication (server/sasl/) (issue 18).

Rows here are *implemented* keys (config/known_keys.py): listing one lifts the start-up refusal
that protects a broker from silently running without the security its file asks for. A
listener-prefixed form (``listener.name.<l>.<key>``, and for the JAAS config and callback
handler ``listener.name.<l>.<mechanism>.<key>``) of a key listed here is implemented too;
server/sasl/settings.py reads them in Kafka's order (listener and mechanism, listener, base).
"""

from __future__ import annotations

from ferrokafka.config.definitions import ConfigKey, ConfigType, at_least

_S = ConfigType.STRING
_I = ConfigType.INT
_L = ConfigType.LONG
_LIST = ConfigType.LIST
_C = ConfigType.CLASS
_P = ConfigType.PASSWORD

# fmt: off
SASL_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("sasl.enabled.mechanisms", _LIST, ["GSSAPI"],
              "SASL mechanisms a SASL listener offers: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, "
              "OAUTHBEARER (GSSAPI is refused at start)."),
    ConfigKey("sasl.jaas.config", _P, None,
              "JAAS login configuration; for PLAIN the user_<name>=\"password\" options are "
              "the users the broker accepts, for OAUTHBEARER the unsecuredValidator* options; "
              "the username=/password= options of a PLAIN or SCRAM entry are this node's own "
              "credentials when it dials a SASL controller or inter-broker listener."),
    ConfigKey("sasl.server.callback.handler.class", _C, None,
              "OAUTHBEARER: org.apache.kafka.common.security.oauthbearer."
              "OAuthBearerValidatorCallbackHandler validates JWTs against the JWKS endpoint; "
              "unset, Kafka's unsecured validator (tests only)."),
    ConfigKey("sasl.mechanism.inter.broker.protocol", _S, "GSSAPI",
              "Mechanism this broker authenticates with when it dials a SASL inter-broker "
              "listener (replica fetchers, the transaction coordinator): PLAIN, SCRAM-SHA-256 or "
              "SCRAM-SHA-512, with the username/password of that listener's JAAS entry "
              "(config/internode.py)."),
    ConfigKey("sasl.mechanism.controller.protocol", _S, "GSSAPI",
              "Mechanism this node authenticates with when it dials a SASL controller listener "
              "(raft, heartbeats, registration): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with the "
              "username/password of that listener's JAAS entry.", dynamic=False),
    ConfigKey("sasl.oauthbearer.jwks.endpoint.url", _S, None,
              "Where the JWKS of OAUTHBEARER token signers is: file:// or http(s):// URL."),
    ConfigKey("sasl.oauthbearer.jwks.endpoint.refresh.ms", _L, 3_600_000,
              "How often the JWKS is fetched again (an unknown key id also refetches it).",
              at_least(0)),
    ConfigKey("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", _L, 100,
              "Wait before retrying a failed JWKS fetch.", at_least(0)),
    ConfigKey("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", _L, 10_000,
              "Longest wait between retries of a failed JWKS fetch.", at_least(0)),
    ConfigKey("sasl.oauthbearer.expected.audience", _LIST, [],
              "Audiences a token must name one of (aud claim); empty: not checked."),
    ConfigKey("sasl.oauthbearer.expected.issuer", _S, None,
              "Issuer a token must name (iss claim); unset: not checked."),
    ConfigKey("sasl.oauthbearer.sub.claim.name", _S, "sub",
              "Claim naming the principal of an OAUTHBEARER token."),
    ConfigKey("sasl.oauthbearer.scope.claim.name", _S, "scope",
              "Claim holding a token's scopes."),
    ConfigKey("sasl.oauthbearer.clock.skew.seconds", _I, 30,
              "Clock difference allowed when checking exp, nbf and iat.", at_least(0)),
    ConfigKey("sasl.server.max.receive.size", _I, 524_288,
              "Largest frame a connection may send before it is authenticated.", at_least(1)),
    ConfigKey("connections.max.reauth.ms", _L, 0,
              "KIP-368: a SASL session lasts at most this long (0: forever); the client must "
              "re-authenticate on the connection before it ends or be disconnected."),
    ConfigKey("connection.failed.authentication.delay.ms", _I, 100,
              "How long a connection whose authentication failed waits before its error "
              "answer and close (slows password guessing).", at_least(0)),
)
# fmt: on
