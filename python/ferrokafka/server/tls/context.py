"""One listener's ``ssl.*`` settings and the server-side SSLContext they describe.

Each key is read as Kafka reads a listener's config: ``listener.name.<listener in lower
case>.<key>`` when set (static or dynamic), else the unprefixed key, else its default.
Everything wrong with them is a :class:`TlsConfigError` with a one-line reason, raised when
the broker starts (and, for a dynamic change, when the next connection would use it).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from ferrokafka.config import BrokerConfig
from ferrokafka.config.tls_keys import TLS_KEYS
from ferrokafka.server.startup_errors import StartupError
from ferrokafka.server.tls.keystores import (
    KeystoreError,
    StoreSettings,
    install_key_and_chain,
    load_key_and_chain,
    load_trusted,
)
from ferrokafka.server.tls.principal_mapping import Rule, parse_rules

_TLS_KEY_ROWS = {key.name: key for key in TLS_KEYS}

PROTOCOL_VERSIONS: Mapping[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
# ssl.protocol: the highest version the context speaks ("TLS": whatever is enabled).
CONTEXT_PROTOCOLS: Mapping[str, ssl.TLSVersion | None] = {
    "TLS": None,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
CLIENT_AUTH: Mapping[str, ssl.VerifyMode] = {
    "none": ssl.CERT_NONE,
    "requested": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
# TLS 1.3 suites: OpenSSL enables all three and Python's ssl cannot choose among them.
TLS13_SUITES = frozenset({
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
})  # fmt: skip
# Java (IANA) TLS 1.2 suite names to OpenSSL's: key exchange and authentication, then cipher.
_KEY_EXCHANGES = {"ECDHE_ECDSA": "ECDHE-ECDSA-", "ECDHE_RSA": "ECDHE-RSA-", "DHE_RSA": "DHE-RSA-"}
_CIPHERS = {
    "AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "CHACHA20_POLY1305_SHA256": "CHACHA20-POLY1305",
    "AES_128_CBC_SHA256": "AES128-SHA256",
    "AES_256_CBC_SHA384": "AES256-SHA384",
    "AES_256_CBC_SHA256": "AES256-SHA256",
    "AES_128_CBC_SHA": "AES128-SHA",
    "AES_256_CBC_SHA": "AES256-SHA",
}


class TlsConfigError(StartupError):
    """A listener's TLS settings cannot make a context (one line: which listener, why);
    ``ferrokafka serve`` prints it as the reason it cannot start."""


def listener_values(config: BrokerConfig, listener: str) -> dict[str, Any]:
    """The typed ``ssl.*`` values of ``listener``, prefixed keys first."""
    prefix = f"listener.name.{listener.lower()}."
    values: dict[str, Any] = {}
    for name, key in _TLS_KEY_ROWS.items():
        raw = config.originals.get(prefix + name)
        values[name] = config[name] if raw is None else key.parse(raw)
    return values


def _openssl_cipher(java_name: str) -> str | None:
    if not java_name.startswith("TLS_") or "_WITH_" not in java_name:
        return None
    exchange, _, cipher = java_name[len("TLS_") :].partition("_WITH_")
    prefix = "" if exchange == "RSA" else _KEY_EXCHANGES.get(exchange)
    suffix = _CIPHERS.get(cipher)
    if prefix is None or suffix is None:
        return None
    return prefix + suffix


def _apply_ciphers(context: ssl.SSLContext, suites: list[str]) -> None:
    if not suites:
        return
    tls13 = [s for s in suites if s in TLS13_SUITES]
    names: list[str] = []
    for suite in suites:
        if suite in TLS13_SUITES:
            continue
        name = _openssl_cipher(suite)
        if name is None:
            raise TlsConfigError(f"ssl.cipher.suites: unknown or unsupported suite {suite}")
        names.append(name)
    if tls13 and set(tls13) != TLS13_SUITES:
        raise TlsConfigError(
            "ssl.cipher.suites: TLS 1.3 suites can be all left out or all listed, not narrowed "
            f"(Python's ssl cannot choose among {', '.join(sorted(TLS13_SUITES))})"
        )
    if not tls13:
        # No TLS 1.3 suite listed: as in Java, no TLS 1.3 handshake can succeed.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if names:
        try:
            context.set_ciphers(":".join(names))
        except ssl.SSLError:
            raise TlsConfigError(
                f"ssl.cipher.suites: OpenSSL supports none of {', '.join(names)}"
            ) from None
    elif context.maximum_version == ssl.TLSVersion.TLSv1_2:
        raise TlsConfigError("ssl.cipher.suites lists no suite usable by an enabled protocol")


def _apply_protocols(context: ssl.SSLContext, enabled: list[str], protocol: str) -> None:
    versions: list[ssl.TLSVersion] = []
    for name in enabled:
        version = PROTOCOL_VERSIONS.get(name)
        if version is None:
            raise TlsConfigError(
                f"ssl.enabled.protocols: unknown protocol {name} (one of "
                f"{', '.join(PROTOCOL_VERSIONS)})"
            )
        versions.append(version)
    if not versions:
        raise TlsConfigError("ssl.enabled.protocols is empty")
    if protocol not in CONTEXT_PROTOCOLS:
        raise TlsConfigError(
            f"ssl.protocol: unsupported protocol {protocol} (one of {', '.join(CONTEXT_PROTOCOLS)})"
        )
    cap = CONTEXT_PROTOCOLS[protocol]
    highest = max(versions)
    if cap is not None:
        highest = min(highest, cap)
    lowest = min(versions)
    if lowest > highest:
        raise TlsConfigError(f"ssl.protocol {protocol} allows none of ssl.enabled.protocols")
    context.minimum_version = lowest
    context.maximum_version = highest


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
        _apply_protocols(context, values["ssl.enabled.protocols"], values["ssl.protocol"])
        _apply_ciphers(context, values["ssl.cipher.suites"])
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
    except (KeystoreError, TlsConfigError, ValueError) as exc:
        raise TlsConfigError(f"listener {listener}: {exc}") from None
    leaf = chain[0]
    return ListenerTls(context, rules, client_auth, leaf.subject.rfc4514_string(), _alt_names(leaf))
