"""`ferrokafka produce`: a console producer like Kafka's kafka-console-producer.sh and kcat -P.

A topic that does not exist is created by the broker on first use when its
auto.create.topics.enable is on (Metadata with allow_auto_topic_creation, as Kafka's clients
ask); when it is off the tool says so at once. Records and batches larger than a limit are
refused with the size, the limit and the config that sets it (size_limits.py).
`ferrokafka consume` is in consume.py."""

from __future__ import annotations

import sys

import click

from ferrokafka.protocol.error_codes import MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE
from ferrokafka.storage import BatchBuilder, FerrokafkaError

from .bootstrap import bootstrap_options, reports_errors
from .client import ClientError, KafkaApiError, KafkaClient, TopicInfo
from .size_limits import CLIENT_MESSAGE_MAX_BYTES, broker_refused, client_limit_error
from .topics import connect

# A batch is sent once it holds this many records or bytes (or stdin ends, or stdin is a
# terminal, where each typed line is sent at once).
BATCH_MAX_RECORDS = 1000
BATCH_MAX_BYTES = 512 * 1024
# A record's size as the limits count it: its bytes plus Kafka's per-record overhead at most
# (length, attributes, deltas and counts as varints), so the check errs on the safe side.
RECORD_OVERHEAD_BYTES_MAX = 21
COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2, which its default partitioner hashes keys with."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_for_key(key: bytes, partitions: int) -> int:
    """As Kafka's BuiltInPartitioner: positive murmur2 of the key, modulo the count."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def record_bytes(key: bytes | None, value: bytes, headers: list[tuple[str, bytes | None]]) -> int:
    header_bytes = sum(len(k.encode()) + len(v or b"") + 10 for k, v in headers)
    return len(key or b"") + len(value) + header_bytes + RECORD_OVERHEAD_BYTES_MAX


def parse_headers(pairs: tuple[str, ...]) -> list[tuple[str, bytes | None]]:
    headers: list[tuple[str, bytes | None]] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--header")
        headers.append((name, value.encode()))
    return headers


class Producer:
    """Collects records per partition and sends a batch per partition on flush."""

    def __init__(
        self,
        client: KafkaClient,
        topic: TopicInfo,
        partition: int | None,
        compression: str,
        acks: int,
        timeout_ms: int,
        max_message_bytes: int = CLIENT_MESSAGE_MAX_BYTES,
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.client = client
        self.topic = topic
        self.partition = partition
        self.compression = compression
        self.acks = acks
        self.timeout_ms = timeout_ms
        self.pending: dict[int, BatchBuilder] = {}
        self.pending_records = 0
        self.pending_bytes = 0
        # Unkeyed records stick to one partition per flush, then move on (Kafka's sticky
        # partitioning, without its size-based switching).
        self.sticky = 0

    def add(
        self,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes | None]],
        number: int = 0,
    ) -> None:
        count = len(self.topic.partitions)
        if self.partition is not None:
            partition = self.partition
        elif key is not None:
            partition = partition_for_key(key, count)
        else:
            partition = self.topic.partitions[self.sticky % count].partition
        size = record_bytes(key, value, headers)
        if size > self.max_message_bytes:
            raise client_limit_error(f"the record on line {number}", size, self.max_message_bytes)
        if self.pending_bytes + size > min(BATCH_MAX_BYTES, self.max_message_bytes):
            self.flush()
        builder = self.pending.get(partition)
        if builder is None:
            builder = self.pending[partition] = BatchBuilder(compression=self.compression)
        builder.append(value, key=key, headers=headers)
        self.pending_records += 1
        self.pending_bytes += size
        if self.pending_records >= BATCH_MAX_RECORDS or self.pending_bytes >= BATCH_MAX_BYTES:
            self.flush()

    def flush(self) -> None:
        for partition, builder in sorted(self.pending.items()):
            batch = builder.build()
            if len(batch) > self.max_message_bytes:
                raise client_limit_error("a batch", len(batch), self.max_message_bytes)
            try:
                self.client.produce(self.topic, partition, batch, self.acks, self.timeout_ms)
            except KafkaApiError as exc:
                if exc.code in (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE):
                    raise broker_refused(
                        self.client, exc, self.topic.name, partition, len(batch)
                    ) from exc
                raise
        self.pending.clear()
        self.pending_records = self.pending_bytes = 0
        self.sticky += 1


@click.command("produce")
@click.argument("topic")
@click.option("--partition", type=click.IntRange(min=0), help="Default: by key, else sticky.")
@click.option("--key-separator", help="Each line is KEY<SEP>VALUE.")
@click.option("--header", "headers", multiple=True, metavar="KEY=VALUE", help="On every record.")
@click.option("--compression", type=click.Choice(COMPRESSIONS), default="none", show_default=True)
@click.option("--acks", type=click.Choice(["-1", "0", "1", "all"]), default="-1", show_default=True)
@click.option(
    "--max-message-bytes",
    type=click.IntRange(min=1000),
    default=CLIENT_MESSAGE_MAX_BYTES,
    show_default=True,
    help="The producer's limit on a record or batch (librdkafka's message.max.bytes).",
)
@bootstrap_options
@reports_errors
def produce(
    topic: str,
    partition: int | None,
    key_separator: str | None,
    headers: tuple[str, ...],
    compression: str,
    acks: str,
    max_message_bytes: int,
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Send each line of stdin to TOPIC as one record. A missing TOPIC is created by the broker
    if its auto.create.topics.enable is on (else: `ferrokafka topics create`)."""
    if key_separator == "":
        raise click.BadParameter("must not be empty", param_hint="--key-separator")
    header_list = parse_headers(headers)
    stdin = sys.stdin.buffer
    interactive = sys.stdin.isatty()
    with connect(bootstrap_server, timeout) as client:
        info = client.topic_with_leaders(topic, timeout, auto_create=True)
        if partition is not None and partition not in {p.partition for p in info.partitions}:
            raise ClientError(f"Topic '{topic}' has no partition {partition}.")
        producer = Producer(
            client,
            info,
            partition,
            compression,
            -1 if acks == "all" else int(acks),
            int(timeout * 1000),
            max_message_bytes,
        )
        for number, raw in enumerate(stdin, start=1):
            line = raw.rstrip(b"\r\n") if raw.endswith(b"\n") else raw
            key: bytes | None = None
            if key_separator is not None:
                key, sep, line = line.partition(key_separator.encode())
                if not sep:
                    raise ClientError(f"No key separator found on line number {number}: {raw!r}")
            try:
                producer.add(key, line, header_list, number)
                if interactive:
                    producer.flush()
            except FerrokafkaError as exc:
                raise ClientError(f"could not build a batch: {exc}") from exc
        producer.flush()
