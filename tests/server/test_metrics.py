"""The metrics endpoint against real clients: confluent-kafka produces and a group consumes and
commits; the scrape (parsed by prometheus_client's parser) must agree with what was sent, with
the log files on disk, and with the committed offsets.

Bytes in are Kafka's: the record batch bytes appended (each producer flush below sends one
batch of one record, whose size we compute from the batch v2 format by hand).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import confluent_kafka
import pytest
import trio
from confluent_kafka.admin import AdminClient, NewTopic
from metrics_support import free_port, http_get, scrape, value
from server_wire import RawClient

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.server import Broker
from ferrokafka.server.metrics.http import REQUEST_HEAD_BYTES_MAX
from ferrokafka.testing import run_broker
from ferrokafka.testing import testing_config as config_of

TOPIC = "metrics-proof"
GROUP = "metrics-group"
MESSAGES = 20
VALUE_BYTES = 100
CONSUMED = 7
CLIENT_TIMEOUT_S = 30.0
POLLS_MAX = 200
# A record batch v2 header (baseOffset through recordsCount).
BATCH_HEADER_BYTES = 61
PRODUCE_VERSION = 9


def _varint_bytes(n: int) -> int:
    zigzag = (n << 1) ^ (n >> 63)
    size = 1
    while zigzag >= 0x80:
        zigzag >>= 7
        size += 1
    return size


def one_record_batch_bytes(value_bytes: int) -> int:
    """A batch of one record with no key and no headers: the header, then the record's
    length, attributes, timestamp delta 0, offset delta 0, key length -1, value length, value,
    header count 0."""
    body = 1 + 1 + 1 + _varint_bytes(-1) + _varint_bytes(value_bytes) + value_bytes + 1
    return BATCH_HEADER_BYTES + _varint_bytes(body) + body


def _produce(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(CLIENT_TIMEOUT_S)
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "all"}
    )
    for i in range(MESSAGES):
        producer.produce(TOPIC, bytes([65 + i % 26]) * VALUE_BYTES)
        assert producer.flush(CLIENT_TIMEOUT_S) == 0  # one batch per message


def _consume_and_commit(bootstrap: str) -> None:
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": GROUP,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([TOPIC])
        got = 0
        for _ in range(POLLS_MAX):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                got += 1
                if got == CONSUMED:
                    break
        assert got == CONSUMED
        committed = consumer.commit(
            offsets=[confluent_kafka.TopicPartition(TOPIC, 0, CONSUMED)], asynchronous=False
        )
        assert committed is not None and committed[0].error is None
    finally:
        consumer.close()


def _produce_to_missing_partition(bootstrap: str) -> int:
    request = ProduceRequest(
        acks=1,
        timeout_ms=5000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=TOPIC,
                partition_data=[ProduceRequest.PartitionProduceData(index=9, records=b"\0" * 70)],
            )
        ],
    )
    with RawClient(bootstrap) as client:
        response = client.call(request, PRODUCE_VERSION)
    return int(response.responses[0].partition_responses[0].error_code)


def test_scrape_agrees_with_what_clients_sent(tmp_path: Path) -> None:
    port = free_port()
    with run_broker(tmp_path / "broker", {"ferrokafka.metrics.port": port}) as broker:
        bootstrap = broker.bootstrap_servers
        before = scrape(port)
        _produce(bootstrap)
        _consume_and_commit(bootstrap)
        middle = scrape(port)
        assert _produce_to_missing_partition(bootstrap) == ec.UNKNOWN_TOPIC_OR_PARTITION
        after = scrape(port)
        segment_bytes = sum(
            path.stat().st_size
            for path in (Path(broker.config.log_dirs[0]) / f"{TOPIC}-0").glob("*.log")
        )
        assert http_get(port, "/healthz") == (200, b"ok\n")
        assert http_get(port, "/readyz") == (200, b"ready\n")

    prefix = "kafka_server_brokertopicmetrics_"
    # Bytes and messages in: what was sent, what the log holds.
    bytes_in = value(after, prefix + "bytesin_total", topic=TOPIC)
    assert bytes_in == MESSAGES * one_record_batch_bytes(VALUE_BYTES) == segment_bytes
    assert value(after, prefix + "messagesin_total", topic=TOPIC) == MESSAGES
    assert value(after, prefix + "totalproducerequests_total", topic=TOPIC) == MESSAGES + 1
    assert value(after, prefix + "failedproducerequests_total", topic=TOPIC) == 1
    bytes_out = value(after, prefix + "bytesout_total", topic=TOPIC)
    assert bytes_out is not None and CONSUMED * one_record_batch_bytes(VALUE_BYTES) <= bytes_out

    # Lag: log end offset minus the committed offset, as the coordinator computes it.
    labels = {"consumergroup": GROUP, "topic": TOPIC, "partition": "0"}
    end = value(after, "kafka_log_log_logendoffset", topic=TOPIC, partition="0")
    assert end == MESSAGES
    assert value(after, "kafka_consumergroup_current_offset", **labels) == CONSUMED
    assert value(after, "kafka_consumergroup_lag", **labels) == end - CONSUMED
    assert value(after, "kafka_log_log_size", topic=TOPIC, partition="0") == segment_bytes
    states = {
        dict(labels_)["state"]: v
        for (name, labels_), v in after.items()
        if name == "kafka_server_group_coordinator_metrics_group_count"
    }
    assert states.get("Empty") == 1  # the consumer left; its offsets stay

    # Request counts and latency histograms grew with the produces.
    produce = {"request": "Produce"}
    for kind in ("totaltimems", "requestqueuetimems", "localtimems", "responsesendtimems"):
        name = f"kafka_network_requestmetrics_{kind}"
        grown = (value(middle, name + "_count", **produce) or 0) - (
            value(before, name + "_count", **produce) or 0
        )
        assert grown >= MESSAGES, kind
        infinite = value(after, name + "_bucket", le="+Inf", **produce)
        assert infinite == value(after, name + "_count", **produce)
    assert (value(after, "kafka_network_requestmetrics_totaltimems_sum", **produce) or 0) > 0
    assert (value(after, "kafka_network_requestmetrics_requests_total", **produce) or 0) >= (
        MESSAGES + 1
    )

    # The failing produce is counted under its error, as Kafka's errorCounts does.
    errors = "kafka_network_requestmetrics_errors_total"
    unknown = {"request": "Produce", "error": "UNKNOWN_TOPIC_OR_PARTITION"}
    assert (value(after, errors, **unknown) or 0) - (value(middle, errors, **unknown) or 0) == 1
    assert (value(after, errors, request="Produce", error="NONE") or 0) >= MESSAGES

    # Broker state gauges.
    assert value(after, "kafka_server_replicamanager_partitioncount") == value(
        after, "kafka_server_replicamanager_leadercount"
    )
    assert value(after, "kafka_server_replicamanager_underreplicatedpartitions") == 0
    assert value(after, "kafka_server_replicamanager_underminisrpartitioncount") == 0
    assert value(after, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    assert value(after, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0
    assert (value(after, "process_resident_memory_bytes") or 0) > 0
    assert (value(after, "process_open_fds") or 0) > 0
    assert (value(after, "kafka_server_socket_server_metrics_connection_count") or 0) >= 1


def test_routes_and_limits(tmp_path: Path) -> None:
    port = free_port()
    with run_broker(tmp_path / "broker", {"ferrokafka.metrics.port": port}):
        status, body = http_get(port, "/nope")
        assert status == 404 and b"/nope" in body
        assert http_get(port, "/metrics", method="POST")[0] == 405
        assert http_get(port, "/metrics?name[]=x")[0] == 200  # the query is ignored
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * REQUEST_HEAD_BYTES_MAX)
            sock.sendall(b"\r\n\r\n")
            answer = sock.recv(200)
        assert answer.startswith(b"HTTP/1.1 431 ")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"hello\r\n\r\n")
            assert sock.recv(200).startswith(b"HTTP/1.1 400 ")


def test_readyz_is_503_with_a_reason_until_started(tmp_path: Path) -> None:
    """The endpoint alone, before the broker runs: alive, not ready, saying why."""
    port = free_port()
    broker = Broker(config_of(tmp_path / "broker", {"ferrokafka.metrics.port": port}))
    assert broker.metrics is not None
    endpoint = broker.metrics

    async def main() -> list[tuple[int, bytes]]:
        async with trio.open_nursery() as nursery:
            await nursery.start(endpoint.serve)
            answers = [
                await trio.to_thread.run_sync(http_get, port, path)
                for path in ("/healthz", "/readyz")
            ]
            nursery.cancel_scope.cancel()
        return answers

    healthz, readyz = trio.run(main)
    assert healthz == (200, b"ok\n")
    assert readyz == (503, b"starting: loading logs and metadata\n")


def test_metrics_off_costs_no_import_and_no_counters(tmp_path: Path) -> None:
    """Without the key the broker builds no endpoint and never imports prometheus_client."""
    code = (
        "import sys; from pathlib import Path; from ferrokafka.server import Broker; "
        "from ferrokafka.testing import testing_config; "
        f"b = Broker(testing_config(Path({str(tmp_path)!r}))); "
        "print(b.metrics is None, 'prometheus_client' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["True", "False"], out.stderr


@pytest.mark.parametrize("bad", ["-1", "65536", "x"])
def test_bad_metrics_port_is_a_config_error(tmp_path: Path, bad: str) -> None:
    from ferrokafka.config import ConfigError

    with pytest.raises(ConfigError, match="ferrokafka.metrics.port"):
        config_of(tmp_path, {"ferrokafka.metrics.port": bad})


def test_default_host_is_loopback(tmp_path: Path) -> None:
    config = config_of(tmp_path, {"ferrokafka.metrics.port": 1})
    assert config["ferrokafka.metrics.host"] == "127.0.0.1"


FLUSH_WAIT_S = 30.0


def test_log_flushes_are_counted(tmp_path: Path) -> None:
    """log.flush.interval.ms=1: the periodic flush pass flushes the produced-to log (a flush
    by message count happens inside the native append and is not counted: see the README)."""
    port = free_port()
    overrides = {
        "ferrokafka.metrics.port": port,
        "log.flush.interval.ms": 1,
        "log.flush.scheduler.interval.ms": 100,
    }
    with run_broker(tmp_path / "broker", overrides) as broker:
        producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap_servers})
        producer.produce(TOPIC, b"flush me")
        assert producer.flush(CLIENT_TIMEOUT_S) == 0
        name = "kafka_log_logflushstats_logflushrateandtimems"
        deadline = time.monotonic() + FLUSH_WAIT_S
        while not (value(samples := scrape(port), name + "_count") or 0) >= 1:
            assert time.monotonic() < deadline, f"no flush counted in {FLUSH_WAIT_S} s"
            time.sleep(0.2)
        assert (value(samples, name + "_sum") or 0) > 0
