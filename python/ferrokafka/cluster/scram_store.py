"""SCRAM credentials in the metadata image: the RFC 5802 key derivation Kafka's
``ScramFormatter`` does, the UserScramCredentialRecord of a credential, and
:func:`scram_lookup`, the :data:`~ferrokafka.cluster.scram_credentials.ScramLookup` SASL/SCRAM
authentication asks.

Where SASL gets its lookup: ``scram_lookup(node)`` with the broker's
:class:`~ferrokafka.server.node.Node` (anything with an ``image`` attribute), or
``scram_lookup(lambda: broker.node.image)`` where the SASL machinery is built before
``Broker.node`` exists (server/broker.py opens the node after the dispatchers): each call reads
the node's newest image, so a credential altered through any broker of the cluster is seen as
soon as this node has applied the record. ``scram_lookup(image)`` with a fixed
:class:`MetadataImage` is for tests.

The image keeps ``MetadataImage.scram``: (user, mechanism name) -> :class:`ScramCredential`,
never a password or a salted password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Protocol

from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.records import UserScramCredentialRecord
from ferrokafka.cluster.scram_credentials import (
    MECHANISMS_BY_TYPE,
    ScramCredential,
    ScramLookup,
    ScramMechanism,
)

# Kafka's ScramFormatter.secureRandomBytes: a salt of this many random bytes (the length of
# a SHA-256 digest; Kafka uses it for both mechanisms).
SALT_BYTES = 32
_CLIENT_KEY = b"Client Key"
_SERVER_KEY = b"Server Key"


def salted_password(
    mechanism: ScramMechanism, password: str, salt: bytes, iterations: int
) -> bytes:
    """Hi(Normalize(password), salt, i) of RFC 5802: PBKDF2 with HMAC of the mechanism's hash.
    Kafka does not SASLprep the password: it uses its UTF-8 bytes as they are."""
    return hashlib.pbkdf2_hmac(mechanism.hash_name, password.encode(), salt, iterations)


def client_key(mechanism: ScramMechanism, salted: bytes) -> bytes:
    return hmac.new(salted, _CLIENT_KEY, mechanism.hash_name).digest()


def stored_key(mechanism: ScramMechanism, client: bytes) -> bytes:
    return hashlib.new(mechanism.hash_name, client).digest()


def server_key(mechanism: ScramMechanism, salted: bytes) -> bytes:
    return hmac.new(salted, _SERVER_KEY, mechanism.hash_name).digest()


def random_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def credential_from_salted(
    mechanism: ScramMechanism, salt: bytes, salted: bytes, iterations: int
) -> ScramCredential:
    """What the controller keeps of an upsertion: StoredKey and ServerKey, not the salted
    password (Kafka's ScramControlManager.finishUpsertion)."""
    return ScramCredential(
        mechanism=mechanism,
        salt=salt,
        stored_key=stored_key(mechanism, client_key(mechanism, salted)),
        server_key=server_key(mechanism, salted),
        iterations=iterations,
    )


def credential_from_password(
    mechanism: ScramMechanism, password: str, salt: bytes, iterations: int
) -> ScramCredential:
    salted = salted_password(mechanism, password, salt, iterations)
    return credential_from_salted(mechanism, salt, salted, iterations)


def credential_record(user: str, credential: ScramCredential) -> UserScramCredentialRecord:
    return UserScramCredentialRecord(
        name=user,
        mechanism=credential.mechanism.kafka_type,
        salt=credential.salt,
        stored_key=credential.stored_key,
        server_key=credential.server_key,
        iterations=credential.iterations,
    )


def credential_of_record(record: UserScramCredentialRecord) -> ScramCredential | None:
    """The credential a record holds; None for a mechanism type Kafka does not know."""
    mechanism = MECHANISMS_BY_TYPE.get(record.mechanism)
    if mechanism is None:
        return None
    return ScramCredential(
        mechanism=mechanism,
        salt=bytes(record.salt),
        stored_key=bytes(record.stored_key),
        server_key=bytes(record.server_key),
        iterations=record.iterations,
    )


class HasImage(Protocol):
    @property
    def image(self) -> MetadataImage: ...


def scram_lookup(
    node_or_image: HasImage | MetadataImage | Callable[[], MetadataImage],
) -> ScramLookup:
    """The credentials of ``node_or_image``: a node's are read from its newest image at each
    call, and so are those of a function giving the current image (for code built before the
    node exists: ``scram_lookup(lambda: broker.node.image)``); an image's are fixed."""
    if callable(node_or_image):
        current_image = node_or_image

        def latest(user: str, mechanism: str) -> ScramCredential | None:
            return current_image().scram.get((user, mechanism))

        return latest
    if isinstance(node_or_image, MetadataImage):
        image = node_or_image

        def fixed(user: str, mechanism: str) -> ScramCredential | None:
            return image.scram.get((user, mechanism))

        return fixed
    node = node_or_image

    def current(user: str, mechanism: str) -> ScramCredential | None:
        return node.image.scram.get((user, mechanism))

    return current
