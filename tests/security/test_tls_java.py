"""Kafka's Java console producer and consumer over ferrokafka's TLS listeners, configured
with a client config file (PKCS12 keystore, PEM truststore), and kafka-configs reloading a
listener's keystore without a restart (issue 18)."""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from cryptography import x509
from tests.security.certs import PASSWORD, issue
from tests.security.conftest import TlsBroker

import kafka_support as ks
from kafka_support.jars import (
    TOOL_JVM_OPTIONS,
    TOOL_TIMEOUT_S,
    UTF8_STDOUT_OPTIONS,
    java_executable,
    kafka_classpath,
    write_log4j2_config,
)

pytestmark = pytest.mark.kafka

CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"
CLIENT_TIMEOUT_S = 30.0
# The console consumer exits once no record came for this long (it stops at RECORDS first;
# a group join under a loaded machine takes seconds).
CONSOLE_IDLE_MS = 15_000
RELOAD_WAIT_S = 15.0
RECORDS = 20


def client_properties(path: Path, broker: TlsBroker, *, with_cert: bool) -> Path:
    pki = broker.pki
    lines = [
        "security.protocol=SSL",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={pki.ca.pem}",
    ]
    if with_cert:
        lines += [
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={pki.alice.p12}",
            f"ssl.keystore.password={PASSWORD}",
            f"ssl.key.password={PASSWORD}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def console_produce(servers: str, topic: str, config: Path, work_dir: Path) -> None:
    log4j = work_dir / "log4j2-producer.properties"
    write_log4j2_config(log4j, log_file=None, level="error")
    command = [
        java_executable(), *TOOL_JVM_OPTIONS, *UTF8_STDOUT_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j}", "-cp", kafka_classpath(),
        CONSOLE_PRODUCER, "--bootstrap-server", servers, "--topic", topic,
        "--command-config", str(config),
    ]  # fmt: skip
    lines = "".join(f"v{i}\n" for i in range(RECORDS))
    produced = subprocess.run(
        command, input=lines, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S
    )
    assert produced.returncode == 0, produced.stderr


def console_consume(
    servers: str, topic: str, config: Path, work_dir: Path
) -> subprocess.CompletedProcess[str]:
    return ks.run_kafka_tool(
        CONSOLE_CONSUMER,
        [
            "--bootstrap-server", servers, "--topic", topic, "--from-beginning",
            "--max-messages", str(RECORDS), "--timeout-ms", str(CONSOLE_IDLE_MS),
            "--command-config", str(config),
        ],
        work_dir=work_dir,
    )  # fmt: skip


def new_topic(broker: TlsBroker) -> str:
    topic = f"java-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.running.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(CLIENT_TIMEOUT_S)
    return topic


def test_java_console_clients_over_ssl(tls_broker: TlsBroker, tmp_path: Path) -> None:
    ks.require_kafka()
    topic = new_topic(tls_broker)
    with_cert = client_properties(tmp_path / "mtls.properties", tls_broker, with_cert=True)
    no_cert = client_properties(tmp_path / "ssl.properties", tls_broker, with_cert=False)
    # Produced with a client certificate on the listener that requires one ...
    console_produce(tls_broker.servers("MTLS"), topic, with_cert, tmp_path)
    # ... read back without one on the listener that only requests it.
    got = console_consume(tls_broker.servers("SSL"), topic, no_cert, tmp_path).stdout
    assert got.splitlines() == [f"v{i}" for i in range(RECORDS)]


def test_java_console_consumer_without_certificate_refused(
    tls_broker: TlsBroker, tmp_path: Path
) -> None:
    ks.require_kafka()
    topic = new_topic(tls_broker)
    no_cert = client_properties(tmp_path / "ssl.properties", tls_broker, with_cert=False)
    refused = console_consume(tls_broker.servers("MTLS"), topic, no_cert, tmp_path)
    assert refused.stdout == ""
    assert "SslAuthenticationException" in refused.stderr


def served_certificate(port: int, ca_pem: Path) -> x509.Certificate:
    """The certificate the listener on ``port`` serves a new connection."""
    context = ssl.create_default_context(cafile=str(ca_pem))
    with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT_S) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def alter_keystore(broker: TlsBroker, location: Path, work_dir: Path) -> None:
    ks.run_kafka_tool(
        CONFIG_COMMAND,
        [
            "--bootstrap-server", broker.running.bootstrap_servers,
            "--entity-type", "brokers", "--entity-name", str(broker.running.config.node_id),
            "--alter", "--add-config", f"listener.name.ssl.ssl.keystore.location={location}",
        ],
        work_dir=work_dir,
    )  # fmt: skip


def test_keystore_reload_with_kafka_configs(
    tls_broker: TlsBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ks.require_kafka()
    pki = tls_broker.pki
    port = tls_broker.port("SSL")
    first = served_certificate(port, pki.ca.pem)
    assert first.serial_number == pki.broker.certificate.serial_number
    # An open connection keeps its certificate; new ones get the new one.
    context = ssl.create_default_context(cafile=str(pki.ca.pem))
    kept = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT_S),
        server_hostname="127.0.0.1",
    )
    # A renewed certificate: a new key and serial, the same subject (as Kafka requires).
    renewed = issue(pki.ca, tmp_path, "renewed", "CN=broker,O=ferrokafka", server=True)
    alter_keystore(tls_broker, renewed.p12, tmp_path)
    deadline = time.monotonic() + RELOAD_WAIT_S
    served = served_certificate(port, pki.ca.pem)
    while served.serial_number == first.serial_number and time.monotonic() < deadline:
        time.sleep(0.2)
        served = served_certificate(port, pki.ca.pem)
    assert served.serial_number == renewed.certificate.serial_number
    with kept:
        old = kept.getpeercert(binary_form=True)
        assert old is not None
        assert x509.load_der_x509_certificate(old).serial_number == first.serial_number
    # The other TLS listener keeps its own keystore.
    other = served_certificate(tls_broker.port("MTLS"), pki.ca.pem)
    assert other.serial_number == first.serial_number
    # Another subject DN (ssl.allow.dn.changes=false): not applied, logged.
    caplog.set_level(logging.ERROR, logger="ferrokafka.server.tls.listener")
    moved = issue(pki.ca, tmp_path, "moved", "CN=elsewhere,O=ferrokafka", server=True)
    alter_keystore(tls_broker, moved.p12, tmp_path)
    deadline = time.monotonic() + RELOAD_WAIT_S
    while time.monotonic() < deadline:
        served = served_certificate(port, pki.ca.pem)
        assert served.serial_number == renewed.certificate.serial_number
        if any("DistinguishedName does not match" in r.getMessage() for r in caplog.records):
            break
        time.sleep(0.2)
    refusals = [r for r in caplog.records if "DistinguishedName does not match" in r.getMessage()]
    assert len(refusals) == 1  # logged once, not per connection
