"""One listener's ``ssl.*`` values, and what they say about any SSLContext built from them
(protocol versions, cipher suites): shared by the listeners' server contexts (server/tls/) and
the node's own client contexts (cluster/connector/), as Kafka's SslFactory serves both.

Each key is read as Kafka reads a listener's config: ``listener.name.<listener in lower
case>.<key>`` when set (static or dynamic), else the unprefixed key, else its default.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from ferrokafka.config.broker import BrokerConfig
from ferrokafka.config.tls_keys import TLS_KEYS


class TlsSettingsError(ValueError):
    """``ssl.*`` values no context can be made of (one line: which key, why)."""


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


def apply_ciphers(context: ssl.SSLContext, suites: list[str]) -> None:
    if not suites:
        return
    tls13 = [s for s in suites if s in TLS13_SUITES]
    names: list[str] = []
    for suite in suites:
        if suite in TLS13_SUITES:
            continue
        name = _openssl_cipher(suite)
        if name is None:
            raise TlsSettingsError(f"ssl.cipher.suites: unknown or unsupported suite {suite}")
        names.append(name)
    if tls13 and set(tls13) != TLS13_SUITES:
        raise TlsSettingsError(
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
            raise TlsSettingsError(
                f"ssl.cipher.suites: OpenSSL supports none of {', '.join(names)}"
            ) from None
    elif context.maximum_version == ssl.TLSVersion.TLSv1_2:
        raise TlsSettingsError("ssl.cipher.suites lists no suite usable by an enabled protocol")


def apply_protocols(context: ssl.SSLContext, enabled: list[str], protocol: str) -> None:
    versions: list[ssl.TLSVersion] = []
    for name in enabled:
        version = PROTOCOL_VERSIONS.get(name)
        if version is None:
            raise TlsSettingsError(
                f"ssl.enabled.protocols: unknown protocol {name} (one of "
                f"{', '.join(PROTOCOL_VERSIONS)})"
            )
        versions.append(version)
    if not versions:
        raise TlsSettingsError("ssl.enabled.protocols is empty")
    if protocol not in CONTEXT_PROTOCOLS:
        raise TlsSettingsError(
            f"ssl.protocol: unsupported protocol {protocol} (one of {', '.join(CONTEXT_PROTOCOLS)})"
        )
    cap = CONTEXT_PROTOCOLS[protocol]
    highest = max(versions)
    if cap is not None:
        highest = min(highest, cap)
    lowest = min(versions)
    if lowest > highest:
        raise TlsSettingsError(f"ssl.protocol {protocol} allows none of ssl.enabled.protocols")
    context.minimum_version = lowest
    context.maximum_version = highest
