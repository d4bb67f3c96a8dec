"""Real clients we did not write negotiate versions with the broker through ApiVersions.

kafka-python's connection setup (its ApiVersions handshake, then a v3+ request for the
features), and librdkafka's, read from its debug log. What the clients do next is tested with
the APIs that serve it (test_admin_*.py for metadata and admin requests).
"""

from __future__ import annotations

import logging
import queue
import time
import warnings

import confluent_kafka
import pytest

with warnings.catch_warnings():  # see the filterwarnings mark below
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.net.compat import KafkaNetClient
    from kafka.protocol.metadata.api_versions import ApiVersionsRequest

from ferrokafka.testing import RunningBroker

CLIENT_TIMEOUT_MS = 10_000
# librdkafka logs the handshake within milliseconds of connecting; this bounds a loaded box.
LIBRDKAFKA_WAIT_S = 10.0
LOG_LINES_MAX = 10_000


# kafka-python loads its message schemas with importlib APIs deprecated since Python 3.11.
@pytest.mark.filterwarnings("ignore:.*is deprecated. Use files:DeprecationWarning")
def test_kafka_python_negotiates_api_versions(ferrokafka_broker: RunningBroker) -> None:
    client = KafkaNetClient(bootstrap_servers=ferrokafka_broker.bootstrap_servers)
    try:
        node = client.cluster.bootstrap_brokers()[0].node_id
        # the connection is ready only after kafka-python's ApiVersions handshake succeeded
        assert client.await_ready(node, timeout_ms=CLIENT_TIMEOUT_MS)
        negotiated = client._manager._conns[node].broker_version_data.api_versions
        assert negotiated[18] == (0, 5) and 3 in negotiated  # Kafka 4.4: ApiVersions v5
        response = client.send_and_receive(
            node,
            ApiVersionsRequest(
                version=3, client_software_name="kafka-python", client_software_version="3.0"
            ),
            timeout_ms=CLIENT_TIMEOUT_MS,
        )
    finally:
        client.close()
    assert response.error_code == 0
    assert (18, 0, 5) in [(k.api_key, k.min_version, k.max_version) for k in response.api_keys]
    assert [f.name for f in response.finalized_features] == [
        "group.version",
        "metadata.version",
        "share.version",
        "transaction.version",
    ]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: queue.Queue[str] = queue.Queue(maxsize=LOG_LINES_MAX)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.put_nowait(record.getMessage())
        except queue.Full:
            pass


def test_librdkafka_negotiates_api_versions(ferrokafka_broker: RunningBroker) -> None:
    handler = _Lines()
    logger = logging.getLogger("ferrokafka.tests.librdkafka")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": ferrokafka_broker.bootstrap_servers,
            "debug": "broker,feature,protocol",
            "logger": logger,
        }
    )
    seen: list[str] = []
    try:
        deadline = time.monotonic() + LIBRDKAFKA_WAIT_S
        while time.monotonic() < deadline and not any(
            "Enabling feature ApiVersion" in s for s in seen
        ):
            producer.poll(0.05)
            while not handler.lines.empty():
                seen.append(handler.lines.get_nowait())
    finally:
        producer.flush(1)
        logger.removeHandler(handler)
    log_text = "\n".join(seen)
    assert "Sent ApiVersionRequest (v3" in log_text
    assert "Received ApiVersionResponse (v3" in log_text
    assert "ApiKey ApiVersion (18) Versions 0..5" in log_text
    assert "Enabling feature ApiVersion" in log_text
    # it did not have to fall back to guessing the broker version
    assert "ApiVersionRequest failed" not in log_text
