"""Real clients over ferrokafka's TLS listeners (issue 18): confluent-kafka, kafka-python,
aiokafka and Kafka's Java console tools, with and without client certificates, PKCS12 and PEM
keystores; the principal each connection gets; refusals that close one connection only."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
import uuid
from typing import Any

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from tests.security.certs import Identity
from tests.security.conftest import TlsBroker

from ferrokafka.server.tls import listener as tls_listener

# Every wait on a client is bounded by this (the machine is shared: generous).
CLIENT_TIMEOUT_S = 30.0
# How long a client refused at the handshake is given to (not) get metadata.
REFUSED_WAIT_S = 6.0
RECORDS = 50


def new_topic(broker: TlsBroker) -> str:
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.running.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(CLIENT_TIMEOUT_S)
    return topic


def librdkafka_ssl(broker: TlsBroker, listener: str, identity: Identity | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": broker.servers(listener),
        "security.protocol": "SSL",
        "ssl.ca.location": str(broker.pki.ca.pem),
    }
    if identity is not None:
        config["ssl.certificate.location"] = str(identity.cert_pem)
        config["ssl.key.location"] = str(identity.key_pem)
    return config


def confluent_round_trip(config: dict[str, Any], topic: str) -> list[bytes]:
    producer = confluent_kafka.Producer(config)
    for i in range(RECORDS):
        producer.produce(topic, f"v{i}".encode())
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    consumer = confluent_kafka.Consumer({
        **config, "group.id": f"g-{topic}", "auto.offset.reset": "earliest",
    })  # fmt: skip
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    try:
        while len(got) < RECORDS and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                got.append(message.value())
    finally:
        consumer.close()
    return got


def expected_values() -> list[bytes]:
    return [f"v{i}".encode() for i in range(RECORDS)]


def principals(log: pytest.LogCaptureFixture) -> set[str]:
    return {
        r.getMessage().rsplit(" ", 1)[1] for r in log.records if "TLS peer is" in r.getMessage()
    }


def test_confluent_with_client_certificate(
    tls_broker: TlsBroker, tls_log: pytest.LogCaptureFixture
) -> None:
    topic = new_topic(tls_broker)
    got = confluent_round_trip(librdkafka_ssl(tls_broker, "SSL", tls_broker.pki.alice), topic)
    assert got == expected_values()
    # RULE:^CN=([^,]*),OU=.*$/$1/U maps CN=alice,OU=eng,O=acme to ALICE.
    assert principals(tls_log) == {"User:ALICE"}


def test_confluent_without_client_certificate(
    tls_broker: TlsBroker, tls_log: pytest.LogCaptureFixture
) -> None:
    topic = new_topic(tls_broker)
    got = confluent_round_trip(librdkafka_ssl(tls_broker, "SSL", None), topic)
    assert got == expected_values()
    assert principals(tls_log) == {"User:ANONYMOUS"}


def test_default_rule_and_pem_keystore_listener(
    tls_broker: TlsBroker, tls_log: pytest.LogCaptureFixture
) -> None:
    """MTLS serves an inline PEM keystore; bob's DN has no OU, so DEFAULT names him."""
    topic = new_topic(tls_broker)
    got = confluent_round_trip(librdkafka_ssl(tls_broker, "MTLS", tls_broker.pki.bob), topic)
    assert got == expected_values()
    assert principals(tls_log) == {"User:CN=bob,O=acme"}


def test_kafka_python_with_client_certificate(tls_broker: TlsBroker) -> None:
    import kafka

    topic = new_topic(tls_broker)
    pki = tls_broker.pki
    ssl_args: dict[str, Any] = {
        "bootstrap_servers": tls_broker.servers("MTLS"),
        "security_protocol": "SSL",
        "ssl_cafile": str(pki.ca.pem),
        "ssl_certfile": str(pki.alice.cert_pem),
        "ssl_keyfile": str(pki.alice.key_pem),
    }
    producer = kafka.KafkaProducer(**ssl_args)
    for i in range(RECORDS):
        producer.send(topic, f"v{i}".encode())
    producer.flush(CLIENT_TIMEOUT_S)
    producer.close(CLIENT_TIMEOUT_S)
    consumer = kafka.KafkaConsumer(
        topic, auto_offset_reset="earliest", consumer_timeout_ms=10_000, **ssl_args
    )
    got = [m.value for m in consumer][:RECORDS]
    consumer.close()
    assert got == expected_values()


def test_aiokafka_without_client_certificate(tls_broker: TlsBroker) -> None:
    import aiokafka
    from aiokafka.helpers import create_ssl_context

    topic = new_topic(tls_broker)

    async def round_trip() -> list[bytes]:
        context = create_ssl_context(cafile=str(tls_broker.pki.ca.pem))
        args: dict[str, Any] = {
            "bootstrap_servers": tls_broker.servers("SSL"),
            "security_protocol": "SSL",
            "ssl_context": context,
        }
        producer = aiokafka.AIOKafkaProducer(**args)
        await producer.start()
        try:
            for i in range(RECORDS):
                await producer.send(topic, f"v{i}".encode())
            await producer.flush()
        finally:
            await producer.stop()
        consumer = aiokafka.AIOKafkaConsumer(topic, auto_offset_reset="earliest", **args)
        await consumer.start()
        got: list[bytes] = []
        try:
            async with asyncio.timeout(CLIENT_TIMEOUT_S):
                async for message in consumer:
                    got.append(message.value)
                    if len(got) == RECORDS:
                        break
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(round_trip()) == expected_values()


def _metadata_refused(config: dict[str, Any]) -> bool:
    admin = AdminClient(config)
    try:
        admin.list_topics(timeout=REFUSED_WAIT_S)
    except confluent_kafka.KafkaException:
        return True
    return False


def test_required_client_auth_refuses_a_client_without_certificate(
    tls_broker: TlsBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ferrokafka.server.server")
    assert _metadata_refused(librdkafka_ssl(tls_broker, "MTLS", None))
    failures = logged(caplog, "TLS handshake failed")
    assert failures, "the refusal is logged"
    assert all(r.levelno == logging.INFO for r in failures)
    # The listener and the broker serve everyone else as before.
    topic = new_topic(tls_broker)
    config = librdkafka_ssl(tls_broker, "MTLS", tls_broker.pki.alice)
    assert confluent_round_trip(config, topic) == expected_values()


def test_untrusted_client_certificate_refused(tls_broker: TlsBroker) -> None:
    for listener in ("MTLS", "SSL"):  # required, and requested (a sent cert is checked)
        config = librdkafka_ssl(tls_broker, listener, tls_broker.pki.stranger)
        assert _metadata_refused(config), listener
    topic = new_topic(tls_broker)
    config = librdkafka_ssl(tls_broker, "SSL", tls_broker.pki.alice)
    assert confluent_round_trip(config, topic) == expected_values()


def logged(log: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    """The records holding ``text``, waiting (bounded) for the first: the broker's thread
    logs a refusal just after closing the connection the test saw close."""
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:
        found = [r for r in log.records if text in r.getMessage()]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_silent_client_is_dropped_after_the_handshake_timeout(
    tls_broker: TlsBroker, tls_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tls_listener, "HANDSHAKE_TIMEOUT_S", 0.5)
    with socket.create_connection(("127.0.0.1", tls_broker.port("SSL"))) as silent:
        silent.settimeout(CLIENT_TIMEOUT_S)
        assert silent.recv(4096) == b""  # closed by the broker, nothing sent
    assert logged(tls_log, "TLS handshake not done in")


def test_plaintext_client_on_a_tls_listener_is_refused(
    tls_broker: TlsBroker, tls_log: pytest.LogCaptureFixture
) -> None:
    """A Kafka request where a ClientHello belongs: that connection closes, logged once."""
    api_versions_v0 = struct.pack(">ihhi", 10, 18, 0, 1) + struct.pack(">h", -1)
    with socket.create_connection(("127.0.0.1", tls_broker.port("SSL"))) as plain:
        plain.sendall(api_versions_v0)
        plain.settimeout(CLIENT_TIMEOUT_S)
        while plain.recv(4096):  # an alert, then the close
            pass
    assert len(logged(tls_log, "TLS handshake failed")) == 1
    topic = new_topic(tls_broker)
    assert confluent_round_trip(librdkafka_ssl(tls_broker, "SSL", None), topic) == (
        expected_values()
    )
