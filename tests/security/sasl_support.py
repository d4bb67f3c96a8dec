"""SASL test helpers: an in-process broker with a SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256/512,
OAUTHBEARER), SCRAM credentials made here and given to the broker through its ScramLookup (the
test-only injection the image's lookup replaces), unsecured and RS256-signed tokens.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferrokafka.cluster.scram_credentials import ScramCredential, ScramLookup
from ferrokafka.server.sasl.scram import scram_credential
from ferrokafka.testing import RunningBroker, run_broker

LOOPBACK = "127.0.0.1"
SASL_LISTENER = "SASL_PLAINTEXT"
PLAIN_USERS = {"admin": "admin-secret", "alice": "alice-secret"}
SCRAM_USERS = {"scrammer": "scram-secret-1", "bob": "bob-secret"}
PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
OAUTH_MODULE = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
JWKS_HANDLER = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
ALL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


def plain_jaas(users: Mapping[str, str] = PLAIN_USERS) -> str:
    entries = " ".join(f'user_{name}="{pw}"' for name, pw in users.items())
    return f'{PLAIN_MODULE} required username="admin" password="admin-secret" {entries};'


def scram_lookup(users: Mapping[str, str] = SCRAM_USERS) -> ScramLookup:
    """Credentials for every SCRAM mechanism, derived once (PBKDF2 with 4096 iterations)."""
    table: dict[tuple[str, str], ScramCredential] = {}
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        for user, password in users.items():
            table[(user, mechanism)] = scram_credential(mechanism, password)
    return lambda user, mechanism: table.get((user, mechanism))


def sasl_overrides(
    mechanisms: tuple[str, ...] = ALL_MECHANISMS, **extra: object
) -> dict[str, object]:
    """A PLAINTEXT listener (inter-broker) and a SASL_PLAINTEXT one with ``mechanisms``."""
    prefix = f"listener.name.{SASL_LISTENER.lower()}."
    overrides: dict[str, object] = {
        "listeners": f"PLAINTEXT://{LOOPBACK}:0,{SASL_LISTENER}://{LOOPBACK}:0,"
        f"CONTROLLER://{LOOPBACK}:0",
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:0,{SASL_LISTENER}://{LOOPBACK}:0",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
        "CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": ",".join(mechanisms),
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "group.initial.rebalance.delay.ms": 0,
        "offsets.topic.replication.factor": 1,
    }
    for mechanism in mechanisms:
        module = {"PLAIN": plain_jaas()}.get(
            mechanism, f"{OAUTH_MODULE} required;" if mechanism == "OAUTHBEARER" else None
        )
        overrides[f"{prefix}{mechanism.lower()}.sasl.jaas.config"] = module or (
            f"{SCRAM_MODULE} required;"
        )
    overrides.update(extra)
    return overrides


@dataclass
class SaslBroker:
    running: RunningBroker

    @property
    def sasl_bootstrap(self) -> str:
        address = next(a for a in self.running.addresses if a.listener_name == SASL_LISTENER)
        return f"{address.host}:{address.port}"

    @property
    def plaintext_bootstrap(self) -> str:
        return self.running.bootstrap_servers


@contextlib.contextmanager
def run_sasl_broker(data_dir: Path, **overrides: object) -> Iterator[SaslBroker]:
    mechanisms = overrides.pop("mechanisms", ALL_MECHANISMS)
    assert isinstance(mechanisms, tuple)
    with run_broker(data_dir, sasl_overrides(mechanisms, **overrides)) as running:
        running.broker.scram_lookup = scram_lookup()
        yield SaslBroker(running)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsecured_token(sub: str, *, lifetime_s: float = 3600, **claims: Any) -> str:
    """An unsigned JWS (alg none) as Kafka's unsecured login module makes."""
    now = time.time()
    body = {"sub": sub, "iat": now, "exp": now + lifetime_s, **claims}
    header = _b64url(json.dumps({"alg": "none"}).encode())
    return f"{header}.{_b64url(json.dumps(body).encode())}."


class ScramClient:
    """RFC 5802 client side, for driving the server."""

    def __init__(self, mechanism: str, user: str, password: str, gs2: str = "n,,") -> None:
        self.hash = "sha256" if mechanism == "SCRAM-SHA-256" else "sha512"
        self.user, self.password, self.gs2 = user, password, gs2
        self.nonce = secrets.token_urlsafe(16)
        self.first_bare = f"n={user},r={self.nonce}"

    def first(self) -> bytes:
        return (self.gs2 + self.first_bare).encode()

    def final(self, server_first: bytes, *, channel: str | None = None) -> tuple[bytes, bytes]:
        fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac(
            self.hash, self.password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
        )
        client_key = hmac.digest(salted, b"Client Key", self.hash)
        stored = hashlib.new(self.hash, client_key).digest()
        c = channel or base64.b64encode(self.gs2.encode()).decode()
        without_proof = f"c={c},r={fields['r']}"
        auth = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(stored, auth, self.hash)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_sig = hmac.digest(hmac.digest(salted, b"Server Key", self.hash), auth, self.hash)
        final = f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
        return final, b"v=" + base64.b64encode(server_sig)
