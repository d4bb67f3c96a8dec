"""Our codecs against a real Apache Kafka broker: requests we encode go over a socket, and
Kafka's responses decode with our response codecs to the fields we expect. ApiVersions at v0
and at the latest version (tagged feature fields included), Metadata latest, CreateTopics,
Produce of a batch ferrokafka built, and Fetch of it back. Also the bytes Kafka answers to the
ApiVersions requests whose answers tests/server checks byte for byte against ferrokafka (an
unsupported version; v5 naming another cluster or node, KIP-1242).
"""

from __future__ import annotations

import itertools
import socket
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from server_wire import CORRELATION_ID, api_versions_error_answer, api_versions_v5_frame

from ferrokafka.protocol import (
    APIS,
    RequestHeader,
    decode_response,
    encode_request,
    supported_api_versions,
)
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.protocol.schema import Message
from ferrokafka.storage import BatchBuilder, decode_batches

pytestmark = pytest.mark.kafka

SOCKET_TIMEOUT_S = 30.0
RETRY_DEADLINE_S = 30.0
FRAME_BYTES_MAX = 64 << 20
TOPIC = "fk-protocol"
# Kafka error codes the tests wait out while a new topic's leader comes up.
RETRIABLE_ERRORS = {3, 5, 6, 100}  # UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE,
# NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_ID


class Connection:
    """One blocking connection to Kafka that sends our frames and decodes Kafka's."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
        self.correlation_ids = itertools.count(1)

    def call(self, request: Message, version: int) -> Any:
        assert request.API_KEY is not None
        correlation_id = next(self.correlation_ids)
        header = RequestHeader(
            request_api_key=request.API_KEY,
            request_api_version=version,
            correlation_id=correlation_id,
            client_id="ferrokafka-protocol-test",
        )
        self.sock.sendall(encode_request(header, request))
        size = struct.unpack(">i", self._read(4))[0]
        assert 0 < size <= FRAME_BYTES_MAX
        response_header, response = decode_response(self._read(size), request.API_KEY, version)
        assert response_header.correlation_id == correlation_id
        return response

    def raw(self, frame: bytes) -> bytes:
        """Send a frame as is and return the answer's frame (without its size prefix)."""
        self.sock.sendall(frame)
        size = struct.unpack(">i", self._read(4))[0]
        assert 0 < size <= FRAME_BYTES_MAX
        return self._read(size)

    def _read(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            chunk = self.sock.recv(size - len(out))
            if not chunk:
                raise ConnectionError("Kafka closed the connection")
            out += chunk
        return bytes(out)


@pytest.fixture(scope="module")
def kafka(kafka_broker: Any) -> Iterator[Connection]:
    connection = Connection(kafka_broker.port)
    try:
        yield connection
    finally:
        connection.sock.close()


def latest(api_key: int) -> int:
    return APIS[api_key].max_stable_version


@pytest.mark.parametrize("version", [0, latest(18)])
def test_api_versions(kafka: Connection, version: int) -> None:
    response = kafka.call(
        ApiVersionsRequest(client_software_name="ferrokafka", client_software_version="0.1"),
        version,
    )
    assert response.error_code == 0
    advertised = {key.api_key: (key.min_version, key.max_version) for key in response.api_keys}
    assert {0, 1, 3, 18, 19} <= set(advertised)
    ours = {key: (lo, hi) for key, lo, hi in supported_api_versions("broker")}
    assert {key: ours.get(key) for key in advertised} == advertised
    if version >= 3:  # tagged fields: the features Kafka supports and has finalized
        supported = {feature.name for feature in response.supported_features}
        assert "metadata.version" in supported
        assert response.finalized_features_epoch >= 0


def test_api_versions_unsupported_version_bytes(kafka: Connection) -> None:
    # a v1 header prefix, client id "x", then a body never read (tests/server/test_wire.py)
    frame = struct.pack(">hhih", 18, 99, 7, 1) + b"x" + b"\x00\x01garbage"
    answer = kafka.raw(struct.pack(">i", len(frame)) + frame)
    lo, hi = APIS[18].min_version, APIS[18].max_stable_version
    assert answer == struct.pack(">ihihhh", 7, 35, 1, 18, lo, hi)


def test_api_versions_v5_identity_check_bytes(kafka: Connection, kafka_broker: Any) -> None:
    """KIP-1242 as Kafka 4.4 answers it, byte for byte what tests/server expects of ours."""
    cluster_id = kafka_broker.cluster_id
    wrong_cluster = api_versions_v5_frame("AnotherClusterIdAAAAAA", 1)
    assert kafka.raw(wrong_cluster) == api_versions_error_answer(129)
    assert kafka.raw(api_versions_v5_frame(cluster_id, 2)) == api_versions_error_answer(129)
    assert kafka.raw(api_versions_v5_frame(None, 1)) == api_versions_error_answer(42)
    assert kafka.raw(api_versions_v5_frame(cluster_id, -1)) == api_versions_error_answer(42)
    for right in (api_versions_v5_frame(cluster_id, 1), api_versions_v5_frame(None, -1)):
        header, response = decode_response(kafka.raw(right), 18, 5)
        assert (header.correlation_id, response.error_code) == (CORRELATION_ID, 0)
        assert response.api_keys
    # the controller listener checks validity only
    controller = Connection(kafka_broker.controller_port)
    try:
        header, response = decode_response(controller.raw(wrong_cluster), 18, 5)
        assert response.error_code == 0 and response.api_keys
        assert controller.raw(api_versions_v5_frame(None, 1)) == api_versions_error_answer(42)
    finally:
        controller.sock.close()


def test_metadata_latest(kafka: Connection, kafka_broker: Any) -> None:
    response = kafka.call(MetadataRequest(topics=None), latest(3))
    assert response.cluster_id == kafka_broker.cluster_id
    assert [(b.node_id, b.host, b.port) for b in response.brokers] == [
        (1, "127.0.0.1", kafka_broker.port)
    ]
    assert response.controller_id == 1


def _create_topic(kafka: Connection) -> uuid.UUID:
    topic = CreateTopicsRequest.CreatableTopic(name=TOPIC, num_partitions=1, replication_factor=1)
    response = kafka.call(CreateTopicsRequest(topics=[topic], timeout_ms=30_000), latest(19))
    (result,) = response.topics
    assert (result.name, result.error_code) == (TOPIC, 0), result
    assert result.num_partitions == 1 and result.replication_factor == 1
    assert result.topic_id != uuid.UUID(int=0)
    return result.topic_id


def _retry(call: Any, error_of: Any) -> Any:
    deadline = time.monotonic() + RETRY_DEADLINE_S
    while True:
        response = call()
        error = error_of(response)
        if error not in RETRIABLE_ERRORS or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_create_produce_fetch(kafka: Connection) -> None:
    topic_id = _create_topic(kafka)
    builder = BatchBuilder()
    builder.append(b"hello from ferrokafka", key=b"k1", headers=[("h", b"v")])
    builder.append(None, key=b"k2")
    batch = builder.build()

    partition = ProduceRequest.PartitionProduceData(index=0, records=batch)
    produce = ProduceRequest(
        acks=-1,
        timeout_ms=30_000,
        topic_data=[ProduceRequest.TopicProduceData(topic_id=topic_id, partition_data=[partition])],
    )
    response = _retry(
        lambda: kafka.call(produce, latest(0)),
        lambda r: r.responses[0].partition_responses[0].error_code,
    )
    (topic,) = response.responses
    assert topic.topic_id == topic_id
    (result,) = topic.partition_responses
    assert (result.index, result.error_code, result.base_offset) == (0, 0, 0), result

    fetch_partition = FetchRequest.FetchPartition(
        partition=0, fetch_offset=0, partition_max_bytes=1 << 20
    )
    fetch = FetchRequest(
        max_wait_ms=100,
        min_bytes=1,
        max_bytes=1 << 20,
        topics=[FetchRequest.FetchTopic(topic_id=topic_id, partitions=[fetch_partition])],
    )
    response = kafka.call(fetch, latest(1))
    assert response.error_code == 0
    (topic,) = response.responses
    (fetched,) = topic.partitions
    assert (fetched.partition_index, fetched.error_code, fetched.high_watermark) == (0, 0, 2)
    batches = decode_batches(bytes(fetched.records), allow_partial=True)
    records = [record for fetched_batch in batches for record in fetched_batch.records()]
    assert [(r.offset, r.key, r.value) for r in records] == [
        (0, b"k1", b"hello from ferrokafka"),
        (1, b"k2", None),
    ]
    assert records[0].headers == [("h", b"v")]
