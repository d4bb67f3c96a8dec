"""Exactly-once across coordinator failovers on a 3-node KRaft cluster of ``ferrokafka serve``
processes (each node broker and controller): input and output topics of replication factor 3
with ``min.insync.replicas`` 2, ``__transaction_state`` and ``__consumer_offsets`` of 3
replicas too. Kafka's ``TransactionalMessageCopier`` (one per input partition, as in
test_txn_bounce.py) copies the input in transactions while, several times, the broker that
coordinates one copier's transactional id (FindCoordinator key_type 1) is SIGKILLed: another
broker takes the id's ``__transaction_state`` partition over and answers FindCoordinator for
it; the killed node starts again a few seconds later. The output read with read_committed
equals the input exactly: every record once, nothing lost, nothing duplicated. The kills come
as the copy passes 1/(kills+1), 2/(kills+1), ... of the input (transactions of 100 records,
so that the copy is not over between two kills).

CI size: ``FERROKAFKA_TXN_CLUSTER_RECORDS`` (default 10000) records and
``FERROKAFKA_TXN_CLUSTER_KILLS`` (default 3) coordinator kills.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest
from server_wire import RawClient
from txn_copier import (
    INPUT_TOPIC,
    OUTPUT_TOPIC,
    Copier,
    copied,
    create_topics,
    produce,
    read_committed,
)
from txn_wire import find

from cluster.kraft_processes import KRaftCluster

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

COPY_RECORDS = int(os.environ.get("FERROKAFKA_TXN_CLUSTER_RECORDS", "10000"))
KILLS = int(os.environ.get("FERROKAFKA_TXN_CLUSTER_KILLS", "3"))
NODES = 3
PARTITIONS = 2
REPLICAS = 3
MIN_ISR = "2"
# Few internal partitions: two shared cores run three brokers.
OVERRIDES = {
    "offsets.topic.replication.factor": str(REPLICAS),
    "offsets.topic.num.partitions": "5",
    "transaction.state.log.replication.factor": str(REPLICAS),
    "transaction.state.log.min.isr": MIN_ISR,
    "transaction.state.log.num.partitions": "5",
    "default.replication.factor": str(REPLICAS),
    "min.insync.replicas": MIN_ISR,
}
# Small transactions: more of them, so that each kill lands in the middle of the copy.
TRANSACTION_SIZE = 100
COPY_DEADLINE_S = 600.0
DOWN_S = 3.0  # how long a killed coordinator stays down
FAILOVER_DEADLINE_S = 60.0
FIND_POLL_S = 0.5
LOOP_POLL_S = 0.2


def find_coordinator(cluster: KRaftCluster, txn_id: str, not_on: int = 0) -> int | None:
    """The node every running broker names as ``txn_id``'s coordinator (not ``not_on``), or
    None while they do not all answer so."""
    named: set[int] = set()
    for node in cluster.nodes.values():
        if not node.running():
            continue
        try:
            with RawClient(node.bootstrap) as client:
                answer = find(client, txn_id)
        except OSError:
            return None
        if answer.error_code != 0:
            return None
        named.add(int(answer.node_id))
    if len(named) != 1 or not_on in named:
        return None
    return named.pop()


def wait_coordinator(cluster: KRaftCluster, txn_id: str, not_on: int = 0) -> int:
    deadline = time.monotonic() + FAILOVER_DEADLINE_S
    while (found := find_coordinator(cluster, txn_id, not_on)) is None:
        assert time.monotonic() < deadline, f"no agreed coordinator for {txn_id} but {not_on}"
        time.sleep(FIND_POLL_S)
    return found


def test_copier_across_coordinator_kills_rf3(tmp_path: Path) -> None:
    cluster = KRaftCluster(tmp_path / "cluster", NODES, overrides=dict(OVERRIDES))
    copiers: list[Copier] = []
    with cluster.running():
        bootstrap = cluster.bootstrap
        create_topics(
            bootstrap,
            INPUT_TOPIC,
            OUTPUT_TOPIC,
            partitions=PARTITIONS,
            replicas=REPLICAS,
            config={"min.insync.replicas": MIN_ISR},
        )
        inputs = [str(n) for n in range(COPY_RECORDS)]
        produce(bootstrap, INPUT_TOPIC, [(v, v) for v in inputs])
        copiers = [Copier(bootstrap, p, tmp_path, TRANSACTION_SIZE) for p in range(PARTITIONS)]
        failovers: list[tuple[str, int, int]] = []  # (transactional id, killed, took over)
        copying_at_kills: list[bool] = []
        try:
            for copier in copiers:
                copier.launch()
            deadline = time.monotonic() + COPY_DEADLINE_S
            while time.monotonic() < deadline:
                for copier in copiers:
                    copier.poll()
                kills = len(failovers)
                if kills == KILLS and all(c.finished for c in copiers):
                    break
                # Kill k once the copiers went k/(KILLS+1) of the way (the first kill once
                # __transaction_state exists): each lands in the middle of the copy.
                due = COPY_RECORDS * (kills + 1) // (KILLS + 1)
                finished = all(c.finished for c in copiers)
                if kills < KILLS and (copied(copiers) >= due or finished):
                    txn_id = copiers[kills % PARTITIONS].transactional_id
                    victim = wait_coordinator(cluster, txn_id)
                    killed_at = time.monotonic()
                    copying_at_kills.append(not finished)
                    cluster.kill(victim)
                    successor = wait_coordinator(cluster, txn_id, not_on=victim)
                    failovers.append((txn_id, victim, successor))
                    while time.monotonic() < killed_at + DOWN_S:
                        for copier in copiers:
                            copier.poll()
                        time.sleep(LOOP_POLL_S)
                    cluster.start(victim)
                    cluster.wait_ready(victim)
                time.sleep(LOOP_POLL_S)
            assert all(c.finished for c in copiers), [c.last_output() for c in copiers]
        finally:
            for copier in copiers:
                copier.stop()
        assert len(failovers) == KILLS, failovers
        assert all(copying_at_kills), f"copiers done before a kill: {copying_at_kills}"
        output = [m.value().decode() for m in read_committed(bootstrap, OUTPUT_TOPIC, PARTITIONS)]
    duplicated = [v for v, n in Counter(output).items() if n > 1]
    assert not duplicated, f"{len(duplicated)} records copied twice, e.g. {duplicated[:5]}"
    assert sorted(output, key=int) == inputs, f"{len(output)} of {len(inputs)} records copied"
    print(f"copied {len(output)} records; coordinator failovers {failovers}; launches", end=" ")
    print([c.launches for c in copiers])
