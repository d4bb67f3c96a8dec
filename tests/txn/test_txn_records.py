"""The generated ``__transaction_state`` record classes are what the generator makes from the
kafka-transaction-coordinator jar, and every value round-trips through our framing at both
versions (v0 drops the tagged fields it cannot carry)."""

from __future__ import annotations

import importlib.util
import io
from contextlib import redirect_stderr
from pathlib import Path

import pytest

import kafka_support as ks
from ferrokafka.txn import serde
from ferrokafka.txn.records import RECORD_TYPES, TransactionLogKey, TransactionLogValue

GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "gen_protocol.py"


def test_the_table_has_kafka_s_one_record_type() -> None:
    assert RECORD_TYPES == {0: (TransactionLogKey, TransactionLogValue)}


@pytest.mark.parametrize("version", [0, 1])
def test_values_round_trip(version: int) -> None:
    value = TransactionLogValue(
        producer_id=12,
        producer_epoch=3,
        transaction_timeout_ms=60_000,
        transaction_status=2,
        transaction_partitions=[
            TransactionLogValue.PartitionsSchema(topic="t", partition_ids=[0, 2])
        ],
        transaction_last_update_timestamp_ms=1_700_000_000_001,
        transaction_start_timestamp_ms=1_700_000_000_000,
    )
    if version == 1:
        value.previous_producer_id = 11
        value.client_transaction_version = 2
    encoded = serde.encode_value(value, version)
    assert encoded[:2] == version.to_bytes(2, "big")
    assert serde.decode_value(encoded) == (version, value)
    with pytest.raises(serde.TxnRecordError):
        serde.decode_value(encoded[:5])
    with pytest.raises(serde.TxnRecordError):
        serde.decode_value(b"\x00\x07" + encoded[2:])  # no such version
    with pytest.raises(serde.TxnRecordError):
        serde.decode_key(b"\x00\x01\x00\x02tx")  # keys have version 0 only


def test_regenerating_from_the_jar_changes_nothing() -> None:
    try:
        ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        pytest.fail(f"Apache Kafka is needed for this test: {exc}", pytrace=False)
    spec = importlib.util.spec_from_file_location("gen_protocol", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    errors = io.StringIO()
    with redirect_stderr(errors):
        status = generator.main(["--txn", "--check"])
    assert status == 0, (
        "__transaction_state record modules are out of date; run python scripts/gen_protocol.py "
        "--txn\n" + errors.getvalue()
    )
