"""Our ``__transaction_state`` codec against Apache Kafka 4.4.0: a real Kafka broker runs a
transaction of confluent-kafka's transactional producer (init, a send, commit, then an abort),
its ``__transaction_state`` log is read with our storage ``Log``, every record decodes with our
codec into the states Kafka went through, and re-encoding each gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer

import kafka_support as ks
from ferrokafka._ferrokafka import Log
from ferrokafka.txn import serde
from ferrokafka.txn.metadata import TxnState

TXN_ID = "fmt-txn"
TIMEOUT_S = 60


def test_we_decode_and_reencode_what_kafka_writes(tmp_path: Path) -> None:
    try:
        ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        pytest.fail(f"Apache Kafka is needed for this test: {exc}", pytrace=False)
    with ks.KafkaBroker(tmp_path / "kafka") as kafka:
        kafka.create_topic("t")
        producer = Producer(
            {"bootstrap.servers": kafka.bootstrap_servers, "transactional.id": TXN_ID}
        )
        producer.init_transactions(TIMEOUT_S)
        producer.begin_transaction()
        producer.produce("t", b"committed", partition=0)
        producer.commit_transaction(TIMEOUT_S)
        producer.begin_transaction()
        producer.produce("t", b"aborted", partition=0)
        assert producer.flush(TIMEOUT_S) == 0  # sent, so the partition joins the transaction
        producer.abort_transaction(TIMEOUT_S)
        del producer
        kafka.stop()
        log = Log(str(kafka.partition_dir("__transaction_state", 0)))
        records = [
            (bytes(r.key), bytes(r.value) if r.value is not None else None)
            for b in log.read_batches(0, 16 << 20)
            if not b.is_control
            for r in b.records()
        ]
    assert records
    states = []
    versions = set()
    for key, value in records:
        assert serde.decode_key(key) == TXN_ID
        assert serde.encode_key(TXN_ID) == key
        assert value is not None
        version, decoded = serde.decode_value(value)
        versions.add(version)
        assert serde.encode_value(decoded, version) == value
        states.append(TxnState(decoded.transaction_status))
        if decoded.transaction_status in (TxnState.ONGOING, TxnState.PREPARE_COMMIT):
            assert [(p.topic, p.partition_ids) for p in decoded.transaction_partitions] == [
                ("t", [0])
            ]
    # Init (Empty), add the partition (Ongoing), commit, then the same for the abort.
    assert states == [
        TxnState.EMPTY,
        TxnState.ONGOING,
        TxnState.PREPARE_COMMIT,
        TxnState.COMPLETE_COMMIT,
        TxnState.ONGOING,
        TxnState.PREPARE_ABORT,
        TxnState.COMPLETE_ABORT,
    ], states
    # transaction.version 2 (Kafka 4.4's default): flexible values (v1).
    assert versions == {1}
