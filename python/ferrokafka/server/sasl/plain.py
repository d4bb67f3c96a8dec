"""SASL/PLAIN (RFC 4616) as Kafka's PlainSaslServer: ``authzid NUL authcid NUL passwd``, checked
against the ``user_<name>="<password>"`` options of the listener's PlainLoginModule JAAS entry.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ferrokafka.server.sasl.errors import SaslAuthenticationFailed

PLAIN = "PLAIN"
PLAIN_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
_USER_PREFIX = "user_"


def plain_users(options: Mapping[str, str]) -> dict[str, str]:
    """user name -> password from a PlainLoginModule's options (Kafka's
    PlainServerCallbackHandler reads ``user_<name>``)."""
    return {k[len(_USER_PREFIX) :]: v for k, v in options.items() if k.startswith(_USER_PREFIX)}


class PlainServer:
    mechanism = PLAIN
    blocking = False

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = users
        self.complete = False
        self.authorization_id = ""
        self.credential_expiry_ms: int | None = None

    def evaluate(self, token: bytes) -> bytes:
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            raise SaslAuthenticationFailed("Invalid SASL/PLAIN response: not UTF-8") from None
        parts = text.split("\0")
        if len(parts) != 3:
            raise SaslAuthenticationFailed(
                f"Invalid SASL/PLAIN response: expected 3 tokens, got {len(parts)}"
            )
        authzid, username, password = parts
        if not username:
            raise SaslAuthenticationFailed("Authentication failed: username not specified")
        if not password:
            raise SaslAuthenticationFailed("Authentication failed: password not specified")
        expected = self._users.get(username)
        # Compared in constant time, and a missing user costs the same comparison.
        ok = hmac.compare_digest(
            (expected if expected is not None else "\0" + password).encode(), password.encode()
        )
        if expected is None or not ok:
            raise SaslAuthenticationFailed("Authentication failed: Invalid username or password")
        if authzid and authzid != username:
            raise SaslAuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is different "
                "from username"
            )
        self.authorization_id = username
        self.complete = True
        return b""
