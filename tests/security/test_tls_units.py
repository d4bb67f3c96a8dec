"""server/tls/ without a network: Kafka's principal mapping rules, the context built from
``ssl.*`` values, and the one-line refusals of settings it cannot honour."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from tests.security.certs import PASSWORD
from tests.security.conftest import Pki, make_pki

from ferrokafka.config import BrokerConfig
from ferrokafka.config.keystores import JKS_REFUSAL
from ferrokafka.server.tls.context import (
    TlsConfigError,
    build_listener_tls,
    listener_values,
)
from ferrokafka.server.tls.principal_mapping import NoMatchingRule, map_name, parse_rules
from ferrokafka.testing.broker import testing_config as make_config

# Cases of Kafka's SslPrincipalMapperTest.
RULES = (
    "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,"
    "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,"
    "RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U,"
    "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U,"
    "DEFAULT"
)


@pytest.mark.parametrize(
    ("dn", "name"),
    [
        ("CN=Duke,OU=ServiceUsers,O=Org,C=US", "Duke"),
        ("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US", "duke@sme"),
        ("cn=duke,ou=JavaSoft,dc=mycp,dc=com", "DUKE@JAVASOFT"),
        ("OU=JavaSoft,O=Sun Microsystems,C=US", "OU=JavaSoft,O=Sun Microsystems,C=US"),
        ("CN=test", "TEST"),
    ],
)
def test_kafka_mapping_cases(dn: str, name: str) -> None:
    assert map_name(parse_rules(RULES), dn) == name


def test_rule_syntax() -> None:
    assert [str(r) for r in parse_rules(" DEFAULT , RULE:a(b)/x$1/L ")] == [
        "DEFAULT",
        "RULE:a(b)/x$1/L",
    ]
    # A reference past the last group is literal, as in Kafka; \/ escapes a slash.
    assert map_name(parse_rules("RULE:^CN=(\\w+)$/$1\\/$2/"), "CN=bob") == "bob/$2"
    with pytest.raises(ValueError, match="invalid principal mapping rule"):
        parse_rules("RULE:x/y")
    with pytest.raises(ValueError, match="invalid principal mapping rule"):
        parse_rules("DEFAULTS")
    with pytest.raises(NoMatchingRule):
        map_name(parse_rules("RULE:^CN=x$/y/"), "CN=z")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _config(tmp_path: Path, **ssl_keys: str) -> BrokerConfig:
    overrides: dict[str, Any] = {
        "listeners": "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0,SECURE://127.0.0.1:0",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SSL",
        **{k.replace("_", "."): v for k, v in ssl_keys.items()},
    }
    return make_config(tmp_path, overrides)


def _build(pki: Pki, tmp_path: Path, **ssl_keys: str) -> Any:
    keys = {
        "ssl_keystore_type": "PKCS12",
        "ssl_keystore_location": str(pki.broker.p12),
        "ssl_keystore_password": PASSWORD,
        **ssl_keys,
    }
    return build_listener_tls(listener_values(_config(tmp_path, **keys), "SECURE"), "SECURE")


def test_listener_prefix_wins(pki: Pki, tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        ssl_client_auth="none",
        **{"listener_name_secure_ssl_client_auth": "required"},
    )
    assert listener_values(config, "SECURE")["ssl.client.auth"] == "required"
    assert listener_values(config, "OTHER")["ssl.client.auth"] == "none"


def test_context_settings(pki: Pki, tmp_path: Path) -> None:
    tls = _build(
        pki,
        tmp_path,
        ssl_client_auth="required",
        ssl_truststore_type="PEM",
        ssl_truststore_location=str(pki.ca.pem),
        ssl_enabled_protocols="TLSv1.2",
        ssl_cipher_suites="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    )
    assert tls.context.verify_mode == ssl.CERT_REQUIRED
    assert tls.context.maximum_version == ssl.TLSVersion.TLSv1_2
    assert [c["name"] for c in tls.context.get_ciphers() if c["protocol"] == "TLSv1.2"] == [
        "ECDHE-ECDSA-AES128-GCM-SHA256"
    ]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"ssl_keystore_type": "JKS"}, JKS_REFUSAL),
        ({"ssl_keystore_password": "wrong"}, "wrong password or not a PKCS12 file"),
        ({"ssl_cipher_suites": "TLS_FOO_WITH_BAR"}, "unknown or unsupported suite TLS_FOO"),
        ({"ssl_cipher_suites": "TLS_AES_128_GCM_SHA256"}, "TLS 1.3 suites can be all left out"),
        ({"ssl_enabled_protocols": "SSLv3"}, "unknown protocol SSLv3"),
        ({"ssl_protocol": "TLSv1.2", "ssl_enabled_protocols": "TLSv1.3"}, "allows none"),
        ({"ssl_principal_mapping_rules": "RULE:nope"}, "invalid principal mapping rule"),
        ({"ssl_keystore_location": "/nonexistent/ks.p12"}, "No such file"),
    ],
)
def test_refusals(pki: Pki, tmp_path: Path, keys: dict[str, str], message: str) -> None:
    with pytest.raises(TlsConfigError, match="listener SECURE: ") as refused:
        _build(pki, tmp_path, **keys)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_pem_keystore_file_and_encrypted_key(pki: Pki, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        pki.broker.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"key-secret"),
        )
        + pki.broker.cert_pem.read_bytes()
    )
    keys = {"ssl_keystore_type": "PEM", "ssl_keystore_location": str(encrypted)}
    _build(pki, tmp_path, ssl_key_password="key-secret", **keys)
    with pytest.raises(TlsConfigError, match="the private key cannot be read"):
        _build(pki, tmp_path, ssl_key_password="wrong", **keys)


def test_ssl_controller_listener_accepted(tmp_path: Path) -> None:
    # The node's raft and broker-to-controller clients speak TLS (cluster/connector/).
    config = make_config(
        tmp_path, {"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:SSL"}
    )
    assert config.security_protocol_map["CONTROLLER"] == "SSL"
