"""Real clients against the in-process broker's transaction coordinator: confluent-kafka's and
the Java client's transactional producers (the Java one through jshell) initialize, begin and
end transactions, and a second producer with the same transactional.id fences the first (a
fatal PRODUCER_FENCED for librdkafka; the Java producer, running transaction.version 2, gets
INVALID_PRODUCER_EPOCH, as from Kafka 4.4); Kafka's own ``kafka-transactions.sh``
(TransactionsCommand) lists and describes a transaction whose partitions were added through
the raw protocol.

Produce itself (the data side of transactions) is not on this branch: the zombie meets the
fence at AddPartitionsToTxn, before its first batch would be sent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient
from txn_wire import FakeLeader, add, find, init, use_fake_leader

import kafka_support as ks
from ferrokafka.testing import RunningBroker, run_broker
from kafka_support.jars import run_kafka_tool

TIMEOUT_S = 30
JSHELL_TIMEOUT_S = 180
TRANSACTIONS_COMMAND = "org.apache.kafka.tools.TransactionsCommand"
# The Java producer's part, run by jshell with the Kafka 4.4 client on the class path; each
# outcome is printed on a RESULT line.
JAVA_PRODUCERS = r"""
import org.apache.kafka.clients.producer.*;
import java.util.*;
Properties p = new Properties();
p.put("bootstrap.servers", System.getenv("BOOTSTRAP"));
p.put("transactional.id", "java-txn");
p.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
p.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
KafkaProducer<String, String> first = new KafkaProducer<>(p);
first.initTransactions();
first.beginTransaction();
first.commitTransaction();
first.beginTransaction();
first.abortTransaction();
System.out.println("RESULT first: transactions ended");
KafkaProducer<String, String> second = new KafkaProducer<>(p);
second.initTransactions();
System.out.println("RESULT second: initialized");
first.beginTransaction();
try {
    first.send(new ProducerRecord<>("t", 0, "k", "v")).get();
    System.out.println("RESULT sent");
} catch (Exception e) {
    System.out.println("RESULT send failed: " + e.getCause().getClass().getName());
}
try { first.commitTransaction(); System.out.println("RESULT committed"); }
catch (Exception e) { System.out.println("RESULT commit failed: " + e.getClass().getName()); }
second.beginTransaction();
second.abortTransaction();
System.out.println("RESULT second: transaction ended");
second.close();
first.close();
/exit
"""


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    with run_broker(None, {"transaction.state.log.num.partitions": 3}) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        admin.create_topics([NewTopic("t", 2, 1)])["t"].result(TIMEOUT_S)
        use_fake_leader(running, FakeLeader())
        yield running


def producer(broker: RunningBroker, txn_id: str) -> Producer:
    return Producer({"bootstrap.servers": broker.bootstrap_servers, "transactional.id": txn_id})


def test_confluent_kafka_transactions_and_fencing(broker: RunningBroker) -> None:
    first = producer(broker, "cfk-txn")
    first.init_transactions(TIMEOUT_S)
    first.begin_transaction()
    first.commit_transaction(TIMEOUT_S)
    first.begin_transaction()
    first.abort_transaction(TIMEOUT_S)
    # A second producer with the same transactional.id: the first becomes a zombie.
    second = producer(broker, "cfk-txn")
    second.init_transactions(TIMEOUT_S)
    first.begin_transaction()
    first.produce("t", b"from a zombie", partition=0)
    with pytest.raises(KafkaException) as raised:
        first.commit_transaction(TIMEOUT_S)
    error = raised.value.args[0]
    assert (error.code(), error.fatal()) == (KafkaError._FENCED, True), error
    # The new producer is unaffected.
    second.begin_transaction()
    second.abort_transaction(TIMEOUT_S)


def test_java_producer_transactions_and_fencing(broker: RunningBroker, tmp_path: Path) -> None:
    try:
        classpath = ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        pytest.fail(f"Apache Kafka is needed for this test: {exc}", pytrace=False)
    jshell = shutil.which("jshell")
    assert jshell is not None, "jshell (JDK 17) is needed for this test"
    script = tmp_path / "producers.jsh"
    script.write_text(JAVA_PRODUCERS)
    done = subprocess.run(
        [jshell, "--class-path", classpath, str(script)],
        env={**os.environ, "BOOTSTRAP": broker.bootstrap_servers},
        capture_output=True,
        text=True,
        timeout=JSHELL_TIMEOUT_S,
        cwd=tmp_path,
        check=False,
    )
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    # With transaction.version 2 (finalized by a new node, as by Kafka 4.4) the second
    # producer's InitProducerId bumps the epoch and the zombie's next request meets an epoch
    # above its own: Kafka 4.4 answers it the same way (InvalidProducerEpochException, not
    # ProducerFencedException, in the same scenario on a real Kafka 4.4 broker).
    fenced = "org.apache.kafka.common.errors.InvalidProducerEpochException"
    assert results == [
        "RESULT first: transactions ended",
        "RESULT second: initialized",
        f"RESULT send failed: {fenced}",
        f"RESULT commit failed: {fenced}",
        "RESULT second: transaction ended",
    ], done.stdout[-3000:] + done.stderr[-3000:]


def test_kafka_transactions_tool_lists_and_describes(broker: RunningBroker, tmp_path: Path) -> None:
    try:
        ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        pytest.fail(f"Apache Kafka is needed for this test: {exc}", pytrace=False)
    with RawClient(broker.bootstrap_servers) as client:
        assert find(client, "tool-txn").error_code == 0
        started = init(client, "tool-txn")
        pid, epoch = started.producer_id, started.producer_epoch
        assert add(client, "tool-txn", pid, epoch, {"t": [0, 1]}) == {("t", 0): 0, ("t", 1): 0}
    bootstrap = ["--bootstrap-server", broker.bootstrap_servers]
    listed = run_kafka_tool(TRANSACTIONS_COMMAND, [*bootstrap, "list"], work_dir=tmp_path).stdout
    rows = [line.split() for line in listed.splitlines()]
    assert rows[0][:4] == ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
    assert ["tool-txn", "1", str(pid), "Ongoing"] in [row[:4] for row in rows[1:]], listed
    described = run_kafka_tool(
        TRANSACTIONS_COMMAND,
        [*bootstrap, "describe", "--transactional-id", "tool-txn"],
        work_dir=tmp_path,
    ).stdout
    header, row = ([f.strip() for f in line.split("\t")] for line in described.splitlines()[:2])
    fields = dict(zip(header, row, strict=True))
    assert fields["CoordinatorId"] == "1"
    assert fields["TransactionalId"] == "tool-txn"
    assert fields["ProducerId"] == str(pid) and fields["ProducerEpoch"] == str(epoch)
    assert fields["TransactionState"] == "Ongoing"
    assert fields["TransactionTimeoutMs"] == "60000"
    assert sorted(fields["TopicPartitions"].split(",")) == ["t-0", "t-1"]
