"""SASL authentication of SASL_PLAINTEXT and SASL_SSL listeners (issue 18).

Layout:
- authenticator.py: one connection's exchange (Kafka's SaslServerAuthenticator): the
  pre-authentication gate, SaslHandshake v0/v1, SaslAuthenticate v0-2 and raw v0 tokens,
  KIP-368 re-authentication and session expiry.
- settings.py: per-listener settings from the broker config (enabled mechanisms, JAAS,
  OAUTHBEARER validation, connections.max.reauth.ms, the failed-authentication delay).
- plain.py, scram.py, oauthbearer.py (+ oauth_validators.py): the mechanisms, sans-io.
- errors.py: how failures are told to clients. Kafka's JAAS syntax is config/jaas.py (the
  node's own SASL clients read their credentials from the same entries).

Nothing here does I/O on the connection: the connection (server/connection.py) feeds frames
and writes what it is told, so any trio stream (plain TCP, TLS) carries it.
"""

from ferrokafka.server.sasl.authenticator import SaslAuthenticator, SaslStep
from ferrokafka.server.sasl.settings import SaslListenerSettings, sasl_listener_settings

__all__ = ["SaslAuthenticator", "SaslListenerSettings", "SaslStep", "sasl_listener_settings"]
