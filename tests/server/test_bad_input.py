"""Bad input against a running broker, with what test_wire.py and test_produce_fetch.py do not
already check: for each bad input, connections opened *before* it -- kafka-python's producer and
consumer among them -- all stay open and a real produce + fetch over them still works, and the
stored data of a partition the bad input did not reach (or, for a corrupt batch, did reach)
is unchanged byte for byte, log end offset included.

test_wire.py already proves each of these closes its own connection and that a raw bystander
still gets ApiVersions answered; test_produce_fetch.py that a bad CRC answers CORRUPT_MESSAGE
with nothing fetchable. The inputs are shared with test_wire.py rather than copied.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from data_broker import Client, DataBroker, data_broker
from server_wire import RawClient, api_versions_frame, raw_frame
from test_wire import BAD_INPUT

from ferrokafka._ferrokafka import BatchBuilder
from ferrokafka.protocol.messages.produce import ProduceRequest

with warnings.catch_warnings():  # kafka-python's own importlib deprecation warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Use files:DeprecationWarning")

VICTIM = "victim"  # holds data before the bad input; must not change
BYSTANDER = "bystander"  # the good connections produce here after each bad input
SEED_RECORDS = 50
# Small enough that a frame over it is cheap to send in full, large enough for kafka-python's
# requests (a few small records).
REQUEST_MAX_BYTES = 256 * 1024
CLIENT_TIMEOUT_S = 20.0
CLIENT_TIMEOUT_MS = int(CLIENT_TIMEOUT_S * 1000)
FETCH_ATTEMPTS = 40
PRODUCE_V = 11
CORRUPT_MESSAGE = 2
# /proc/net/tcp's state column: 01 is ESTABLISHED.
TCP_ESTABLISHED = "01"


def oversize_frame() -> bytes:
    """A size prefix one byte over the limit, followed by the whole body it promises."""
    return struct.pack(">i", REQUEST_MAX_BYTES + 1) + b"\x00" * (REQUEST_MAX_BYTES + 1)


# Inputs after which Kafka closes the connection (test_wire.py's, plus the data path's own).
CLOSING_INPUT = {
    **BAD_INPUT,
    "oversize frame sent in full": oversize_frame(),
    "unsupported produce version": raw_frame(0, 99, 1),
    "produce body cut short inside a whole frame": raw_frame(0, 9, 1, b"\x00\x01"),
}


@dataclass
class Bystanders:
    """Connections opened before the bad input, kept across all cases."""

    broker: DataBroker
    raw: RawClient
    producer: KafkaProducer
    consumer: KafkaConsumer
    produced: int = 0

    def round_trip(self) -> None:
        """A real produce and fetch through kafka-python's already-open connections."""
        self.produced += 1
        value = b"still-here-%d" % self.produced
        sent = self.producer.send(BYSTANDER, value=value).get(timeout=CLIENT_TIMEOUT_S)
        tp = TopicPartition(BYSTANDER, 0)
        self.consumer.seek(tp, sent.offset)
        for _ in range(FETCH_ATTEMPTS):  # each poll waits at most 500 ms
            for records in self.consumer.poll(timeout_ms=500).values():
                if records and records[0].offset == sent.offset:
                    assert records[0].value == value
                    return
        raise AssertionError(f"offset {sent.offset} of {BYSTANDER} not fetched")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataBroker]:
    data_dir = tmp_path_factory.mktemp("bad-input")
    with data_broker(data_dir, {"socket.request.max.bytes": str(REQUEST_MAX_BYTES)}) as b:
        b.create_topic(VICTIM)
        b.create_topic(BYSTANDER)
        yield b


@pytest.fixture(scope="module")
def bystanders(broker: DataBroker) -> Iterator[Bystanders]:
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        max_block_ms=CLIENT_TIMEOUT_MS,
        request_timeout_ms=CLIENT_TIMEOUT_MS,
    )
    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers,
        enable_auto_commit=False,
        request_timeout_ms=CLIENT_TIMEOUT_MS,
    )
    raw = RawClient(broker.bootstrap_servers)
    try:
        for n in range(SEED_RECORDS):
            producer.send(VICTIM, value=b"seed-%d" % n)
        producer.flush(timeout=CLIENT_TIMEOUT_S)
        consumer.assign([TopicPartition(BYSTANDER, 0)])
        found = Bystanders(broker, raw, producer, consumer)
        found.round_trip()  # opens the connections the cases then rely on
        yield found
    finally:
        raw.close()
        consumer.close()
        producer.close(timeout=CLIENT_TIMEOUT_S)


def partition_state(broker: DataBroker, topic: str) -> tuple[int, dict[str, str]]:
    """(log end offset, sha256 of every file in the partition's directory)."""
    log = broker.node.logs.get_log(topic, 0)
    assert log is not None
    directory = broker.node.logs.log_dir_of(topic, 0)
    assert directory is not None
    files = sorted(p for p in (Path(directory) / f"{topic}-0").iterdir() if p.is_file())
    assert any(p.suffix == ".log" for p in files), files
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    return log.log_end_offset, digests


def established_ports(broker_port: int) -> set[int]:
    """Local ports of this process's ESTABLISHED TCP connections to ``broker_port``.

    Read from /proc so it needs no client internals: a connection the broker closed drops
    out of this set (the client sees EOF and closes, or the socket leaves ESTABLISHED)."""
    ours = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:  # closed between listing and reading
            continue
        if str(target).startswith("socket:["):
            ours.add(str(target)[len("socket:[") : -1])
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if (
            state == TCP_ESTABLISHED
            and inode in ours
            and int(remote.split(":")[1], 16) == (broker_port)
        ):
            ports.add(int(local.split(":")[1], 16))
    return ports


def broker_port(broker: DataBroker) -> int:
    return int(broker.bootstrap_servers.rsplit(":", 1)[1])


def check_survivors(
    bystanders: Bystanders, before: set[int], victim: tuple[int, dict[str, str]]
) -> None:
    broker = bystanders.broker
    # The raw bystander and kafka-python's producer and consumer, at least.
    assert len(before) >= 3, before
    assert before <= established_ports(broker_port(broker)), "a bystander connection was closed"
    assert bystanders.raw.call_api_versions(7).error_code == 0
    bystanders.round_trip()
    assert before <= established_ports(broker_port(broker))
    assert partition_state(broker, VICTIM) == victim
    with RawClient(broker.bootstrap_servers) as newcomer:  # still accepting
        assert newcomer.call_api_versions(8).error_code == 0


@pytest.mark.parametrize("data", CLOSING_INPUT.values(), ids=CLOSING_INPUT.keys())
def test_closing_input_leaves_other_connections_and_data_alone(
    broker: DataBroker, bystanders: Bystanders, data: bytes
) -> None:
    victim = partition_state(broker, VICTIM)
    assert victim[0] == SEED_RECORDS
    with RawClient(broker.bootstrap_servers) as bad:
        before = established_ports(broker_port(broker)) - {bad.sock.getsockname()[1]}
        try:
            bad.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the broker may close mid-send once it has seen the size prefix
        assert bad.is_closed_by_peer()
    check_survivors(bystanders, before, victim)


def test_truncated_frame_then_close_leaves_other_connections_and_data_alone(
    broker: DataBroker, bystanders: Bystanders
) -> None:
    victim = partition_state(broker, VICTIM)
    bad = RawClient(broker.bootstrap_servers)
    before = established_ports(broker_port(broker)) - {bad.sock.getsockname()[1]}
    bad.send(api_versions_frame(1)[:9])  # the size prefix promises more than comes
    bad.sock.shutdown(socket.SHUT_WR)
    bad.close()
    check_survivors(bystanders, before, victim)


def test_corrupt_batch_is_refused_and_changes_nothing(
    broker: DataBroker, bystanders: Bystanders
) -> None:
    """Kafka answers CORRUPT_MESSAGE and keeps the connection: the partition the corrupt batch
    was aimed at keeps its bytes and log end offset, and the same connection goes on working."""
    victim = partition_state(broker, VICTIM)
    builder = BatchBuilder(compression="none")
    builder.append(b"payload", key=b"k", headers=[])
    corrupt = bytearray(builder.build())
    corrupt[-1] ^= 0xFF  # a byte of the record, covered by the CRC
    request = ProduceRequest(
        acks=-1,
        timeout_ms=5_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=VICTIM,
                partition_data=[
                    ProduceRequest.PartitionProduceData(index=0, records=bytes(corrupt))
                ],
            )
        ],
    )
    with Client(broker.bootstrap_servers) as client:
        before = established_ports(broker_port(broker))
        started = time.monotonic()
        answer = client.call(request, PRODUCE_V).responses[0].partition_responses[0]
        assert answer.error_code == CORRUPT_MESSAGE, answer
        assert time.monotonic() - started < CLIENT_TIMEOUT_S
        assert client.call_api_versions(9).error_code == 0  # the same connection still works
        check_survivors(bystanders, before, victim)
