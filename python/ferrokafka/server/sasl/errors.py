"""How a SASL exchange fails, as Kafka tells the client.

Kafka's SaslServerAuthenticator answers a ``SaslAuthenticationException`` with its own message
and any other ``SaslException`` (SCRAM's "Invalid user credentials", ...) with one generic
message, so that a client learns nothing about which part was wrong.
"""

from __future__ import annotations


class SaslAuthenticationFailed(Exception):
    """Kafka's SaslAuthenticationException: the client sees this message as it is."""


class SaslCredentialsRejected(Exception):
    """Kafka's SaslException from a mechanism: the client sees only
    :func:`invalid_credentials_message`; the text here is for the broker's debug log."""


def invalid_credentials_message(mechanism: str, *, reauthenticating: bool) -> str:
    what = "re-authentication" if reauthenticating else "authentication"
    return (
        f"Authentication failed during {what} due to invalid credentials with SASL mechanism "
        f"{mechanism}"
    )
