"""The transaction coordinator in a two-broker in-process cluster: FindCoordinator points at
the leader of the id's ``__transaction_state`` partition, the produce path's verifier on the
other broker asks it over the network (AddPartitionsToTxn v4+ ``verify_only``, concurrent
verifications batched), and markers for a partition led by the other broker go to it over the
inter-broker listener (a fake WriteTxnMarkers handler registered there stands in for the data
side's)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
import trio
from server_wire import RawClient
from txn_wire import add, end, find, init, wait_state

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.testing import RunningCluster, run_cluster
from ferrokafka.txn.coordinator import TXN_TOPIC

OVERRIDES = {
    "transaction.state.log.num.partitions": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[RunningCluster]:
    with run_cluster(2, None, OVERRIDES) as running:
        with RawClient(running.brokers[0].bootstrap_servers) as c:
            request = CreateTopicsRequest(
                topics=[
                    CreateTopicsRequest.CreatableTopic(
                        name="t", num_partitions=4, replication_factor=1
                    )
                ],
                timeout_ms=10_000,
            )
            assert c.call(request, 5).topics[0].error_code == 0
            assert find(c, "warm-up").error_code == 0  # creates __transaction_state
        yield running


def coordinator_and_other(cluster: RunningCluster) -> tuple[int, int]:
    leader = cluster.brokers[0].image.partition(TXN_TOPIC, 0).leader  # type: ignore[union-attr]
    other = next(b.config.node_id for b in cluster.brokers if b.config.node_id != leader)
    return leader, other


def verify(cluster: RunningCluster, node_id: int, *args: object, add: bool = False) -> object:
    node = cluster.broker(node_id).broker.node
    assert node is not None and node.txn_verifier is not None
    call = functools.partial(node.txn_verifier.verify, *args, add=add)
    return trio.from_thread.run(call, trio_token=cluster.trio_token)


def test_find_coordinator_and_remote_verification(cluster: RunningCluster) -> None:
    leader, other = coordinator_and_other(cluster)
    with RawClient(cluster.broker(other).bootstrap_servers) as client:
        found = find(client, "tx-remote")
        assert (found.error_code, found.node_id) == (0, leader)
    with RawClient(cluster.broker(leader).bootstrap_servers) as client:
        started = init(client, "tx-remote")
        pid, epoch = started.producer_id, started.producer_epoch
        assert add(client, "tx-remote", pid, epoch, {"t": [0]}) == {("t", 0): 0}
    partitions = [("t", 0), ("t", 1)]
    expected = {("t", 0): ec.NONE, ("t", 1): ec.INVALID_TXN_STATE}
    assert verify(cluster, other, "tx-remote", pid, epoch, partitions) == expected
    assert verify(cluster, leader, "tx-remote", pid, epoch, partitions) == expected
    # A fenced epoch is INVALID_PRODUCER_EPOCH to the produce path, remote or local.
    fenced = {("t", 0): ec.INVALID_PRODUCER_EPOCH}
    assert verify(cluster, other, "tx-remote", pid, epoch + 1, [("t", 0)]) == fenced
    assert verify(cluster, leader, "tx-remote", pid, epoch + 1, [("t", 0)]) == fenced


def test_concurrent_remote_verifications_are_batched(cluster: RunningCluster) -> None:
    leader, other = coordinator_and_other(cluster)
    ids = [f"tx-batch-{i}" for i in range(8)]
    producers = {}
    with RawClient(cluster.broker(leader).bootstrap_servers) as client:
        for txn_id in ids:
            started = init(client, txn_id)
            producers[txn_id] = (started.producer_id, started.producer_epoch)
            assert add(client, txn_id, *producers[txn_id], {"t": [2]}) == {("t", 2): 0}
    node = cluster.broker(other).broker.node
    assert node is not None and node.txn_verifier is not None
    verifier = node.txn_verifier
    sent: list[int] = []
    original = verifier._send_batch  # type: ignore[attr-defined]

    async def counting(broker_id: int, queue: object) -> None:
        sent.append(len(queue.items))  # type: ignore[attr-defined]
        await original(broker_id, queue)

    async def all_at_once() -> list[object]:
        results: list[object] = [None] * len(ids)

        async def one(i: int) -> None:
            pid, epoch = producers[ids[i]]
            results[i] = await verifier.verify(ids[i], pid, epoch, [("t", 2), ("t", 3)], add=False)

        verifier._send_batch = counting  # type: ignore[attr-defined]
        try:
            async with trio.open_nursery() as nursery:
                for i in range(len(ids)):
                    nursery.start_soon(one, i)
        finally:
            verifier._send_batch = original  # type: ignore[attr-defined]
        return results

    results = trio.from_thread.run(all_at_once, trio_token=cluster.trio_token)
    assert results == [{("t", 2): ec.NONE, ("t", 3): ec.INVALID_TXN_STATE}] * len(ids)
    assert len(sent) < len(ids) and sum(sent) >= len(ids), sent


def test_markers_go_to_each_partition_s_leader(cluster: RunningCluster) -> None:
    """The real data side on both brokers: the coordinator's own partitions get their markers
    in-process, the other broker's over the network (WriteTxnMarkers)."""
    leader, other = coordinator_and_other(cluster)
    image = cluster.broker(leader).image
    by_leader: dict[int, list[int]] = {}
    for index, part in image.topic("t").partitions.items():  # type: ignore[union-attr]
        by_leader.setdefault(part.leader, []).append(index)
    assert set(by_leader) == {leader, other}, by_leader
    with RawClient(cluster.broker(leader).bootstrap_servers) as client:
        started = init(client, "tx-markers")
        pid, epoch = started.producer_id, started.producer_epoch
        assert add(client, "tx-markers", pid, epoch, {"t": [0, 1, 2, 3]}) == {
            ("t", i): 0 for i in range(4)
        }
        assert end(client, "tx-markers", pid, epoch, True).error_code == 0
        done = wait_state(client, "tx-markers", "CompleteCommit")
        assert done.transaction_state == "CompleteCommit"

    def written(broker: int) -> list[int]:
        """The partitions led by ``broker`` whose log holds the producer's COMMIT marker."""
        found = []
        for index in by_leader[broker]:
            partition = cluster.broker(broker).partition("t", index)
            assert partition is not None
            batches = partition.log.read_batches(0, 1 << 20)
            if any(b.producer_id == pid and b.control_record() == ("COMMIT", 0) for b in batches):
                found.append(index)
        return found

    assert written(leader) == sorted(by_leader[leader])
    assert written(other) == sorted(by_leader[other])
