"""The transaction coordinator moves with its ``__transaction_state`` partition: in a KRaft
cluster of three ``ferrokafka serve`` processes (the partition replicated three times), the
coordinator of an ongoing transaction is killed (SIGKILL); the new leader of the partition
answers FindCoordinator, has the transaction as it was (replicated, reloaded), and fences the
old producer when a new one initializes (the abort waits for its markers: no partition leader
takes them on this branch, the data side being another's)."""

from __future__ import annotations

import time
from pathlib import Path

from server_wire import RawClient
from txn_wire import add, describe, find, init

from cluster.kraft_processes import KRaftCluster
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest

FAILOVER_TIMEOUT_S = 90.0
POLL_S = 0.2
OVERRIDES = {
    "transaction.state.log.num.partitions": "1",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
}


def coordinator_of(cluster: KRaftCluster, txn_id: str, exclude: int | None = None) -> int:
    """The node FindCoordinator names for ``txn_id`` (asked of any node but ``exclude``),
    once it answers without error."""
    deadline = time.monotonic() + FAILOVER_TIMEOUT_S
    while True:
        for node in cluster.nodes.values():
            if node.node_id == exclude or not node.running():
                continue
            try:
                with RawClient(node.bootstrap) as client:
                    found = find(client, txn_id)
            except OSError:
                continue
            if found.error_code == 0 and found.node_id != exclude:
                return int(found.node_id)
        assert time.monotonic() < deadline, f"no coordinator for {txn_id}"
        time.sleep(POLL_S)


RETRIABLE = (ec.NOT_COORDINATOR, ec.COORDINATOR_LOAD_IN_PROGRESS, ec.COORDINATOR_NOT_AVAILABLE)


def until_served(bootstrap: str, call: object, wanted: object) -> object:
    """``call(client)`` until it gives ``wanted`` (a new coordinator loads first); with
    ``wanted`` None, until its answer's error is not a coordinator error a client retries."""
    deadline = time.monotonic() + FAILOVER_TIMEOUT_S
    while True:
        with RawClient(bootstrap) as client:
            got = call(client)  # type: ignore[operator]
        done = got.error_code not in RETRIABLE if wanted is None else got == wanted  # type: ignore[attr-defined]
        if done or time.monotonic() > deadline:
            return got
        time.sleep(POLL_S)


def test_the_coordinator_fails_over_with_its_partition(tmp_path: Path) -> None:
    with KRaftCluster(tmp_path, size=3, overrides=OVERRIDES).running() as cluster:
        first = coordinator_of(cluster, "tx-failover")
        bootstrap = cluster.nodes[first].bootstrap
        with RawClient(bootstrap) as client:
            request = CreateTopicsRequest(
                topics=[
                    CreateTopicsRequest.CreatableTopic(
                        name="t", num_partitions=1, replication_factor=3
                    )
                ],
                timeout_ms=30_000,
            )
            assert client.call(request, 5).topics[0].error_code == 0
        # The coordinator may learn it leads the partition a moment after another broker
        # named it: NOT_COORDINATOR then, which a client retries.
        started = until_served(bootstrap, lambda c: init(c, "tx-failover"), None)
        assert started.error_code == 0, started  # type: ignore[attr-defined]
        pid, epoch = started.producer_id, started.producer_epoch  # type: ignore[attr-defined]
        # (the topic may reach the coordinator's metadata a moment after it was created)
        added = until_served(
            bootstrap, lambda c: add(c, "tx-failover", pid, epoch, {"t": [0]}), {("t", 0): 0}
        )
        assert added == {("t", 0): 0}
        cluster.kill(first)

        second = coordinator_of(cluster, "tx-failover", exclude=first)
        new_bootstrap = cluster.nodes[second].bootstrap
        state = until_served(
            new_bootstrap, lambda c: describe(c, "tx-failover").transaction_state, "Ongoing"
        )
        assert state == "Ongoing"
        with RawClient(new_bootstrap) as client:
            described = describe(client, "tx-failover")
            assert (described.producer_id, described.producer_epoch) == (pid, epoch)
            assert [(t.topic, t.partitions) for t in described.topics] == [("t", [0])]
            # A new producer: the old one's transaction is aborted with a bumped epoch.
            assert init(client, "tx-failover").error_code == ec.CONCURRENT_TRANSACTIONS
            fenced = describe(client, "tx-failover")
            assert (fenced.transaction_state, fenced.producer_epoch) == (
                "PrepareAbort",
                epoch + 1,
            )
            assert add(client, "tx-failover", pid, epoch, {"t": [0]}) == {
                ("t", 0): ec.PRODUCER_FENCED
            }
