"""A small blocking Kafka client for the command-line tools, over plain sockets.

It speaks the wire protocol through ferrokafka's sans-io codecs (:mod:`ferrokafka.protocol`),
so it works against any Kafka-compatible broker, Apache Kafka included. Versions are chosen
per API from ApiVersions: the highest both sides support. Every socket operation has a
timeout; broker errors surface as :class:`KafkaApiError` carrying Kafka's error name.
"""

from __future__ import annotations

import socket
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ferrokafka.protocol import (
    APIS,
    ProtocolError,
    RequestHeader,
    decode_response,
    encode_request,
)
from ferrokafka.protocol.error_codes import (
    COORDINATOR_LOAD_IN_PROGRESS,
    COORDINATOR_NOT_AVAILABLE,
    INVALID_TOPIC_EXCEPTION,
    LEADER_NOT_AVAILABLE,
    NONE,
    NOT_COORDINATOR,
    NOT_LEADER_OR_FOLLOWER,
    UNKNOWN_TOPIC_OR_PARTITION,
    error_name,
)
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.list_offsets import ListOffsetsRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.protocol.messages.produce import ProduceRequest

from .waiting import WaitNotice

# A response frame larger than this is refused rather than buffered: no answer to the
# requests this client sends (fetch asks for at most FETCH_MAX_BYTES) comes near it.
MAX_RESPONSE_FRAME_BYTES = 100 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0
CLIENT_ID = "ferrokafka-cli"
# ApiVersions v3 is the first flexible version and what Kafka clients send first; both
# ferrokafka and Apache Kafka 2.4+ answer it.
API_VERSIONS_VERSION = 3
# Pause between metadata retries while a new topic's leaders are elected.
METADATA_RETRY_S = 0.2
FRAME_SIZE = struct.Struct(">i")
# How many more times a topic the broker was asked to auto-create may still be answered as
# unknown before that answer is taken as "auto-creation is off" (see topic_with_leaders).
AUTO_CREATE_CONFIRMATIONS = 2
# Fetch sizes as Kafka's consumer defaults them (fetch.max.bytes, max.partition.fetch.bytes).
FETCH_MAX_BYTES = 50 * 1024 * 1024
FETCH_PARTITION_MAX_BYTES = 1024 * 1024

# Errors a fresh topic answers with until its leaders are known everywhere.
RETRIABLE_METADATA_ERRORS = frozenset(
    {UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER}
)
RESOURCE_TOPIC = 2
CONFIG_SOURCE_TOPIC = 1
EARLIEST_TIMESTAMP = -2
LATEST_TIMESTAMP = -1
# A consumer's replica id in ListOffsets and Fetch: "not a broker".
CONSUMER_REPLICA_ID = -1
# FindCoordinator key types (Kafka's CoordinatorType) and what the tools call their keys.
COORDINATOR_TYPE_GROUP = 0
COORDINATOR_TYPE_TRANSACTION = 1
COORDINATOR_KEY_NAMES = {
    COORDINATOR_TYPE_GROUP: "group",
    COORDINATOR_TYPE_TRANSACTION: "transactional id",
}
# FindCoordinator v1 added key_type (before it, every key was a group id).
FIND_COORDINATOR_KEY_TYPE_VERSION = 1
# FindCoordinator v4 moved the key into a batch (coordinator_keys, answered in coordinators).
FIND_COORDINATOR_BATCH_VERSION = 4
# Answers a coordinator gives while it starts or moves (Kafka creates __consumer_offsets on the
# first FindCoordinator and answers COORDINATOR_NOT_AVAILABLE until it is ready): retried.
RETRIABLE_COORDINATOR_ERRORS = frozenset(
    {COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR}
)
COORDINATOR_RETRY_S = 0.2


def _unknown_topic_message(topic: str, auto_create: bool) -> str:
    if not auto_create:
        return f"Topic '{topic}' does not exist."
    return (
        f"Topic '{topic}' does not exist and the broker does not create topics on first use "
        f"(auto.create.topics.enable=false): create it with `ferrokafka topics create {topic}`."
    )


class ClientError(Exception):
    """Anything the tools report as one line and exit code 1."""


class KafkaApiError(ClientError):
    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.name = error_name(code)
        self.detail = message or ""
        super().__init__(f"{self.name}: {message}" if message else self.name)


def check(code: int, message: str | None = None) -> None:
    if code != NONE:
        raise KafkaApiError(code, message)


def parse_servers(bootstrap: str) -> list[tuple[str, int]]:
    servers = []
    for part in bootstrap.split(","):
        part = part.strip()
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ClientError(f"bad bootstrap server {part!r}: expected HOST:PORT")
        servers.append((host.strip("[]"), int(port)))
    return servers


class Connection:
    """One socket to one broker: framed request/response with correlation ids."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.address = f"{host}:{port}"
        self.timeout_s = timeout_s
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout_s)
        except OSError as exc:
            raise ClientError(f"could not connect to {self.address}: {exc}") from exc
        self.sock.settimeout(timeout_s)
        self.correlation_id = 0
        self.versions: dict[int, int] = {}
        # The broker's id once KafkaClient.node() opened it (a bootstrap server has none).
        self.node_id: int | None = None

    def close(self) -> None:
        self.sock.close()

    def send(self, request: Any, version: int) -> int:
        self.correlation_id += 1
        header = RequestHeader(
            request_api_key=request.API_KEY,
            request_api_version=version,
            correlation_id=self.correlation_id,
            client_id=CLIENT_ID,
        )
        try:
            self.sock.sendall(encode_request(header, request))
        except OSError as exc:
            raise ClientError(f"sending to {self.address} failed: {exc}") from exc
        return self.correlation_id

    def receive(self, api_key: int, version: int, correlation_id: int) -> Any:
        size = FRAME_SIZE.unpack(self._read_exactly(FRAME_SIZE.size))[0]
        if not 0 <= size <= MAX_RESPONSE_FRAME_BYTES:
            raise ClientError(f"{self.address} sent a response frame of {size} bytes")
        frame = self._read_exactly(size)
        try:
            header, response = decode_response(frame, api_key, version)
        except ProtocolError as exc:
            raise ClientError(f"bad response from {self.address}: {exc}") from exc
        if header.correlation_id != correlation_id:
            raise ClientError(
                f"{self.address} answered correlation id {header.correlation_id}, "
                f"expected {correlation_id}"
            )
        return response

    def call(self, request: Any, version: int | None = None) -> Any:
        version = self.versions[request.API_KEY] if version is None else version
        correlation_id = self.send(request, version)
        return self.receive(request.API_KEY, version, correlation_id)

    def _read_exactly(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except TimeoutError as exc:
                raise ClientError(
                    f"{self.address} did not answer within {self.timeout_s:g}s"
                ) from exc
            except OSError as exc:
                raise ClientError(f"reading from {self.address} failed: {exc}") from exc
            if not chunk:
                raise ClientError(f"{self.address} closed the connection")
            buf += chunk
        return bytes(buf)

    def negotiate(self) -> None:
        """ApiVersions, then for each API we know: the highest version both sides support."""
        response: ApiVersionsResponse = self.call(
            ApiVersionsRequest(client_software_name=CLIENT_ID, client_software_version="1"),
            API_VERSIONS_VERSION,
        )
        check(response.error_code)
        for entry in response.api_keys:
            info = APIS.get(entry.api_key)
            if info is None:
                continue
            high = min(entry.max_version, info.max_stable_version)
            if high >= max(entry.min_version, info.min_version):
                self.versions[entry.api_key] = high


@dataclass
class PartitionInfo:
    partition: int
    leader: int
    leader_epoch: int
    replicas: list[int]
    isr: list[int]
    error_code: int


@dataclass
class TopicInfo:
    name: str
    topic_id: uuid.UUID
    is_internal: bool
    error_code: int
    partitions: list[PartitionInfo] = field(default_factory=list)


class KafkaClient:
    """Connects to the first bootstrap server that answers; opens connections to other
    brokers (partition leaders) as Metadata names them."""

    def __init__(self, bootstrap: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.brokers: dict[int, tuple[str, int]] = {}
        self._nodes: dict[int, Connection] = {}
        problems = []
        for host, port in parse_servers(bootstrap):
            try:
                conn = Connection(host, port, timeout_s)
            except ClientError as exc:
                problems.append(str(exc))
                continue
            try:
                conn.negotiate()
            except BaseException:
                conn.close()
                raise
            self.bootstrap = conn
            return
        raise ClientError("; ".join(problems))

    def __enter__(self) -> KafkaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.bootstrap.close()
        for conn in self._nodes.values():
            conn.close()
        self._nodes.clear()

    def version(self, api_key: int) -> int:
        if api_key not in self.bootstrap.versions:
            raise ClientError(f"the broker does not support {APIS[api_key].name}")
        return self.bootstrap.versions[api_key]

    def call(self, request: Any) -> Any:
        return self.bootstrap.call(request, self.version(request.API_KEY))

    def node(self, node_id: int) -> Connection:
        """A connection to broker ``node_id`` (from the last Metadata answer)."""
        conn = self._nodes.get(node_id)
        if conn is None:
            if node_id not in self.brokers:
                raise ClientError(f"broker {node_id} is not in the cluster metadata")
            host, port = self.brokers[node_id]
            conn = Connection(host, port, self.timeout_s)
            try:
                conn.negotiate()
            except BaseException:
                conn.close()
                raise
            conn.node_id = node_id
            self._nodes[node_id] = conn
        return conn

    # -- metadata -----------------------------------------------------------------------

    def metadata(self, topics: list[str] | None, auto_create: bool = False) -> list[TopicInfo]:
        """Topic metadata for ``topics`` (None: all topics); creates a missing topic only with
        ``auto_create`` and a broker whose auto.create.topics.enable is on."""
        version = self.version(MetadataRequest.API_KEY)
        request = MetadataRequest(
            topics=None
            if topics is None
            else [MetadataRequest.MetadataRequestTopic(name=t) for t in topics],
            allow_auto_topic_creation=auto_create,
        )
        if topics is None and version == 0:
            request.topics = []  # v0 has no null: an empty list means all topics
        response = self.bootstrap.call(request, version)
        self.brokers = {b.node_id: (b.host, b.port) for b in response.brokers}
        return [
            TopicInfo(
                name=t.name or "",
                topic_id=t.topic_id,
                is_internal=t.is_internal,
                error_code=t.error_code,
                partitions=sorted(
                    (
                        PartitionInfo(
                            p.partition_index,
                            p.leader_id,
                            p.leader_epoch,
                            list(p.replica_nodes),
                            list(p.isr_nodes),
                            p.error_code,
                        )
                        for p in t.partitions
                    ),
                    key=lambda p: p.partition,
                ),
            )
            for t in response.topics
        ]

    def topic_with_leaders(self, topic: str, wait_s: float, auto_create: bool = False) -> TopicInfo:
        """The topic once every partition has a leader, waiting up to ``wait_s`` while the
        broker answers with errors a just-created topic gives. A topic the broker does not know
        is an error at once; with ``auto_create`` the broker is asked to create it (as
        kafka-console-producer does) and the error says when it would not."""
        deadline = time.monotonic() + wait_s
        notice = WaitNotice(f"topic '{topic}' to have a leader for every partition", wait_s)
        unknown_answers = 0
        while True:
            [info] = self.metadata([topic], auto_create)
            code = info.error_code or next(
                (p.error_code for p in info.partitions if p.error_code or p.leader < 0),
                NONE,
            )
            if code == NONE and info.partitions and all(p.leader >= 0 for p in info.partitions):
                return info
            if code == UNKNOWN_TOPIC_OR_PARTITION:
                unknown_answers += 1
                # A broker may answer the request that made it create the topic from its
                # metadata of before the creation: one more look tells "created" from "off".
                if not auto_create or unknown_answers > AUTO_CREATE_CONFIRMATIONS:
                    raise KafkaApiError(code, _unknown_topic_message(topic, auto_create))
            elif code == INVALID_TOPIC_EXCEPTION:
                raise KafkaApiError(code, f"'{topic}' is not a valid topic name.")
            code = code or LEADER_NOT_AVAILABLE
            if code not in RETRIABLE_METADATA_ERRORS or time.monotonic() >= deadline:
                raise KafkaApiError(code, f"Topic '{topic}' has no leader for a partition.")
            notice.tick()
            time.sleep(METADATA_RETRY_S)

    def coordinator(self, key: str, key_type: int = COORDINATOR_TYPE_GROUP) -> Connection:
        """A connection to the coordinator of ``key`` (a group id, or a transactional id with
        COORDINATOR_TYPE_TRANSACTION), asking FindCoordinator until it answers with one
        (retrying while the coordinator loads, up to the client timeout)."""
        version = self.version(FindCoordinatorRequest.API_KEY)
        if key_type != COORDINATOR_TYPE_GROUP and version < FIND_COORDINATOR_KEY_TYPE_VERSION:
            raise ClientError("the broker's FindCoordinator has no key types (version 0 only)")
        batch = version >= FIND_COORDINATOR_BATCH_VERSION
        request = FindCoordinatorRequest(
            key="" if batch else key,
            key_type=key_type,
            coordinator_keys=[key] if batch else [],
        )
        deadline = time.monotonic() + self.timeout_s
        what = COORDINATOR_KEY_NAMES.get(key_type, f"key type {key_type}")
        notice = WaitNotice(f"the coordinator of {what} '{key}'", self.timeout_s)
        while True:
            response = self.bootstrap.call(request, version)
            if batch:
                [answer] = response.coordinators
            else:
                answer = response
            code, message = answer.error_code, answer.error_message
            if code == NONE:
                node_id = int(answer.node_id)
                address = (answer.host, int(answer.port))
                if self.brokers.get(node_id) != address:
                    stale = self._nodes.pop(node_id, None)
                    if stale is not None:
                        stale.close()
                    self.brokers[node_id] = address
                return self.node(node_id)
            if code not in RETRIABLE_COORDINATOR_ERRORS or time.monotonic() >= deadline:
                raise KafkaApiError(code, message or f"no coordinator for {what} '{key}'")
            notice.tick()
            time.sleep(COORDINATOR_RETRY_S)

    def list_offsets(
        self, topic: TopicInfo, partitions: list[int], timestamp: int
    ) -> dict[int, int]:
        """Per partition, the offset for ``timestamp`` (EARLIEST_TIMESTAMP, LATEST_TIMESTAMP or
        a time in ms: the first offset whose record time is at or after it, -1 if none);
        one request per partition leader."""
        by_leader: dict[int, list[int]] = {}
        for partition in partitions:
            by_leader.setdefault(self._leader(topic, partition), []).append(partition)
        out: dict[int, int] = {}
        for leader, group in by_leader.items():
            conn = self.node(leader)
            version = conn.versions.get(ListOffsetsRequest.API_KEY)
            if version is None:
                raise ClientError("the broker does not support ListOffsets")
            request = ListOffsetsRequest(
                replica_id=CONSUMER_REPLICA_ID,
                timeout_ms=int(self.timeout_s * 1000),
                topics=[
                    ListOffsetsRequest.ListOffsetsTopic(
                        name=topic.name,
                        partitions=[
                            ListOffsetsRequest.ListOffsetsPartition(
                                partition_index=p, timestamp=timestamp
                            )
                            for p in group
                        ],
                    )
                ],
            )
            response = conn.call(request, version)
            for topic_response in response.topics:
                for result in topic_response.partitions:
                    check(result.error_code)
                    out[result.partition_index] = int(result.offset)
        return out

    # -- data ---------------------------------------------------------------------------

    def produce(
        self,
        topic: TopicInfo,
        partition: int,
        records: bytes,
        acks: int,
        timeout_ms: int,
    ) -> int | None:
        """Send one partition's batch to its leader; the base offset, or None for acks=0
        (the broker sends no response then)."""
        leader = self._leader(topic, partition)
        conn = self.node(leader)
        version = conn.versions.get(ProduceRequest.API_KEY)
        if version is None:
            raise ClientError("the broker does not support Produce")
        request = ProduceRequest(
            acks=acks,
            timeout_ms=timeout_ms,
            topic_data=[
                # Name and id both: versions up to 12 send the name, 13+ the id.
                ProduceRequest.TopicProduceData(
                    name=topic.name,
                    topic_id=topic.topic_id,
                    partition_data=[
                        ProduceRequest.PartitionProduceData(index=partition, records=records)
                    ],
                )
            ],
        )
        if acks == 0:
            conn.send(request, version)
            return None
        response = conn.call(request, version)
        [topic_response] = response.responses
        [result] = topic_response.partition_responses
        check(result.error_code, result.error_message)
        return int(result.base_offset)

    def list_offset(self, topic: TopicInfo, partition: int, timestamp: int) -> int:
        """The partition's offset for ``timestamp`` (EARLIEST_TIMESTAMP, LATEST_TIMESTAMP)."""
        conn = self.node(self._leader(topic, partition))
        version = conn.versions.get(ListOffsetsRequest.API_KEY)
        if version is None:
            raise ClientError("the broker does not support ListOffsets")
        request = ListOffsetsRequest(
            replica_id=CONSUMER_REPLICA_ID,
            timeout_ms=int(self.timeout_s * 1000),
            topics=[
                ListOffsetsRequest.ListOffsetsTopic(
                    name=topic.name,
                    partitions=[
                        ListOffsetsRequest.ListOffsetsPartition(
                            partition_index=partition, timestamp=timestamp
                        )
                    ],
                )
            ],
        )
        response = conn.call(request, version)
        [result] = response.topics[0].partitions
        check(result.error_code)
        return int(result.offset)

    def fetch(
        self, topic: TopicInfo, offsets: dict[int, int], max_wait_ms: int
    ) -> dict[int, tuple[int, bytes]]:
        """One fetch from ``offsets`` (partition -> offset) grouped by leader: partition ->
        (high watermark, record bytes). ``max_wait_ms`` bounds the broker's wait for data."""
        by_leader: dict[int, list[int]] = {}
        for partition in offsets:
            by_leader.setdefault(self._leader(topic, partition), []).append(partition)
        out: dict[int, tuple[int, bytes]] = {}
        for leader, partitions in by_leader.items():
            conn = self.node(leader)
            version = conn.versions.get(FetchRequest.API_KEY)
            if version is None:
                raise ClientError("the broker does not support Fetch")
            request = FetchRequest(
                replica_id=CONSUMER_REPLICA_ID,
                max_wait_ms=max_wait_ms,
                min_bytes=1,
                max_bytes=FETCH_MAX_BYTES,
                topics=[
                    # Name and id both: versions up to 12 send the name, 13+ the id.
                    FetchRequest.FetchTopic(
                        topic=topic.name,
                        topic_id=topic.topic_id,
                        partitions=[
                            FetchRequest.FetchPartition(
                                partition=p,
                                fetch_offset=offsets[p],
                                partition_max_bytes=FETCH_PARTITION_MAX_BYTES,
                            )
                            for p in partitions
                        ],
                    )
                ],
            )
            response = conn.call(request, version)
            check(response.error_code)
            for topic_response in response.responses:
                for data in topic_response.partitions:
                    check(data.error_code)
                    out[data.partition_index] = (
                        int(data.high_watermark),
                        bytes(data.records or b""),
                    )
        return out

    def _leader(self, topic: TopicInfo, partition: int) -> int:
        for p in topic.partitions:
            if p.partition == partition:
                return p.leader
        raise KafkaApiError(
            UNKNOWN_TOPIC_OR_PARTITION,
            f"Topic '{topic.name}' has no partition {partition}.",
        )
