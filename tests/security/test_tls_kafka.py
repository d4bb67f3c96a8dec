"""The same TLS checks against Apache Kafka 4.4 and ferrokafka, configured alike (issue 18).

Both brokers get the keystores of conftest.py on two SSL listeners: ``SSL`` (PKCS12 keystore,
PEM truststore, client auth requested) and ``MTLS`` (PEM keystore file, PKCS12 truststore,
client auth required). Kafka cannot hold a multi-line inline PEM in server.properties as
written here, so both read the PEM keystore from a file. Each broker must: serve a client with
a certificate on both listeners and one without on ``SSL``; refuse a client without a
certificate on ``MTLS`` with an authentication error (Java: SslAuthenticationException) and a
certificate from an unknown CA on both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from tests.security.certs import PASSWORD
from tests.security.conftest import Pki, make_pki, tls_overrides
from tests.security.test_tls_clients import (
    CLIENT_TIMEOUT_S,
    _metadata_refused,
    confluent_round_trip,
    expected_values,
)
from tests.security.test_tls_java import CONSOLE_CONSUMER, CONSOLE_IDLE_MS

import kafka_support as ks
from ferrokafka.testing.broker import run_broker
from kafka_support.broker import KafkaBroker, free_loopback_port

pytestmark = pytest.mark.kafka


def shared_overrides(pki: Pki) -> dict[str, str]:
    """conftest's TLS settings, with MTLS's keystore read from a PEM file."""
    overrides = {
        k: v
        for k, v in tls_overrides(pki).items()
        if not k.startswith("listener.name.mtls.ssl.keystore.")
    }
    overrides["listener.name.mtls.ssl.keystore.type"] = "PEM"
    overrides["listener.name.mtls.ssl.keystore.location"] = str(pki.broker.pem)
    return overrides


class TlsKafkaBroker(KafkaBroker):
    """Apache Kafka with conftest's SSL and MTLS listeners besides its PLAINTEXT one."""

    def __init__(self, work_dir: Path, overrides: dict[str, str]) -> None:
        super().__init__(work_dir, broker_config=overrides)
        self.tls_ports = {"SSL": free_loopback_port(), "MTLS": free_loopback_port()}

    def _write_config(self) -> None:
        ssl_port, mtls_port = self.tls_ports["SSL"], self.tls_ports["MTLS"]
        self.extra_config.update({
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port},"
                f"SSL://127.0.0.1:{ssl_port},MTLS://127.0.0.1:{mtls_port}"
            ),
            "advertised.listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},SSL://127.0.0.1:{ssl_port},"
                f"MTLS://127.0.0.1:{mtls_port}"
            ),
        })  # fmt: skip
        super()._write_config()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(
    scope="module", params=[pytest.param("kafka", marks=ks.COMPARE_OPT_IN), "ferrokafka"]
)
def endpoints(
    request: pytest.FixtureRequest, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """bootstrap servers by listener name (PLAINTEXT, SSL, MTLS) of the broker under test."""
    overrides = shared_overrides(pki)
    if request.param == "kafka":
        ks.require_kafka()
        broker = TlsKafkaBroker(tmp_path_factory.mktemp("kafka"), overrides)
        with broker:
            yield {
                "PLAINTEXT": broker.bootstrap_servers,
                **{name: f"127.0.0.1:{port}" for name, port in broker.tls_ports.items()},
            }
        return
    with run_broker(overrides=overrides) as running:
        yield {a.listener_name: f"127.0.0.1:{a.port}" for a in running.addresses}


def _topic(servers: str) -> str:
    topic = f"cmp-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(CLIENT_TIMEOUT_S)
    return topic


def _ssl(pki: Pki, servers: str, identity: str | None) -> dict[str, object]:
    config: dict[str, object] = {
        "bootstrap.servers": servers,
        "security.protocol": "SSL",
        "ssl.ca.location": str(pki.ca.pem),
    }
    if identity is not None:
        who = getattr(pki, identity)
        config["ssl.certificate.location"] = str(who.cert_pem)
        config["ssl.key.location"] = str(who.key_pem)
    return config


def test_clients_served(endpoints: dict[str, str], pki: Pki) -> None:
    for listener, identity in (("SSL", "alice"), ("SSL", None), ("MTLS", "bob")):
        topic = _topic(endpoints["PLAINTEXT"])
        got = confluent_round_trip(_ssl(pki, endpoints[listener], identity), topic)
        assert got == expected_values(), (listener, identity)


def test_refusals(endpoints: dict[str, str], pki: Pki) -> None:
    assert _metadata_refused(_ssl(pki, endpoints["MTLS"], None))
    assert _metadata_refused(_ssl(pki, endpoints["MTLS"], "stranger"))


def test_requested_auth_with_an_untrusted_certificate(
    request: pytest.FixtureRequest, endpoints: dict[str, str], pki: Pki
) -> None:
    """The one known difference: with ssl.client.auth=requested, Java's TLS serves a client
    whose certificate it does not trust as if it sent none (User:ANONYMOUS); Python's ssl
    (OpenSSL) can only fail that handshake, so ferrokafka refuses it (stricter)."""
    refused = _metadata_refused(_ssl(pki, endpoints["SSL"], "stranger"))
    assert refused == ("ferrokafka" in request.node.callspec.id)


def test_java_client_without_certificate_refused(
    endpoints: dict[str, str], pki: Pki, tmp_path: Path
) -> None:
    ks.require_kafka()
    topic = _topic(endpoints["PLAINTEXT"])
    config = tmp_path / "client.properties"
    config.write_text(
        f"security.protocol=SSL\nssl.truststore.type=PKCS12\n"
        f"ssl.truststore.location={pki.ca.p12}\nssl.truststore.password={PASSWORD}\n"
    )
    result = ks.run_kafka_tool(
        CONSOLE_CONSUMER,
        [
            "--bootstrap-server", endpoints["MTLS"], "--topic", topic, "--from-beginning",
            "--max-messages", "1", "--timeout-ms", str(CONSOLE_IDLE_MS),
            "--command-config", str(config),
        ],
        work_dir=tmp_path,
    )  # fmt: skip
    assert result.stdout == ""
    assert "SslAuthenticationException" in result.stderr
