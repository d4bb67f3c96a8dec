"""The client side of SASL/PLAIN (RFC 4616) and SASL/SCRAM-SHA-256/512 (RFC 5802, RFC 7677), as
Kafka's PlainSaslClient and ScramSaslClient: sans-io objects fed the server's tokens.

``first()`` is the client's first token; ``evaluate(server_token)`` the next one (None when the
exchange is over on the client's side); ``complete`` once the server has proven itself (SCRAM's
server signature is checked: a server that does not hold the credential is refused). hashlib
and hmac do the cryptography.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Protocol

from ferrokafka.cluster.scram_credentials import MECHANISMS as SCRAM_MECHANISMS

# Client nonce bytes before base64 (Kafka's ScramFormatter: 130 random bits).
CLIENT_NONCE_BYTES = 18
# A server-first message longer than this is not a SCRAM one (nonce, salt, count).
SERVER_MESSAGE_BYTES_MAX = 4096
# No SCRAM server asks for more iterations than Kafka accepts (max 16384); a bound keeps a
# rogue server from making this node spend minutes in PBKDF2.
ITERATIONS_MAX = 16_384


class SaslClientError(Exception):
    """The server's side of the exchange is not what the mechanism expects (the text says
    what, never a secret)."""


class MechanismClient(Protocol):
    mechanism: str
    complete: bool

    def first(self) -> bytes: ...

    def evaluate(self, token: bytes) -> bytes | None: ...


class PlainClient:
    """``NUL username NUL password``: one token, nothing back."""

    mechanism = "PLAIN"

    def __init__(self, username: str, password: str) -> None:
        self._token = f"\0{username}\0{password}".encode()
        self.complete = False

    def first(self) -> bytes:
        self.complete = True
        return self._token

    def evaluate(self, token: bytes) -> bytes | None:
        if token:
            raise SaslClientError("PLAIN: the server sent a challenge")
        return None


def _saslname(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


class ScramClient:
    """client-first -> server-first -> client-final (with the proof) -> server-final."""

    GS2_HEADER = "n,,"  # no channel binding, no authorization id (as Kafka's client)

    def __init__(self, mechanism: str, username: str, password: str) -> None:
        if mechanism not in SCRAM_MECHANISMS:
            raise ValueError(f"{mechanism} is not a SCRAM mechanism")
        self.mechanism = mechanism
        self._scram = SCRAM_MECHANISMS[mechanism]
        self._password = password
        nonce = secrets.token_bytes(CLIENT_NONCE_BYTES)
        self._nonce = base64.urlsafe_b64encode(nonce).decode("ascii")
        self._first_bare = f"n={_saslname(username)},r={self._nonce}"
        self._server_signature = b""
        self._state = "first"
        self.complete = False

    def first(self) -> bytes:
        self._state = "server-first"
        return (self.GS2_HEADER + self._first_bare).encode()

    def evaluate(self, token: bytes) -> bytes | None:
        if len(token) > SERVER_MESSAGE_BYTES_MAX:
            raise SaslClientError(f"{self.mechanism}: server message of {len(token)} bytes")
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            raise SaslClientError(f"{self.mechanism}: server message is not UTF-8") from None
        if self._state == "server-first":
            return self._client_final(text)
        if self._state == "server-final":
            self._check_server_final(text)
            return None
        raise SaslClientError(f"{self.mechanism}: unexpected server message")

    def _client_final(self, server_first: str) -> bytes:
        fields = _fields(server_first)
        nonce, salt_b64, iterations_text = fields.get("r"), fields.get("s"), fields.get("i")
        if nonce is None or salt_b64 is None or iterations_text is None:
            raise SaslClientError(f"{self.mechanism}: invalid server first message")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise SaslClientError(f"{self.mechanism}: the server nonce does not extend ours")
        if not iterations_text.isdigit():
            raise SaslClientError(f"{self.mechanism}: invalid iteration count")
        iterations = int(iterations_text)
        if not self._scram.min_iterations <= iterations <= ITERATIONS_MAX:
            raise SaslClientError(f"{self.mechanism}: iteration count {iterations} refused")
        try:
            salt = base64.b64decode(salt_b64, validate=True)
        except binascii.Error:
            raise SaslClientError(f"{self.mechanism}: invalid salt") from None
        hash_name = self._scram.hash_name
        salted = hashlib.pbkdf2_hmac(hash_name, self._password.encode(), salt, iterations)
        client_key = hmac.digest(salted, b"Client Key", hash_name)
        stored_key = hashlib.new(hash_name, client_key).digest()
        channel = base64.b64encode(self.GS2_HEADER.encode()).decode("ascii")
        without_proof = f"c={channel},r={nonce}"
        auth_message = f"{self._first_bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, hash_name)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", hash_name)
        self._server_signature = hmac.digest(server_key, auth_message, hash_name)
        self._state = "server-final"
        return f"{without_proof},p={base64.b64encode(proof).decode('ascii')}".encode()

    def _check_server_final(self, server_final: str) -> None:
        self._state = "done"
        fields = _fields(server_final)
        if "e" in fields:
            raise SaslClientError(f"{self.mechanism}: the server refused: {fields['e']}")
        try:
            signature = base64.b64decode(fields.get("v", ""), validate=True)
        except binascii.Error:
            signature = b""
        if not hmac.compare_digest(signature, self._server_signature):
            raise SaslClientError(f"{self.mechanism}: invalid server signature")
        self.complete = True


def _fields(message: str) -> dict[str, str]:
    """``a=1,b=2`` to a dict (the first '=' splits; values may hold '=')."""
    fields: dict[str, str] = {}
    for item in message.split(","):
        name, sep, value = item.partition("=")
        if sep and len(name) == 1:
            fields.setdefault(name, value)
    return fields


def mechanism_client(mechanism: str, username: str, password: str) -> MechanismClient:
    if mechanism == "PLAIN":
        return PlainClient(username, password)
    return ScramClient(mechanism, username, password)
