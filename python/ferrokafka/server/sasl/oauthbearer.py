"""SASL/OAUTHBEARER (RFC 7628) as Kafka's OAuthBearerSaslServer.

The client's initial response is a GS2 header and key=value pairs separated by ^A:
``n,[a=authzid],^Aauth=Bearer <token>^A[key=value^A...]^A``. A token the validator refuses is
answered, as RFC 7628 says, with an error JSON challenge (``{"status":"invalid_token"}``); the
client acknowledges it with a lone ^A and the exchange fails with that JSON as the message.
The token validators (unsecured and JWKS) are in oauth_validators.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ferrokafka.server.sasl.errors import SaslAuthenticationFailed
from ferrokafka.server.sasl.oauth_validators import TokenRejected, TokenValidator, ValidToken

OAUTHBEARER = "OAUTHBEARER"
_SEPARATOR = "\x01"
# Largest initial response accepted (a JWT with many claims is a few KiB).
OAUTH_RESPONSE_BYTES_MAX = 64 * 1024
_GS2 = re.compile(r"n,(?:a=(?P<authzid>[^,]*))?,")
_KEY = re.compile(r"[A-Za-z]+")
_AUTH = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(?P<token>[A-Za-z0-9\-._~+/]+=*)")


@dataclass(frozen=True)
class ClientInitialResponse:
    authzid: str | None
    token: str
    extensions: dict[str, str]


def parse_client_response(data: bytes) -> ClientInitialResponse:
    """RFC 7628 section 3.1; SaslAuthenticationFailed when it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SaslAuthenticationFailed("Invalid OAUTHBEARER client first message") from None
    gs2 = _GS2.match(text)
    if gs2 is None or not text.endswith(_SEPARATOR * 2):
        raise SaslAuthenticationFailed("Invalid OAUTHBEARER client first message")
    body = text[gs2.end() :]
    if not body.startswith(_SEPARATOR):
        raise SaslAuthenticationFailed("Invalid OAUTHBEARER client first message")
    pairs: dict[str, str] = {}
    for item in body[1:-2].split(_SEPARATOR):
        key, sep, value = item.partition("=")
        if not sep or not _KEY.fullmatch(key) or key in pairs:
            raise SaslAuthenticationFailed("Invalid OAUTHBEARER client first message")
        pairs[key] = value
    auth = _AUTH.fullmatch(pairs.pop("auth", ""))
    if auth is None:
        raise SaslAuthenticationFailed("Invalid OAUTHBEARER client first message: no bearer token")
    authzid = gs2["authzid"]
    return ClientInitialResponse(authzid or None, auth["token"], pairs)


class OAuthBearerServer:
    mechanism = OAUTHBEARER

    def __init__(self, validator: TokenValidator) -> None:
        self._validator = validator
        self.blocking = validator.blocking
        self.complete = False
        self.authorization_id = ""
        self.credential_expiry_ms: int | None = None
        self._error_json: str | None = None
        self._token: ValidToken | None = None

    def evaluate(self, token: bytes) -> bytes:
        if token == _SEPARATOR.encode() and self._error_json is not None:
            raise SaslAuthenticationFailed(self._error_json)
        self._error_json = None
        if len(token) > OAUTH_RESPONSE_BYTES_MAX:
            raise SaslAuthenticationFailed("Invalid OAUTHBEARER client first message: too long")
        response = parse_client_response(token)
        try:
            valid = self._validator.validate(response.token)
        except TokenRejected as exc:
            self._error_json = exc.json()
            return self._error_json.encode("utf-8")
        if response.authzid is not None and response.authzid != valid.principal_name:
            raise SaslAuthenticationFailed(
                f"Authentication failed: Client requested an authorization id "
                f"({response.authzid}) that is different from the token's principal name "
                f"({valid.principal_name})"
            )
        self._token = valid
        self.authorization_id = valid.principal_name
        self.credential_expiry_ms = valid.expiry_ms
        self.complete = True
        return b""
