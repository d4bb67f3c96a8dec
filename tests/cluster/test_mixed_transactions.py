"""Transactions spanning Apache Kafka 4.4 and ferrokafka brokers in one KRaft cluster (a
Kafka broker, a ferrokafka broker and a controller of either kind; ``transaction.version`` 1,
the level both kinds support, or 0). A topic has one partition on each broker; two
confluent-kafka transactional producers write every transaction to both partitions, committing
some and aborting others, their transactions open at the same time. Their transactional ids are
chosen by Kafka's hash so that one is coordinated by the Kafka broker and the other by ours
(``__transaction_state`` partition leaders decide): each coordinator sends WriteTxnMarkers to
the other kind, and each kind's partition leader verifies its first batches with the other
kind's coordinator (KIP-890 part 1). A read_committed consumer sees exactly the committed
records, in order; a read_uncommitted one sees them all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import NewTopic
from mixed_clients import CLIENT_TIMEOUT_S, QUIET, admin, leaders, wait_leaders
from mixed_processes import FERROKAFKA, KAFKA, UNSUPPORTED_FEATURES_OFF, MixedCluster
from server_wire import RawClient

from ferrokafka.coordinator.partitioning import partition_for
from kafka_support.opt_in import VARIANT_OPT_IN
from txn.txn_copier import read_committed

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CONTROLLER = 1
KAFKA_BROKER = 2
OUR_BROKER = 3
TXN_PARTITIONS = 4
TOPIC = "mixed-txn"
TRANSACTIONS = 12
RECORDS_PER_PARTITION = 5
CANDIDATE_IDS = 200
FIND_DEADLINE_S = 60.0
POLL_S = 0.3
OVERRIDES = {"transaction.state.log.num.partitions": str(TXN_PARTITIONS)}


# (the controller's kind, transaction.version)
SETUPS = [(FERROKAFKA, 1), (KAFKA, 1), (FERROKAFKA, 0)]


@pytest.fixture(
    params=[
        pytest.param(setup, marks=[VARIANT_OPT_IN] if setup[1] == 0 else []) for setup in SETUPS
    ],
    ids=[f"{kind}-controller-tv{tv}" for kind, tv in SETUPS],
)
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_classpath: str
) -> Iterator[MixedCluster]:
    made = MixedCluster(
        tmp_path / "cluster",
        {
            CONTROLLER: (request.param[0], ("controller",)),
            KAFKA_BROKER: (KAFKA, ("broker",)),
            OUR_BROKER: (FERROKAFKA, ("broker",)),
        },
        overrides=dict(OVERRIDES),
        features={**UNSUPPORTED_FEATURES_OFF, "transaction.version": request.param[1]},
    )
    try:
        made.format()
        for node_id in made.nodes:
            made.start(node_id)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def find_coordinator(bootstrap: str, txn_id: str) -> int:
    """FindCoordinator (key_type 1) until it names a broker; bounded."""
    from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest

    deadline = time.monotonic() + FIND_DEADLINE_S
    while True:
        with RawClient(bootstrap) as client:
            answer = client.call(FindCoordinatorRequest(key=txn_id, key_type=1), 3)
        if answer.error_code == 0:
            return int(answer.node_id)
        assert time.monotonic() < deadline, f"FindCoordinator({txn_id}): {answer.error_code}"
        time.sleep(POLL_S)


def ids_by_coordinator(cluster: MixedCluster) -> dict[int, str]:
    """A transactional id per broker that coordinates one: ids hashed to a
    ``__transaction_state`` partition that broker leads (created by a first FindCoordinator)."""
    bootstrap = cluster.bootstrap
    find_coordinator(cluster.nodes[OUR_BROKER].bootstrap, "warm-up")
    state = wait_leaders(bootstrap, "__transaction_state", TXN_PARTITIONS)
    chosen: dict[int, str] = {}
    for n in range(CANDIDATE_IDS):
        txn_id = f"mixed-txn-{n}"
        chosen.setdefault(state[partition_for(txn_id, TXN_PARTITIONS)], txn_id)
    return chosen


def transactional_producer(bootstrap: str, txn_id: str) -> ck.Producer:
    producer = ck.Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5, **QUIET}
    )
    producer.init_transactions(CLIENT_TIMEOUT_S)
    return producer


def test_transactions_span_kafka_and_ferrokafka_brokers(cluster: MixedCluster) -> None:
    bootstrap = cluster.bootstrap
    client = admin(bootstrap)
    futures = client.create_topics(
        [NewTopic(TOPIC, num_partitions=2, replica_assignment=[[KAFKA_BROKER], [OUR_BROKER]])],
        operation_timeout=CLIENT_TIMEOUT_S,
        request_timeout=CLIENT_TIMEOUT_S,
    )
    futures[TOPIC].result(CLIENT_TIMEOUT_S)
    assert wait_leaders(bootstrap, TOPIC, 2) == {0: KAFKA_BROKER, 1: OUR_BROKER}
    chosen = ids_by_coordinator(cluster)
    assert set(chosen) == {KAFKA_BROKER, OUR_BROKER}, leaders(bootstrap, "__transaction_state")
    for broker in (KAFKA_BROKER, OUR_BROKER):
        # Both kinds agree on who coordinates each id (Kafka's hash, the same leaders).
        for asked in (KAFKA_BROKER, OUR_BROKER):
            coordinator = find_coordinator(cluster.nodes[asked].bootstrap, chosen[broker])
            assert coordinator == broker, (chosen[broker], asked, coordinator)
    producers = {b: transactional_producer(bootstrap, chosen[b]) for b in chosen}
    committed: dict[int, list[str]] = {0: [], 1: []}
    produced = 0
    for n in range(TRANSACTIONS):
        written: dict[int, dict[int, list[str]]] = {}
        for broker, producer in producers.items():
            producer.begin_transaction()
            written[broker] = {0: [], 1: []}
        for i in range(RECORDS_PER_PARTITION):
            for broker, producer in producers.items():
                for partition in (0, 1):
                    value = f"{chosen[broker]}/{n}/{partition}/{i}"
                    producer.produce(TOPIC, value=value, partition=partition)
                    written[broker][partition].append(value)
                    produced += 1
                producer.poll(0)
        for broker, producer in producers.items():
            # The two producers' outcomes differ in some transactions and match in others.
            commit = (n + (broker == OUR_BROKER)) % 3 != 0
            if commit:
                producer.commit_transaction(CLIENT_TIMEOUT_S)
                for partition in (0, 1):
                    committed[partition].extend(written[broker][partition])
            else:
                # Aborted records reach the partitions first (read_uncommitted sees them). Also,
                # librdkafka 2.16 aborting with records still queued may send EndTxn(abort) for
                # a transaction its coordinator has not seen begin: INVALID_TXN_STATE, on a
                # cluster of Kafka 4.4 brokers only as well (transaction.version 1).
                assert producer.flush(CLIENT_TIMEOUT_S) == 0
                producer.abort_transaction(CLIENT_TIMEOUT_S)
    seen = read_committed(bootstrap, TOPIC, 2)
    for partition in (0, 1):
        values = [m.value().decode() for m in seen if m.partition() == partition]
        for txn_id in chosen.values():
            mine = [v for v in values if v.startswith(f"{txn_id}/")]
            expected = [v for v in committed[partition] if v.startswith(f"{txn_id}/")]
            assert mine == expected, (partition, txn_id, len(mine), len(expected))
        assert sorted(values) == sorted(committed[partition])
    # Kafka's coordinator says it sent markers to our broker.
    assert (
        f"marker queue map to destination broker {OUR_BROKER}"
        in cluster.nodes[KAFKA_BROKER].logged()
    )
    everything = read_committed(bootstrap, TOPIC, 2, isolation="read_uncommitted")
    assert len(everything) == produced
    print(f"coordinators {chosen}; {sum(map(len, committed.values()))} of {produced} committed")
