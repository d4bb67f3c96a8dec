"""Our ``__transaction_state`` codec against Apache Kafka 4.4.0: a real Kafka broker runs a
transaction of confluent-kafka's transactional producer (init, a send, commit, then an abort),
its ``__transaction_state`` log is read with our storage ``Log``, every record decodes with our
codec into the states Kafka went through, and re-encoding each gives the same bytes; and
Kafka's DumpLogSegments decodes the records our coordinator writes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from confluent_kafka import Producer
from server_wire import RawClient
from txn_wire import FakeLeader, add, end, find, init, use_fake_leader, wait_state

import kafka_support as ks
from ferrokafka._ferrokafka import Log
from ferrokafka.testing import run_cluster
from ferrokafka.txn import serde
from ferrokafka.txn.metadata import TxnState
from kafka_support.jars import dump_log_segments_class, kafka_classpath, run_kafka_tool

TXN_ID = "fmt-txn"
TIMEOUT_S = 60
# An unformatted in-process cluster begins without a transaction.version record (level 0).
IN_PROCESS_CLUSTER_LEVEL = 0


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


_RECORD_LINE = re.compile(r"\| offset: (\d+) .*? key: (\{.*\}) payload: (.*)$")


def _commit_and_dump(tmp_path: Path, transaction_version: int) -> tuple[int, list[str]]:
    """Run a committed transaction on our broker (an in-process cluster begins at
    ``transaction.version`` 0; a higher level is set by Kafka's kafka-features tool first);
    DumpLogSegments' record lines of our log."""
    overrides = {"transaction.state.log.num.partitions": 1}
    # A broker of a cluster (here of one) takes UpdateFeatures; the single node's levels are
    # fixed.
    with run_cluster(1, tmp_path / "ours", overrides) as cluster:
        from confluent_kafka.admin import AdminClient, NewTopic

        broker = cluster.brokers[0]
        if transaction_version != IN_PROCESS_CLUSTER_LEVEL:
            run_kafka_tool(
                "org.apache.kafka.tools.FeatureCommand",
                [
                    "--bootstrap-server",
                    broker.bootstrap_servers,
                    "upgrade",
                    "--feature",
                    f"transaction.version={transaction_version}",
                ],
                work_dir=tmp_path,
            )
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic("t", 2, 1)])["t"].result(TIMEOUT_S)
        use_fake_leader(broker, FakeLeader())
        with RawClient(broker.bootstrap_servers) as client:
            assert find(client, TXN_ID).error_code == 0
            started = init(client, TXN_ID)
            pid, epoch = started.producer_id, started.producer_epoch
            assert add(client, TXN_ID, pid, epoch, {"t": [0, 1]}) == {("t", 0): 0, ("t", 1): 0}
            assert end(client, TXN_ID, pid, epoch, True).error_code == 0
            assert wait_state(client, TXN_ID, "CompleteCommit").transaction_state == (
                "CompleteCommit"
            )
        directory = broker.partition("__transaction_state", 0).log.dir  # type: ignore[union-attr]
    segments = sorted(str(p) for p in Path(directory).glob("*.log"))
    out = run_kafka_tool(
        dump_log_segments_class(kafka_classpath()),
        ["--transaction-log-decoder", "--deep-iteration", "--files", ",".join(segments)],
        work_dir=tmp_path,
    ).stdout
    lines = [m for m in map(_RECORD_LINE.search, out.splitlines()) if m]
    assert "Exception" not in out and "Unknown" not in out, out[-3000:]
    assert all(f'"transactionalId":"{TXN_ID}"' in m.group(2) for m in lines), out[-3000:]
    payloads = [m.group(3) for m in lines]
    statuses = [re.search(r'"transactionStatus":"(\w+)"', p) for p in payloads]
    assert [s.group(1) for s in statuses if s] == [
        "Empty",
        "Ongoing",
        "PrepareCommit",
        "CompleteCommit",
    ], out[-3000:]
    assert f'"producerId":{pid}' in payloads[1] and '"topic":"t"' in payloads[1]
    assert '"partitionIds":[0,1]' in payloads[1], payloads[1]
    return pid, payloads


def test_kafka_decodes_what_we_write(tmp_path: Path) -> None:
    """Kafka's DumpLogSegments ``--transaction-log-decoder`` reads every state we wrote;
    transaction.version 0 (downgraded by Kafka's kafka-features tool): values at version 0."""
    _, payloads = _commit_and_dump(tmp_path, 0)
    assert all('"version":"0"' in p for p in payloads)


@pytest.mark.parametrize("transaction_version", [1, 2])
def test_transaction_versions_1_and_2_write_flexible_values(
    tmp_path: Path, transaction_version: int
) -> None:
    """At transaction.version 1 (set by Kafka's kafka-features tool) and 2 (what a new cluster
    finalizes) the coordinator writes values at version 1, with the producer id history
    Kafka's decoder reads."""
    pid, payloads = _commit_and_dump(tmp_path, transaction_version)
    assert all('"version":"1"' in p for p in payloads), payloads
    # InitProducerId of a new id: the previous producer id is the new one's, as Kafka writes.
    assert f'"previousProducerId":{pid}' in payloads[0], payloads[0]
