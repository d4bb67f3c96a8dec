"""Broker keys of TLS listeners (server/tls/) (issue 18).

Rows here are *implemented* keys (config/known_keys.py): listing one lifts the start-up refusal
that protects a broker from silently running without the security its file asks for. A
listener-prefixed form (``listener.name.<l>.<key>``) of a key listed here is implemented too,
and wins over the unprefixed key for that listener (config/tls_settings.py reads them, for the
listener's server side and for this node's own clients dialling that listener).
"""

from __future__ import annotations

from ferrokafka.config.definitions import ConfigKey, ConfigType, one_of

_B = ConfigType.BOOLEAN
_S = ConfigType.STRING
_P = ConfigType.PASSWORD
_LIST = ConfigType.LIST

# fmt: off
TLS_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("ssl.keystore.type", _S, "JKS",
              "Keystore format: PKCS12 or PEM (JKS, Kafka's default, is refused: convert it to "
              "PKCS12).", dynamic=True),
    ConfigKey("ssl.keystore.location", _S, None,
              "Keystore file: PKCS12, or PEM holding the private key and certificate chain.",
              dynamic=True),
    ConfigKey("ssl.keystore.password", _P, None, "Password of the PKCS12 keystore file.",
              dynamic=True),
    ConfigKey("ssl.key.password", _P, None,
              "Password of the private key (a PEM key's encryption, or a PKCS12 key's own).",
              dynamic=True),
    ConfigKey("ssl.keystore.certificate.chain", _P, None,
              "Certificate chain in PEM, inline (with ssl.keystore.type=PEM).", dynamic=True),
    ConfigKey("ssl.keystore.key", _P, None,
              "Private key in PEM, inline (with ssl.keystore.type=PEM).", dynamic=True),
    ConfigKey("ssl.truststore.type", _S, "JKS",
              "Truststore format: PKCS12 or PEM (JKS is refused: convert it to PKCS12).",
              dynamic=True),
    ConfigKey("ssl.truststore.location", _S, None,
              "Truststore file of the CAs client certificates are checked against; unset: the "
              "system's CAs.", dynamic=True),
    ConfigKey("ssl.truststore.password", _P, None, "Password of the PKCS12 truststore file.",
              dynamic=True),
    ConfigKey("ssl.truststore.certificates", _P, None,
              "Trusted certificates in PEM, inline (with ssl.truststore.type=PEM).", dynamic=True),
    ConfigKey("ssl.client.auth", _S, "none",
              "Client certificates: required, requested (checked when sent) or none.",
              one_of("required", "requested", "none"), dynamic=True),
    ConfigKey("ssl.enabled.protocols", _LIST, ["TLSv1.2", "TLSv1.3"],
              "TLS versions a client may negotiate.", dynamic=True),
    ConfigKey("ssl.protocol", _S, "TLSv1.3",
              "TLS protocol of the context: TLS, TLSv1.2 or TLSv1.3 (the highest version "
              "offered).", dynamic=True),
    ConfigKey("ssl.cipher.suites", _LIST, [],
              "Cipher suites by their Java (IANA) names; empty: OpenSSL's defaults. TLS 1.3 "
              "suites can be left out (no TLS 1.3) but not narrowed.", dynamic=True),
    ConfigKey("ssl.endpoint.identification.algorithm", _S, "https",
              "Host name checking of the other node's certificate when this node dials the "
              "listener (controller, inter-broker): https checks it names the host dialled, "
              "empty turns the check off. Unused by the listener's server side.", dynamic=True),
    ConfigKey("ssl.allow.dn.changes", _B, False,
              "Whether a reloaded keystore's certificate may have another subject DN."),
    ConfigKey("ssl.allow.san.changes", _B, False,
              "Whether a reloaded keystore's certificate may drop subject alternative names."),
    ConfigKey("ssl.principal.mapping.rules", _S, "DEFAULT",
              "Rules mapping a client certificate's distinguished name to the principal's "
              "user name (RULE:pattern/replacement/[LU], DEFAULT)."),
)
# fmt: on
