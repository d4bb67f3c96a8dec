"""The server-side SSLContext a listener's ``ssl.*`` settings describe (the values, protocol
versions and cipher suites are config/tls_settings.py's, shared with the node's TLS clients).

Everything wrong with them is a :class:`TlsConfigError` with a one-line reason, raised when
the broker starts (and, for a dynamic change, when the next connection would use it).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from ferrokafka.config.keystores import (
    KeystoreError,
    StoreSettings,
    install_key_and_chain,
    load_key_and_chain,
    load_trusted,
)
from ferrokafka.config.tls_settings import (
    CLIENT_AUTH,
    apply_ciphers,
    apply_protocols,
    listener_values,
)
from ferrokafka.server.startup_errors import StartupError
from ferrokafka.server.tls.principal_mapping import Rule, parse_rules

__all__ = ["ListenerTls", "TlsConfigError", "build_listener_tls", "check_reload", "listener_values"]


class TlsConfigError(StartupError):
    """A listener's TLS settings cannot make a context (one line: which listener, why);
    ``ferrokafka serve`` prints it as the reason it cannot start."""


@dataclass(frozen=True)
class ListenerTls:
    """What a TLS listener serves with: the context and the principal mapping rules, and
    the served certificate's subject and alternative names (a reload compares them)."""

    context: ssl.SSLContext
    rules: list[Rule]
    client_auth: str
    subject: str = ""
    subject_alt_names: frozenset[str] = frozenset()


def _alt_names(certificate: x509.Certificate) -> frozenset[str]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(str(name.value) for name in extension.value)


def check_reload(old: ListenerTls, new: ListenerTls, values: Mapping[str, Any]) -> None:
    """Kafka's keystore compatibility check of a reload: the same subject DN unless
    ``ssl.allow.dn.changes``, no subject alternative name dropped unless
    ``ssl.allow.san.changes`` (TlsConfigError)."""
    if not values["ssl.allow.dn.changes"] and old.subject.lower() != new.subject.lower():
        raise TlsConfigError(
            f"Keystore DistinguishedName does not match: existing={old.subject}, "
            f"new={new.subject} (ssl.allow.dn.changes=false)"
        )
    if not values["ssl.allow.san.changes"] and not old.subject_alt_names <= new.subject_alt_names:
        raise TlsConfigError(
            f"Keystore SubjectAltNames do not match: existing={sorted(old.subject_alt_names)}, "
            f"new={sorted(new.subject_alt_names)} (ssl.allow.san.changes=false)"
        )


def build_listener_tls(values: Mapping[str, Any], listener: str) -> ListenerTls:
    """The server context of ``values`` (from :func:`listener_values`); TlsConfigError."""
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        apply_protocols(context, values["ssl.enabled.protocols"], values["ssl.protocol"])
        apply_ciphers(context, values["ssl.cipher.suites"])
        key, chain = load_key_and_chain(
            StoreSettings(
                values["ssl.keystore.type"],
                values["ssl.keystore.location"],
                values["ssl.keystore.password"],
                key_password=values["ssl.key.password"],
                inline_key=values["ssl.keystore.key"],
                inline_certificates=values["ssl.keystore.certificate.chain"],
            )
        )
        install_key_and_chain(context, key, chain)
        client_auth = values["ssl.client.auth"]
        context.verify_mode = CLIENT_AUTH[client_auth]
        trusted = load_trusted(
            StoreSettings(
                values["ssl.truststore.type"],
                values["ssl.truststore.location"],
                values["ssl.truststore.password"],
                inline_certificates=values["ssl.truststore.certificates"],
            )
        )
        if client_auth != "none":
            if trusted is None:
                context.load_default_certs(ssl.Purpose.CLIENT_AUTH)  # Java's default truststore
            else:
                context.load_verify_locations(cadata=trusted)
        rules = parse_rules(values["ssl.principal.mapping.rules"])
    except (KeystoreError, ValueError) as exc:
        raise TlsConfigError(f"listener {listener}: {exc}") from None
    leaf = chain[0]
    return ListenerTls(context, rules, client_auth, leaf.subject.rfc4514_string(), _alt_names(leaf))
