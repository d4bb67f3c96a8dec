"""Fetch responses written with sendfile: records go from the segment files to the socket
without being read into memory, between the in-memory parts of the response.

Real clients consume megabytes spread over many segments; a raw fetch response equals, byte
for byte, the copy-path encoding of the same answer; a reader with a small receive buffer that
reads slowly still gets every byte (the broker's sendfile comes back short or refused and it
waits for room); pipelined fetches are answered in order; and segments deleted by retention
while their response is being sent are still sent whole (a region holds its file open).
"""

from __future__ import annotations

import os
import socket
import struct
import time
import warnings
from collections.abc import Iterator
from typing import Any

import confluent_kafka as ck
import pytest
import trio
from data_broker import Client, DataBroker, data_broker
from server_wire import SOCKET_TIMEOUT_S

from ferrokafka._ferrokafka import decode_batches
from ferrokafka.protocol import (
    APIS,
    FileRecords,
    RequestHeader,
    decode_response,
    encode_request,
    encode_response,
)
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse
from ferrokafka.server import connection

with warnings.catch_warnings():  # kafka-python's own importlib deprecation warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, TopicPartition

TOPIC = "sendfile"
PARTITIONS = 2
# Small segments, so a few MiB span many of them and a fetch's regions cross segment ends.
SEGMENT_BYTES = 1 << 20  # the least Kafka (and we) allow
VALUE_BYTES = 1000
SEGMENTS_MIN = 7
RECORDS = 8000  # per partition: ~8 MB each, 8 segments each
CLIENT_TIMEOUT_S = 60.0
CLIENT_TIMEOUT_MS = int(CLIENT_TIMEOUT_S * 1000)
FETCH_MAX_BYTES = 16 << 20
# Far above any send buffer the kernel would give one socket (tcp_wmem's default maximum is
# 4 MiB), so a reader that does not read leaves the broker's sendfile stuck mid-response.
BIG_FETCH_BYTES = 12 << 20
SMALL_RCVBUF = 16 * 1024
SLOW_READ_BYTES = 64 * 1024
SLOW_READ_PAUSE_S = 0.002
PIPELINED = 8
SIZE = struct.Struct(">i")

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Use files:DeprecationWarning")


def value(partition: int, i: int) -> bytes:
    head = f"p{partition}-{i:08d}-".encode()
    return head + bytes([i % 251]) * (VALUE_BYTES - len(head))


def fill(b: DataBroker, topic: str) -> None:
    """Create ``topic`` with small segments and write RECORDS values to each partition."""
    b.create_topic(topic, PARTITIONS, {"segment.bytes": str(SEGMENT_BYTES)})
    producer = ck.Producer(
        {"bootstrap.servers": b.bootstrap_servers, "linger.ms": 5, "enable.idempotence": False}
    )
    for i in range(RECORDS):
        for p in range(PARTITIONS):
            producer.produce(topic, value(p, i), partition=p)
        if i % 500 == 0:
            producer.poll(0)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    for p in range(PARTITIONS):
        handle = b.partition(topic, p)
        assert handle.high_watermark == RECORDS
        assert len(handle.log.segments()) >= SEGMENTS_MIN


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataBroker]:
    with data_broker(tmp_path_factory.mktemp("sendfile")) as b:
        fill(b, TOPIC)
        yield b


def values(records: Any) -> list[bytes | None]:
    return [r.value for batch in decode_batches(bytes(records)) for r in batch.records()]


def fetch_request(
    offsets: dict[int, int],
    *,
    max_bytes: int = FETCH_MAX_BYTES,
    topic_id: Any = None,
    topic_name: str = TOPIC,
) -> FetchRequest:
    topic = FetchRequest.FetchTopic(
        partitions=[
            FetchRequest.FetchPartition(partition=p, fetch_offset=o, partition_max_bytes=max_bytes)
            for p, o in offsets.items()
        ]
    )
    if topic_id is None:
        topic.topic = topic_name
    else:
        topic.topic_id = topic_id
    return FetchRequest(
        replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=max_bytes, topics=[topic]
    )


def header(version: int, correlation_id: int) -> RequestHeader:
    return RequestHeader(
        request_api_key=1,
        request_api_version=version,
        correlation_id=correlation_id,
        client_id="sendfile-test",
    )


def exact(sock: socket.socket, n: int, chunk: int = 1 << 20, pause_s: float = 0.0) -> bytes:
    out = bytearray()
    while len(out) < n:
        data = sock.recv(min(chunk, n - len(out)))
        if not data:
            raise ConnectionError(f"closed after {len(out)} of {n} bytes")
        out += data
        if pause_s:
            time.sleep(pause_s)
    return bytes(out)


def small_buffer_socket(broker: DataBroker) -> socket.socket:
    host, port = broker.bootstrap_servers.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Before connect, so the window the broker sees is small from the start.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
    sock.settimeout(SOCKET_TIMEOUT_S)
    sock.connect((host, int(port)))
    return sock


@pytest.fixture(params=["worker-thread", "event-loop"])
def send_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Large responses finished by a send worker thread (the rule), or, as when all of them are
    busy, by the event loop waiting for room; the test's sends must have taken that path."""
    threaded: list[int] = []
    finish = connection.Connection._send_in_thread

    async def counted(self: Any, writer: Any) -> None:
        threaded.append(writer.remaining)
        await finish(self, writer)

    monkeypatch.setattr(connection.Connection, "_send_in_thread", counted)
    if request.param == "event-loop":
        monkeypatch.setattr(connection, "_threads_free", lambda: False)
    yield
    assert bool(threaded) == (request.param == "worker-thread"), threaded


# -- real clients --------------------------------------------------------------------------------


def test_kafka_python_consumes_every_segment(broker: DataBroker, send_path: None) -> None:
    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers,
        enable_auto_commit=False,
        request_timeout_ms=CLIENT_TIMEOUT_MS,
    )
    tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
    got: dict[int, list[Any]] = {p: [] for p in range(PARTITIONS)}
    try:
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while sum(map(len, got.values())) < PARTITIONS * RECORDS:
            assert time.monotonic() < deadline, {p: len(g) for p, g in got.items()}
            for tp, messages in consumer.poll(timeout_ms=500).items():
                got[tp.partition].extend(messages)
    finally:
        consumer.close()
    for p in range(PARTITIONS):
        assert [m.offset for m in got[p]] == list(range(RECORDS))
        assert [m.value for m in got[p]] == [value(p, i) for i in range(RECORDS)]


def test_confluent_kafka_consumes_every_segment(broker: DataBroker, send_path: None) -> None:
    consumer = ck.Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": "unused",  # assign() needs no coordinator; librdkafka wants an id
            "enable.auto.commit": False,
        }
    )
    got: dict[int, list[Any]] = {p: [] for p in range(PARTITIONS)}
    try:
        consumer.assign([ck.TopicPartition(TOPIC, p, ck.OFFSET_BEGINNING) for p in range(2)])
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while sum(map(len, got.values())) < PARTITIONS * RECORDS:
            assert time.monotonic() < deadline, {p: len(g) for p, g in got.items()}
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            got[message.partition()].append((message.offset(), message.value()))
    finally:
        consumer.close()
    for p in range(PARTITIONS):
        assert got[p] == [(i, value(p, i)) for i in range(RECORDS)]


# -- the bytes on the wire -----------------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 11, 12, APIS[1].max_stable_version])
@pytest.mark.parametrize("offset", [0, 1234])
@pytest.mark.parametrize("max_bytes", [1, 300_000, 3 << 20])
def test_response_equals_the_copy_path(
    broker: DataBroker, version: int, offset: int, max_bytes: int
) -> None:
    """What the socket carries is what encoding the same answer with its records read into
    memory gives, for classic and flexible versions, by name and by topic id."""
    node = broker.node
    topic_id = node.image.topic(TOPIC).topic_id if version >= 13 else None
    offsets = {p: offset + 500 * p for p in range(PARTITIONS)}
    request = fetch_request(offsets, max_bytes=max_bytes, topic_id=topic_id)
    with Client(broker.bootstrap_servers) as client:
        correlation_id = client.send_request(request, version)
        frame = client.recv_frame()
    _, response = decode_response(frame, 1, version)
    assert response.error_code == 0
    # Rebuild the answer from the storage: the regions the handler read, KIP-74's limits
    # (the first partition gets at least one batch, the rest share what is left).
    limit, first = max_bytes, True
    copied, filed = [], []
    for part in response.responses[0].partitions:
        handle = node.partition(TOPIC, part.partition_index)
        info = handle.log.read(
            offsets[part.partition_index],
            min(max_bytes, limit),
            max_offset=handle.high_watermark,
            min_one_batch=first,
        )
        assert info.size_in_bytes > 0 or not first
        if info.size_in_bytes:
            first = False
            limit = max(0, limit - info.size_in_bytes)
        copied.append(info.read() if info.size_in_bytes else b"")
        filed.append(FileRecords(info.regions) if info.size_in_bytes else b"")
    received = SIZE.pack(len(frame)) + frame

    def encoded(records: list[Any]) -> bytes:
        expected = FetchResponse(
            session_id=response.session_id,
            responses=[
                FetchResponse.FetchableTopicResponse(
                    topic=response.responses[0].topic,
                    topic_id=response.responses[0].topic_id,
                    partitions=[
                        FetchResponse.PartitionData(
                            partition_index=part.partition_index,
                            high_watermark=RECORDS,
                            last_stable_offset=RECORDS,
                            log_start_offset=part.log_start_offset,
                            aborted_transactions=None,
                            preferred_read_replica=-1,
                            records=data,
                        )
                        for part, data in zip(
                            response.responses[0].partitions, records, strict=True
                        )
                    ],
                )
            ],
        )
        return encode_response(header(version, correlation_id), expected)

    assert received == encoded(copied)
    # The protocol's own copy of file-backed records (encode_response reads them) agrees.
    assert received == encoded(filed)
    sent = sum(map(len, copied))
    assert sent > 0 and (sent <= max_bytes or len([c for c in copied if c]) == 1)


def test_pipelined_fetches_answer_in_order(broker: DataBroker) -> None:
    requests = [fetch_request({0: 700 * i}, max_bytes=(i + 1) * 200_000) for i in range(PIPELINED)]
    with Client(broker.bootstrap_servers) as client:
        frames = b"".join(encode_request(header(11, 100 + i), r) for i, r in enumerate(requests))
        client.send(frames)  # all at once: the broker handles them concurrently
        for i in range(PIPELINED):
            reply, response = decode_response(client.recv_frame(), 1, 11)
            assert reply.correlation_id == 100 + i
            records = bytes(response.responses[0].partitions[0].records)
            got = [(r.offset, r.value) for b in decode_batches(records) for r in b.records()]
            # A fetch from the middle of a batch gets the whole batch, as in Kafka.
            start = got[0][0]
            assert start <= 700 * i < start + len(got)
            assert got == [(j, value(0, j)) for j in range(start, start + len(got))]


# -- slow readers and deleted segments -------------------------------------------------------


def send_big_fetch(
    sock: socket.socket, partition: int, correlation_id: int, topic: str = TOPIC
) -> int:
    """Ask for the whole partition; returns the response's size."""
    request = fetch_request({partition: 0}, max_bytes=BIG_FETCH_BYTES, topic_name=topic)
    sock.sendall(encode_request(header(11, correlation_id), request))
    (size,) = SIZE.unpack(exact(sock, SIZE.size))
    assert RECORDS * VALUE_BYTES < size < BIG_FETCH_BYTES + 4096
    return size


def test_slow_reader_gets_every_byte(broker: DataBroker, send_path: None) -> None:
    with small_buffer_socket(broker) as sock:
        size = send_big_fetch(sock, 0, 7)
        frame = exact(sock, size, chunk=SLOW_READ_BYTES, pause_s=SLOW_READ_PAUSE_S)
        reply, response = decode_response(frame, 1, 11)
        assert reply.correlation_id == 7
        assert values(response.responses[0].partitions[0].records) == [
            value(0, i) for i in range(RECORDS)
        ]
        # The connection is still in step: a second request is answered.
        sock.sendall(encode_request(header(11, 8), fetch_request({0: RECORDS})))
        (size,) = SIZE.unpack(exact(sock, SIZE.size))
        assert decode_response(exact(sock, size), 1, 11)[0].correlation_id == 8


def test_segments_deleted_while_sending_are_still_sent(broker: DataBroker) -> None:
    topic, partition = "sendfile-retention", 1  # its own topic: the others keep their data
    fill(broker, topic)
    handle = broker.partition(topic, partition)
    segments = handle.log.segments()
    closed = [s.path for s in segments if not s.is_active]
    assert len(closed) >= SEGMENTS_MIN - 1
    with small_buffer_socket(broker) as sock:
        size = send_big_fetch(sock, partition, 9, topic)
        # The first bytes are here, so the handler has its regions; most of the response is
        # still to send (far more than the socket buffers hold) when the segments go.
        head = exact(sock, SLOW_READ_BYTES)
        deleted = trio.from_thread.run_sync(
            lambda: handle.log.delete_old_segments(now_ms=int(time.time() * 1000) + 10**12),
            trio_token=broker.token,
        )
        assert deleted == len(closed)
        assert not any(os.path.exists(path) for path in closed)
        frame = head + exact(sock, size - len(head))
    reply, response = decode_response(frame, 1, 11)
    assert reply.correlation_id == 9
    assert values(response.responses[0].partitions[0].records) == [
        value(partition, i) for i in range(RECORDS)
    ]
