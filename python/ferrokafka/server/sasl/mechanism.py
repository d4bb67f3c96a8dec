"""What every SASL mechanism server is: a sans-io object fed the client's tokens in order.

``evaluate`` takes one client token and returns the server's next token (b"" for none), or
raises :class:`~.errors.SaslAuthenticationFailed` / :class:`~.errors.SaslCredentialsRejected`.
Once ``complete``, ``authorization_id`` names the user, and ``credential_expiry_ms`` (epoch ms,
OAUTHBEARER's token expiry) bounds the session as Kafka's CREDENTIAL_LIFETIME_MS property.
"""

from __future__ import annotations

from typing import Protocol


class MechanismServer(Protocol):
    mechanism: str
    complete: bool
    authorization_id: str
    credential_expiry_ms: int | None
    # True when evaluate may block on I/O (fetching a JWKS over HTTP): run it in a thread.
    blocking: bool

    def evaluate(self, token: bytes) -> bytes: ...
