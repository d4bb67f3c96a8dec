"""Key and trust material from Kafka's keystore and truststore settings.

Keystores: ``PKCS12`` (a file, ``ssl.keystore.password``; the key's own password
``ssl.key.password`` when it differs) and ``PEM`` (a file holding the private key and the
certificate chain, or both inline in ``ssl.keystore.key`` / ``ssl.keystore.certificate.chain``;
an encrypted key is opened with ``ssl.key.password``). Truststores: ``PKCS12`` and ``PEM``
(file or inline ``ssl.truststore.certificates``). ``JKS``, Kafka's default type, needs a Java
keystore reader no maintained Python library provides (pyjks is unmaintained): refused with a
one-line error saying to convert it (``keytool -importkeystore -deststoretype PKCS12``).

Python's ``ssl`` loads a certificate chain only from a file, so the key is written to a
private temporary file (mode 0600), encrypted with a one-off random password, and removed as
soon as the context holds it: the clear key never reaches the disk.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

STORE_TYPES = ("PKCS12", "PEM")
JKS_REFUSAL = (
    "JKS keystores are not supported (no maintained Python reader); convert it with "
    "`keytool -importkeystore -srckeystore X.jks -destkeystore X.p12 -deststoretype PKCS12` "
    "and set the type to PKCS12"
)


class KeystoreError(Exception):
    """A keystore or truststore that cannot be used (the text says why, in one line)."""


@dataclass(frozen=True)
class StoreSettings:
    """One listener's keystore or truststore keys (values as configured, None: unset)."""

    type: str
    location: str | None
    password: str | None
    key_password: str | None = None  # keystores only: ssl.key.password
    inline_key: str | None = None  # ssl.keystore.key
    # ssl.keystore.certificate.chain, or ssl.truststore.certificates
    inline_certificates: str | None = None


def _check_type(kind: str, store_type: str) -> str:
    upper = store_type.upper()
    if upper == "JKS":
        raise KeystoreError(f"{kind}: {JKS_REFUSAL}")
    if upper not in STORE_TYPES:
        choices = ", ".join(STORE_TYPES)
        raise KeystoreError(f"{kind}: unknown type {store_type!r} (one of {choices})")
    return upper


def _read(kind: str, location: str) -> bytes:
    try:
        return Path(location).read_bytes()
    except OSError as exc:
        raise KeystoreError(f"{kind} {location}: {exc.strerror or exc}") from None


def _password(text: str | None) -> bytes | None:
    return text.encode() if text else None


def _pem_certificates(kind: str, data: bytes) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise KeystoreError(f"{kind}: no PEM certificate could be read ({exc})") from None
    return certificates


def load_key_and_chain(
    settings: StoreSettings,
) -> tuple[PrivateKeyTypes, list[x509.Certificate]]:
    """The private key and certificate chain (leaf first) of a keystore."""
    kind = "keystore"
    inline = settings.inline_key is not None or settings.inline_certificates is not None
    if settings.location is None and not inline:
        raise KeystoreError(
            "an SSL listener needs a keystore: set ssl.keystore.location (or, with "
            "ssl.keystore.type=PEM, ssl.keystore.key and ssl.keystore.certificate.chain)"
        )
    store_type = _check_type(kind, settings.type)
    if inline:
        if store_type != "PEM":
            raise KeystoreError(
                "ssl.keystore.key and ssl.keystore.certificate.chain need ssl.keystore.type=PEM"
            )
        if settings.location is not None:
            raise KeystoreError(
                "set either ssl.keystore.location or ssl.keystore.key/certificate.chain, not both"
            )
        if settings.inline_key is None or settings.inline_certificates is None:
            raise KeystoreError("ssl.keystore.key and ssl.keystore.certificate.chain go together")
        key_data = settings.inline_key.encode()
        chain = _pem_certificates(kind, settings.inline_certificates.encode())
        return _pem_key(kind, key_data, settings.key_password), chain
    assert settings.location is not None
    data = _read(kind, settings.location)
    if store_type == "PEM":
        return _pem_key(kind, data, settings.key_password), _pem_certificates(kind, data)
    try:
        key, leaf, extra = pkcs12.load_key_and_certificates(data, _password(settings.password))
    except ValueError:
        try:  # Kafka opens the key with ssl.key.password when set, else the store's password
            key, leaf, extra = pkcs12.load_key_and_certificates(
                data, _password(settings.key_password)
            )
        except ValueError:
            raise KeystoreError(
                f"keystore {settings.location}: wrong password or not a PKCS12 file"
            ) from None
    if key is None or leaf is None:
        raise KeystoreError(f"keystore {settings.location}: holds no private key and certificate")
    return key, [leaf, *extra]


def _pem_key(kind: str, data: bytes, password: str | None) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, _password(password))
    except (ValueError, TypeError) as exc:
        raise KeystoreError(f"{kind}: the private key cannot be read ({exc})") from None


def load_trusted(settings: StoreSettings) -> str | None:
    """The trusted certificates as one PEM string; None when no truststore is configured."""
    kind = "truststore"
    if settings.inline_certificates is None and settings.location is None:
        return None  # the type (JKS by default) matters only when there is a store
    store_type = _check_type(kind, settings.type)
    if settings.inline_certificates is not None:
        if store_type != "PEM":
            raise KeystoreError("ssl.truststore.certificates needs ssl.truststore.type=PEM")
        certificates = _pem_certificates(kind, settings.inline_certificates.encode())
    elif store_type == "PEM":
        assert settings.location is not None
        certificates = _pem_certificates(kind, _read(kind, settings.location))
    else:
        assert settings.location is not None
        data = _read(kind, settings.location)
        try:
            store = pkcs12.load_pkcs12(data, _password(settings.password))
        except ValueError:
            raise KeystoreError(
                f"truststore {settings.location}: wrong password or not a PKCS12 file"
            ) from None
        certificates = [c.certificate for c in store.additional_certs]
        if store.cert is not None:
            certificates.insert(0, store.cert.certificate)
    if not certificates:
        raise KeystoreError(f"{kind}: holds no certificate")
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def install_key_and_chain(
    context: ssl.SSLContext,
    key: PrivateKeyTypes,
    chain: list[x509.Certificate],
) -> None:
    """Load ``key`` and ``chain`` into ``context`` through a private, encrypted temp file."""
    one_off = secrets.token_urlsafe(24)
    pem = key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_off.encode()),
    ) + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    fd, path = tempfile.mkstemp(prefix="ferrokafka-tls-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        try:
            context.load_cert_chain(path, password=one_off)
        except ssl.SSLError as exc:
            raise KeystoreError(f"keystore: key and certificate do not match ({exc})") from None
    finally:
        os.unlink(path)
