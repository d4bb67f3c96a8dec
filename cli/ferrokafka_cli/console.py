"""`ferrokafka produce` and `ferrokafka consume`: console tools like Kafka's
kafka-console-producer.sh and kafka-console-consumer.sh, without consumer groups (the consumer
assigns itself partitions and starts from ListOffsets or a given offset)."""

from __future__ import annotations

import sys
import time

import click

from ferrokafka.storage import BatchBuilder, FerrokafkaError, decode_batches

from .client import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, ClientError, KafkaClient, TopicInfo
from .topics import bootstrap_options, connect, reports_errors

# A batch is sent once it holds this many records or bytes (or stdin ends, or stdin is a
# terminal, where each typed line is sent at once).
BATCH_MAX_RECORDS = 1000
BATCH_MAX_BYTES = 512 * 1024
# How long one fetch may wait on the broker for new records; consume's --timeout-ms is
# checked between fetches.
FETCH_MAX_WAIT_MS = 500
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
    ) -> None:
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

    def add(self, key: bytes | None, value: bytes, headers: list[tuple[str, bytes | None]]) -> None:
        count = len(self.topic.partitions)
        if self.partition is not None:
            partition = self.partition
        elif key is not None:
            partition = partition_for_key(key, count)
        else:
            partition = self.topic.partitions[self.sticky % count].partition
        builder = self.pending.get(partition)
        if builder is None:
            builder = self.pending[partition] = BatchBuilder(compression=self.compression)
        builder.append(value, key=key, headers=headers)
        self.pending_records += 1
        self.pending_bytes += len(value) + len(key or b"")
        if self.pending_records >= BATCH_MAX_RECORDS or self.pending_bytes >= BATCH_MAX_BYTES:
            self.flush()

    def flush(self) -> None:
        for partition, builder in sorted(self.pending.items()):
            self.client.produce(self.topic, partition, builder.build(), self.acks, self.timeout_ms)
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
@bootstrap_options
@reports_errors
def produce(
    topic: str,
    partition: int | None,
    key_separator: str | None,
    headers: tuple[str, ...],
    compression: str,
    acks: str,
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Send each line of stdin to TOPIC as one record."""
    if key_separator == "":
        raise click.BadParameter("must not be empty", param_hint="--key-separator")
    header_list = parse_headers(headers)
    stdin = sys.stdin.buffer
    interactive = sys.stdin.isatty()
    with connect(bootstrap_server, timeout) as client:
        info = client.topic_with_leaders(topic, timeout)
        if partition is not None and partition not in {p.partition for p in info.partitions}:
            raise ClientError(f"Topic '{topic}' has no partition {partition}.")
        producer = Producer(
            client,
            info,
            partition,
            compression,
            -1 if acks == "all" else int(acks),
            int(timeout * 1000),
        )
        for number, raw in enumerate(stdin, start=1):
            line = raw.rstrip(b"\r\n") if raw.endswith(b"\n") else raw
            key: bytes | None = None
            if key_separator is not None:
                key, sep, line = line.partition(key_separator.encode())
                if not sep:
                    raise ClientError(f"No key separator found on line number {number}: {raw!r}")
            try:
                producer.add(key, line, header_list)
                if interactive:
                    producer.flush()
            except FerrokafkaError as exc:
                raise ClientError(f"could not build a batch: {exc}") from exc
        producer.flush()


def _text(value: bytes | None) -> str:
    return "null" if value is None else value.decode("utf-8", errors="backslashreplace")


@click.command("consume")
@click.argument("topic")
@click.option("--partition", type=click.IntRange(min=0), help="Default: every partition.")
@click.option("--from-beginning", is_flag=True, help="Start at the earliest offset.")
@click.option("--offset", type=click.IntRange(min=0), help="Start at this offset.")
@click.option("--max-messages", type=click.IntRange(min=1), help="Exit after this many.")
@click.option(
    "--timeout-ms", type=click.IntRange(min=0), help="Exit when no record came for this long."
)
@click.option("--print-key", is_flag=True, help="Print KEY<TAB>VALUE.")
@click.option("--print-headers", is_flag=True, help="Print k:v,k:v (or NO_HEADERS) first.")
@bootstrap_options
@reports_errors
def consume(
    topic: str,
    partition: int | None,
    from_beginning: bool,
    offset: int | None,
    max_messages: int | None,
    timeout_ms: int | None,
    print_key: bool,
    print_headers: bool,
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Print TOPIC's records, one a line, until --max-messages or --timeout-ms (or Ctrl-C)."""
    if from_beginning and offset is not None:
        raise click.UsageError("--from-beginning and --offset are exclusive")
    if offset is not None and partition is None:
        raise click.UsageError("--offset needs --partition")
    with connect(bootstrap_server, timeout) as client:
        info = client.topic_with_leaders(topic, timeout)
        partitions = [p.partition for p in info.partitions]
        if partition is not None:
            if partition not in partitions:
                raise ClientError(f"Topic '{topic}' has no partition {partition}.")
            partitions = [partition]
        if offset is not None:
            positions = {partitions[0]: offset}
        else:
            start = EARLIEST_TIMESTAMP if from_beginning else LATEST_TIMESTAMP
            positions = {p: client.list_offset(info, p, start) for p in partitions}
        _consume_loop(client, info, positions, max_messages, timeout_ms, print_key, print_headers)


def _consume_loop(
    client: KafkaClient,
    info: TopicInfo,
    positions: dict[int, int],
    max_messages: int | None,
    timeout_ms: int | None,
    print_key: bool,
    print_headers: bool,
) -> None:
    printed = 0
    last_record = time.monotonic()
    while max_messages is None or printed < max_messages:
        wait_ms = FETCH_MAX_WAIT_MS
        if timeout_ms is not None:
            left_ms = timeout_ms - int((time.monotonic() - last_record) * 1000)
            if left_ms <= 0:
                break
            wait_ms = min(wait_ms, left_ms)
        got_any = False
        for partition, (_, data) in sorted(client.fetch(info, positions, wait_ms).items()):
            try:
                batches = decode_batches(data, allow_partial=True)
            except FerrokafkaError as exc:
                raise ClientError(f"partition {partition}: bad records: {exc}") from exc
            for batch in batches:
                # A compressed batch may start before the position asked for; control
                # batches (transaction markers) are not records to print.
                if not batch.is_control:
                    for record in batch.records():
                        if record.offset < positions[partition]:
                            continue
                        if max_messages is not None and printed >= max_messages:
                            return
                        fields = []
                        if print_headers:
                            fields.append(
                                ",".join(f"{k}:{_text(v)}" for k, v in record.headers)
                                or "NO_HEADERS"
                            )
                        if print_key:
                            fields.append(_text(record.key))
                        fields.append(_text(record.value))
                        click.echo("\t".join(fields))
                        printed += 1
                        got_any = True
                positions[partition] = max(positions[partition], batch.next_offset)
        if got_any:
            last_record = time.monotonic()
