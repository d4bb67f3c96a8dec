"""Known byte vectors from real clients: kafka-python, confluent-kafka (librdkafka) and
aiokafka connect to a tiny loopback listener that answers with our own encoded responses.
Their first frames -- ApiVersions, then Metadata -- must decode to the fields the client
sent (software name and version in ApiVersions v3+, the topic in Metadata) and re-encode to
the same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from ferrokafka.protocol import (
    RequestHeader,
    decode_request,
    encode_request,
    encode_response,
    supported_api_versions,
)
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from ferrokafka.protocol.messages.metadata import MetadataRequest, MetadataResponse
from ferrokafka.protocol.schema import Message

TOPIC = "fk-protocol-topic"
CAPTURE_TIMEOUT_S = 20.0
SOCKET_TIMEOUT_S = 1.0
FRAME_BYTES_MAX = 1 << 20
UNKNOWN_TOPIC_OR_PARTITION = 3


@dataclass
class Captured:
    frame: bytes
    header: RequestHeader
    request: Message


class CaptureListener:
    """Accepts clients on loopback, records every request frame, answers ApiVersions and
    Metadata with our encoder (the topic does not exist), and closes on anything else."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(SOCKET_TIMEOUT_S)
        self.port = self.sock.getsockname()[1]
        self.captured: list[Captured] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_for(
        self, api_key: int, matching: Callable[[Message], bool] = lambda _: True
    ) -> Captured:
        deadline = time.monotonic() + CAPTURE_TIMEOUT_S
        while time.monotonic() < deadline:
            assert not self.errors, self.errors
            for item in list(self.captured):
                if item.header.request_api_key == api_key and matching(item.request):
                    return item
            time.sleep(0.05)
        raise AssertionError(f"no request for API {api_key}; got {self.captured}")

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(SOCKET_TIMEOUT_S)
        with conn:
            while not self._stop.is_set():
                try:
                    size = struct.unpack(">i", _read_exact(conn, 4, self._stop))[0]
                    assert 0 < size <= FRAME_BYTES_MAX
                    frame = _read_exact(conn, size, self._stop)
                except ConnectionError:
                    return
                try:
                    header, request = decode_request(frame)
                    self.captured.append(Captured(frame, header, request))
                    response = self._answer(header, request)
                except BaseException as exc:  # reported by wait_for
                    self.errors.append(exc)
                    return
                if response is None:
                    return
                conn.sendall(encode_response(header, response))

    def _answer(self, header: RequestHeader, request: Message) -> Message | None:
        if isinstance(request, ApiVersionsRequest):
            keys = [
                ApiVersionsResponse.ApiVersion(api_key=key, min_version=lo, max_version=hi)
                for key, lo, hi in supported_api_versions("broker")
            ]
            return ApiVersionsResponse(api_keys=keys)
        if isinstance(request, MetadataRequest):
            broker = MetadataResponse.MetadataResponseBroker(
                node_id=1, host="127.0.0.1", port=self.port
            )
            names = [topic.name for topic in request.topics or []]
            topics = [
                MetadataResponse.MetadataResponseTopic(
                    error_code=UNKNOWN_TOPIC_OR_PARTITION, name=name
                )
                for name in names
            ]
            return MetadataResponse(
                brokers=[broker], cluster_id="fk", controller_id=1, topics=topics
            )
        return None


def _read_exact(conn: socket.socket, size: int, stop: threading.Event) -> bytes:
    out = bytearray()
    while len(out) < size:
        if stop.is_set():
            raise ConnectionError("listener closing")
        try:
            chunk = conn.recv(size - len(out))
        except TimeoutError:
            continue
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return bytes(out)


@pytest.fixture
def listener() -> Iterator[CaptureListener]:
    server = CaptureListener()
    try:
        yield server
    finally:
        server.close()


def _in_thread(target: Callable[[], object]) -> threading.Thread:
    """Run a client in the background; its own errors (our listener has no topics and
    closes on other requests) are not the test's concern, the captured frames are."""

    def run() -> None:
        with contextlib.suppress(Exception):
            target()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _names(topic: str) -> Callable[[Message], bool]:
    return lambda request: topic in [t.name for t in request.topics or []]


def _check_round_trip(item: Captured) -> None:
    assert encode_request(item.header, item.request)[4:] == item.frame


def _check_api_versions(item: Captured, software: str) -> None:
    _check_round_trip(item)
    version = item.header.request_api_version
    if version >= 3:
        assert software in item.request.client_software_name, item.request
        assert item.request.client_software_version, item.request


def _check_metadata(item: Captured, topic: str | None) -> None:
    _check_round_trip(item)
    if topic is not None:
        assert topic in [t.name for t in item.request.topics or []], item.request


# kafka-python 3 reads its own copy of Kafka's JSON with a deprecated importlib API.
@pytest.mark.filterwarnings("ignore:.*is deprecated. Use files:DeprecationWarning")
def test_kafka_python(listener: CaptureListener) -> None:
    from kafka import KafkaProducer

    producer = None

    def run() -> None:
        nonlocal producer
        producer = KafkaProducer(
            bootstrap_servers=listener.bootstrap,
            client_id="fk-kafka-python",
            request_timeout_ms=5000,
            max_block_ms=5000,
            enable_idempotence=False,
        )
        producer.partitions_for(TOPIC)

    thread = _in_thread(run)
    try:
        api_versions = listener.wait_for(18)
        _check_api_versions(api_versions, "kafka-python")
        assert api_versions.header.client_id == "fk-kafka-python"
        _check_metadata(listener.wait_for(3), None)  # the bootstrap: no topics
        _check_metadata(listener.wait_for(3, _names(TOPIC)), TOPIC)
    finally:
        if producer is not None:
            producer.close(timeout=1)
        thread.join(timeout=10)


def test_confluent_kafka(listener: CaptureListener) -> None:
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": listener.bootstrap,
            "client.id": "fk-librdkafka",
            "log_level": 0,
        }
    )
    thread = _in_thread(lambda: producer.list_topics(topic=TOPIC, timeout=5))
    try:
        api_versions = listener.wait_for(18)
        _check_api_versions(api_versions, "confluent-kafka-python")
        assert api_versions.header.client_id == "fk-librdkafka"
        metadata = listener.wait_for(3)
        _check_metadata(metadata, TOPIC)
    finally:
        thread.join(timeout=10)
        producer.flush(0)


def test_aiokafka(listener: CaptureListener) -> None:
    from aiokafka import AIOKafkaClient

    async def run() -> None:
        client = AIOKafkaClient(
            bootstrap_servers=listener.bootstrap, client_id="fk-aiokafka", request_timeout_ms=5000
        )
        try:
            await asyncio.wait_for(client.bootstrap(), 10)
            await asyncio.wait_for(client.fetch_all_metadata(), 10)
        finally:
            await client.close()

    thread = _in_thread(lambda: asyncio.run(run()))
    try:
        _check_metadata(listener.wait_for(3), None)
        assert listener.wait_for(3).header.client_id == "fk-aiokafka"
        api_versions = [c for c in listener.captured if c.header.request_api_key == 18]
        for item in api_versions:
            _check_api_versions(item, "aiokafka")
    finally:
        thread.join(timeout=15)
