"""A connection's pipelined Produce requests are applied in the order they were sent, as Kafka
(which handles a connection's requests one at a time) applies them, whichever of them waits: a
batch too big to append in the trio thread goes to a worker, and the small ones sent after it,
which the broker could answer at once, must still land after it."""

from __future__ import annotations

from pathlib import Path

from data_broker import Client, data_broker

from ferrokafka._ferrokafka import BatchBuilder
from ferrokafka.partition.appends import INLINE_APPEND_BYTES_MAX
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.storage import decode_batches

TOPIC = "order"
PRODUCE_V = 9
SMALL_REQUESTS = 8


def batch(tag: bytes, size: int = 100) -> bytes:
    builder = BatchBuilder(compression="none")
    builder.append(tag + b"-" + bytes(size), key=tag)
    return builder.build()


def request(*partitions: tuple[int, bytes]) -> ProduceRequest:
    return ProduceRequest(
        acks=1,
        timeout_ms=5_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=TOPIC,
                partition_data=[
                    ProduceRequest.PartitionProduceData(index=index, records=records)
                    for index, records in partitions
                ],
            )
        ],
    )


def keys_in_log(broker, partition: int) -> list[bytes]:
    log = broker.partition(TOPIC, partition).log
    data = log.read(0, 64 << 20).read()
    return [record.key for b in decode_batches(bytes(data)) for record in b.records()]


def test_small_batches_after_a_big_one_land_after_it(tmp_path: Path) -> None:
    big = batch(b"big", INLINE_APPEND_BYTES_MAX + 1024)  # appended in a worker thread
    sent = [request((0, big))] + [request((0, batch(b"s%d" % i))) for i in range(SMALL_REQUESTS)]
    with data_broker(tmp_path / "b") as b, Client(b.bootstrap_servers) as c:
        b.create_topic(TOPIC, partitions=2)
        ids = [c.send_request(r, PRODUCE_V) for r in sent]  # pipelined
        answers = [c.receive(0, PRODUCE_V, i) for i in ids]
        offsets = [a.responses[0].partition_responses[0].base_offset for a in answers]
        assert offsets == list(range(len(sent)))
        assert keys_in_log(b, 0) == [b"big"] + [b"s%d" % i for i in range(SMALL_REQUESTS)]


def test_a_partition_waiting_behind_another_in_one_request_keeps_its_place(
    tmp_path: Path,
) -> None:
    """Request 1 carries a big batch for partition 0 (worker thread) and a small one for
    partition 1; request 2 a small one for partition 1: partition 1 must get request 1's first."""
    big = batch(b"big", INLINE_APPEND_BYTES_MAX + 1024)
    first = request((0, big), (1, batch(b"first")))
    second = request((1, batch(b"second")))
    with data_broker(tmp_path / "b") as b, Client(b.bootstrap_servers) as c:
        b.create_topic(TOPIC, partitions=2)
        ids = [c.send_request(r, PRODUCE_V) for r in (first, second)]
        for i in ids:
            c.receive(0, PRODUCE_V, i)
        assert keys_in_log(b, 1) == [b"first", b"second"]
