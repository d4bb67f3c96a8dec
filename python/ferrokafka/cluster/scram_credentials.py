"""SCRAM credentials (RFC 5802, KIP-554) as the metadata log keeps them: the contract between
their storage (UserScramCredentialsRecord in the image, Alter/DescribeUserScramCredentials,
``storage format --add-scram``) and SASL/SCRAM authentication (server/sasl/).

The broker never holds a password: only the salt, StoredKey = H(ClientKey), ServerKey and the
iteration count, per user and mechanism.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ScramMechanism:
    name: str  # as SASL names it: SCRAM-SHA-256
    kafka_type: int  # Kafka's ScramMechanism id in records and requests (1, 2)
    hash_name: str  # hashlib's name
    min_iterations: int  # Kafka refuses fewer (and more than max_iterations)
    max_iterations: int


SCRAM_SHA_256 = ScramMechanism("SCRAM-SHA-256", 1, "sha256", 4096, 16384)
SCRAM_SHA_512 = ScramMechanism("SCRAM-SHA-512", 2, "sha512", 4096, 16384)
MECHANISMS: dict[str, ScramMechanism] = {m.name: m for m in (SCRAM_SHA_256, SCRAM_SHA_512)}
MECHANISMS_BY_TYPE: dict[int, ScramMechanism] = {m.kafka_type: m for m in MECHANISMS.values()}


@dataclass(frozen=True, slots=True)
class ScramCredential:
    mechanism: ScramMechanism
    # Not in repr: a credential printed in a log must not give away what verifies a password.
    salt: bytes = field(repr=False)
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)
    iterations: int = 0


# (user name, mechanism name) -> the stored credential, or None: what authentication asks.
ScramLookup = Callable[[str, str], ScramCredential | None]
