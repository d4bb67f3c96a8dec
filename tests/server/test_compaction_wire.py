"""Produce to a compacted topic on the wire: records without a key are refused as Kafka's
LogValidator refuses them (INVALID_RECORD, one record error per keyless record with its index in
the batch, Kafka's messages), nothing of the batch is written, and keyed batches still append."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from data_broker import Client, DataBroker, data_broker
from test_produce_fetch import fetch, produce

from ferrokafka._ferrokafka import BatchBuilder
from ferrokafka.protocol.error_codes import INVALID_RECORD, NONE

TOPIC = "compacted"
KEY_MESSAGE = "Compacted topic cannot accept message without key in topic partition compacted-0."


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC, configs={"cleanup.policy": "compact,delete"})
        b.create_topic("plain")
        yield b


@pytest.fixture
def client(broker: DataBroker) -> Iterator[Client]:
    c = Client(broker.bootstrap_servers)
    with c:
        yield c


def records(*keys: bytes | None, compression: str = "none") -> bytes:
    b = BatchBuilder(compression=compression)
    for i, key in enumerate(keys):
        b.append(b"v%d" % i, key=key)
    return b.build()


def test_keyless_records_are_refused_with_record_errors(client: Client) -> None:
    answer = produce(
        client, records(b"a", None, b"c", None, None, None, compression="zstd"), topic=TOPIC
    )
    assert answer.error_code == INVALID_RECORD
    assert [(e.batch_index, e.batch_index_error_message) for e in answer.record_errors] == [
        (i, KEY_MESSAGE) for i in (1, 3, 4, 5)
    ]
    shown = ", ".join(f"RecordError(batchIndex={i}, message='{KEY_MESSAGE}')" for i in (1, 3, 4))
    assert answer.error_message == (
        "One or more records have been rejected due to 4 record errors in total, and only "
        f"showing the first three errors at most: [{shown}]"
    )
    assert answer.base_offset == -1
    ok = produce(client, records(b"a", b"b"), topic=TOPIC)
    assert (ok.error_code, ok.base_offset) == (NONE, 0)  # the refused batch took no offsets
    assert produce(client, records(None), topic="plain").error_code == NONE
    assert fetch(client, 0, topic=TOPIC).high_watermark == 2


def test_a_big_keyless_batch_is_refused_too(client: Client) -> None:
    # Above the inline-append size: checked in a worker thread.
    b = BatchBuilder(compression="none")
    for i in range(400):
        b.append(b"x" * 1000, key=None if i == 399 else b"k%d" % i)
    answer = produce(client, b.build(), topic=TOPIC)
    assert answer.error_code == INVALID_RECORD
    assert [e.batch_index for e in answer.record_errors] == [399]
