"""The client-side SSLContext of a listener's ``ssl.*`` values (config/tls_settings.py), as
Kafka's SslFactory in client mode builds it from the same keys as the listener's server side:
the truststore checks the other node's certificate (unset: the system's CAs), the keystore,
when there is one, is offered for client authentication (``ssl.client.auth`` on the other
side), ``ssl.endpoint.identification.algorithm=https`` (the default) checks the certificate
names the host dialled (an empty value turns that check off, as in Kafka), and
``ssl.enabled.protocols`` / ``ssl.protocol`` / ``ssl.cipher.suites`` apply as on the server.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from ferrokafka.config.keystores import (
    KeystoreError,
    StoreSettings,
    install_key_and_chain,
    load_key_and_chain,
    load_trusted,
)
from ferrokafka.config.tls_settings import TlsSettingsError, apply_ciphers, apply_protocols

HOSTNAME_CHECKS = ("https", "")


def client_tls_context(values: Mapping[str, Any]) -> ssl.SSLContext:
    """The client context ``values`` describe; TlsSettingsError (one line) when they cannot."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    apply_protocols(context, values["ssl.enabled.protocols"], values["ssl.protocol"])
    apply_ciphers(context, values["ssl.cipher.suites"])
    algorithm = (values["ssl.endpoint.identification.algorithm"] or "").lower()
    if algorithm not in HOSTNAME_CHECKS:
        raise TlsSettingsError(
            f"ssl.endpoint.identification.algorithm: unknown algorithm {algorithm!r} "
            "(https, or empty for none)"
        )
    context.check_hostname = algorithm == "https"
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        trusted = load_trusted(
            StoreSettings(
                values["ssl.truststore.type"],
                values["ssl.truststore.location"],
                values["ssl.truststore.password"],
                inline_certificates=values["ssl.truststore.certificates"],
            )
        )
        if trusted is None:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)  # Java's default truststore
        else:
            context.load_verify_locations(cadata=trusted)
        has_keystore = (
            values["ssl.keystore.location"] is not None or values["ssl.keystore.key"] is not None
        )
        if has_keystore:
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
    except KeystoreError as exc:
        raise TlsSettingsError(str(exc)) from None
    return context
