"""SASL/SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka's ScramSaslServer.

Two rounds: client-first (``n,[a=authzid],n=user,r=cnonce``) -> server-first (``r=cnonce+snonce,
s=salt,i=iterations``); client-final (``c=<base64 GS2 header>,r=<nonce>,p=<proof>``) ->
server-final (``v=<server signature>``). The credential comes from a :data:`ScramLookup` (the
broker never holds a password); the server nonce is fresh per exchange, so a proof recorded
from one connection is worthless on another. Only the channel-binding flag 'n' is accepted
(Kafka does no channel binding). hashlib and hmac do the cryptography.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

from ferrokafka.cluster.scram_credentials import MECHANISMS, ScramCredential, ScramLookup
from ferrokafka.server.sasl.errors import SaslAuthenticationFailed, SaslCredentialsRejected

# Server nonce bytes (before base64): Kafka's ScramFormatter uses 130 random bits.
SERVER_NONCE_BYTES = 18
# A SCRAM message longer than this is not one a client sends (user names and nonces are short).
SCRAM_MESSAGE_BYTES_MAX = 4096

_SASLNAME = r"(?:[\x21-\x2b\x2d-\x3c\x3e-\x7e\u0080-\uffff]|=2C|=3D)+"
_VALUE = r"[\x21-\x2b\x2d-\x7e]+"  # printable but ','
_EXTENSIONS = r"(?:,[A-Za-z]+=[\x01-\x2b\x2d-\x7f]+)*"
_CLIENT_FIRST = re.compile(
    rf"(?P<gs2>n,(?:a=(?P<authzid>{_SASLNAME}))?,)"
    rf"(?P<bare>n=(?P<user>{_SASLNAME}),r=(?P<nonce>{_VALUE})(?P<ext>{_EXTENSIONS}))"
)
_CLIENT_FINAL = re.compile(
    rf"(?P<without_proof>c=(?P<channel>[A-Za-z0-9+/=]+),r=(?P<nonce>{_VALUE}){_EXTENSIONS})"
    r",p=(?P<proof>[A-Za-z0-9+/]+={0,2})"
)


def _unescape(name: str) -> str:
    return name.replace("=2C", ",").replace("=3D", "=")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ScramServer:
    blocking = False

    def __init__(self, mechanism: str, lookup: ScramLookup) -> None:
        if mechanism not in MECHANISMS:
            raise ValueError(f"{mechanism} is not a SCRAM mechanism")
        self.mechanism = mechanism
        self._scram = MECHANISMS[mechanism]
        self._lookup = lookup
        self.complete = False
        self.authorization_id = ""
        self.credential_expiry_ms: int | None = None
        self._state = "first"
        self._credential: ScramCredential | None = None
        self._gs2_header = ""
        self._nonce = ""
        self._client_first_bare = ""
        self._server_first = ""

    def evaluate(self, token: bytes) -> bytes:
        if len(token) > SCRAM_MESSAGE_BYTES_MAX:
            raise SaslCredentialsRejected("SCRAM message too long")
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            raise SaslCredentialsRejected("SCRAM message is not UTF-8") from None
        if self._state == "first":
            return self._client_first(text)
        if self._state == "final":
            return self._client_final(text)
        raise SaslCredentialsRejected(f"Unexpected challenge in Sasl server state {self._state}")

    def _client_first(self, text: str) -> bytes:
        match = _CLIENT_FIRST.fullmatch(text)
        if match is None:
            raise SaslCredentialsRejected("Invalid SCRAM client first message")
        user = _unescape(match["user"])
        authzid = match["authzid"]
        if "tokenauth=true" in match["ext"].lower():
            # Delegation tokens are not supported: no token store to check it against.
            raise SaslCredentialsRejected("Token Authentication failed: delegation tokens")
        credential = self._lookup(user, self.mechanism)
        if credential is None:
            raise SaslCredentialsRejected("Authentication failed: Invalid user credentials")
        if authzid is not None and _unescape(authzid) != user:
            raise SaslAuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is different "
                "from username"
            )
        if credential.iterations < self._scram.min_iterations:
            raise SaslCredentialsRejected(
                f"Iterations {credential.iterations} is less than the minimum "
                f"{self._scram.min_iterations} for {self.mechanism}"
            )
        self._credential = credential
        self.authorization_id = user
        self._gs2_header = match["gs2"]
        self._client_first_bare = match["bare"]
        self._nonce = match["nonce"] + base64.urlsafe_b64encode(
            secrets.token_bytes(SERVER_NONCE_BYTES)
        ).decode("ascii")
        self._server_first = f"r={self._nonce},s={_b64(credential.salt)},i={credential.iterations}"
        self._state = "final"
        return self._server_first.encode("ascii")

    def _client_final(self, text: str) -> bytes:
        self._state = "failed"  # one try: a wrong proof ends the exchange
        match = _CLIENT_FINAL.fullmatch(text)
        if match is None:
            raise SaslCredentialsRejected("Authentication failed: Invalid client final message")
        if match["nonce"] != self._nonce:
            raise SaslCredentialsRejected("Invalid client nonce in the final client message.")
        if match["channel"] != _b64(self._gs2_header.encode("utf-8")):
            raise SaslCredentialsRejected("Invalid channel binding in the final client message.")
        credential = self._credential
        assert credential is not None
        try:
            proof = base64.b64decode(match["proof"], validate=True)
        except binascii.Error:
            raise SaslCredentialsRejected("Invalid client proof encoding") from None
        auth_message = (
            f"{self._client_first_bare},{self._server_first},{match['without_proof']}"
        ).encode()
        hash_name = self._scram.hash_name
        signature = hmac.digest(credential.stored_key, auth_message, hash_name)
        if len(proof) != len(signature):
            raise SaslCredentialsRejected("Invalid client credentials")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(
            hashlib.new(hash_name, client_key).digest(), credential.stored_key
        ):
            raise SaslCredentialsRejected("Invalid client credentials")
        server_signature = hmac.digest(credential.server_key, auth_message, hash_name)
        self._state = "complete"
        self.complete = True
        return f"v={_b64(server_signature)}".encode("ascii")


def scram_credential(
    mechanism: str, password: str, *, salt: bytes | None = None, iterations: int = 4096
) -> ScramCredential:
    """The credential RFC 5802 derives from a password (what ``kafka-configs --add-config
    'SCRAM-SHA-256=[password=...]'`` stores): for tests and ``storage format --add-scram``."""
    scram = MECHANISMS[mechanism]
    salt = salt if salt is not None else secrets.token_bytes(32)
    salted = hashlib.pbkdf2_hmac(scram.hash_name, password.encode("utf-8"), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", scram.hash_name)
    return ScramCredential(
        mechanism=scram,
        salt=salt,
        stored_key=hashlib.new(scram.hash_name, client_key).digest(),
        server_key=hmac.digest(salted, b"Server Key", scram.hash_name),
        iterations=iterations,
    )
