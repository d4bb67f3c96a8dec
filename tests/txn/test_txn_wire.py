"""The transaction coordinator over the wire (our protocol codecs against the in-process
broker), with a fake partition leader taking the markers: a transaction's partitions show in
DescribeTransactions and ListTransactions, its end sends the markers and completes, retries and
wrong ends get Kafka's codes, a second InitProducerId fences the first producer (aborting its
transaction with a bumped epoch), verify_only, AddOffsetsToTxn, timeouts."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import pytest
import trio
from server_wire import RawClient
from txn_wire import (
    FakeLeader,
    add,
    describe,
    end,
    find,
    init,
    use_fake_leader,
    wait_state,
)

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.add_offsets_to_txn import AddOffsetsToTxnRequest
from ferrokafka.protocol.messages.add_partitions_to_txn import AddPartitionsToTxnRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.list_transactions import ListTransactionsRequest
from ferrokafka.testing import RunningBroker, run_broker

OVERRIDES = {"transaction.state.log.num.partitions": 3, "offsets.topic.num.partitions": 2}


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    with run_broker(None, OVERRIDES) as running:
        with RawClient(running.bootstrap_servers) as c:
            created = c.call(
                CreateTopicsRequest(
                    topics=[
                        CreateTopicsRequest.CreatableTopic(
                            name=name, num_partitions=2, replication_factor=1
                        )
                        for name in ("t", "u")
                    ],
                    timeout_ms=10_000,
                ),
                5,
            )
            assert [t.error_code for t in created.topics] == [0, 0]
        yield running


@pytest.fixture
def fake(broker: RunningBroker) -> Iterator[FakeLeader]:
    leader = FakeLeader()
    use_fake_leader(broker, leader)
    yield leader
    use_fake_leader(broker, None)


@pytest.fixture
def client(broker: RunningBroker) -> Iterator[RawClient]:
    with RawClient(broker.bootstrap_servers) as c:
        yield c


def start(client: RawClient, txn_id: str) -> tuple[int, int]:
    found = find(client, txn_id)
    assert found.error_code == 0, found
    response = init(client, txn_id)
    assert response.error_code == 0, response
    return response.producer_id, response.producer_epoch


def test_commit_sends_markers_and_completes(
    client: RawClient, fake: FakeLeader, broker: RunningBroker
) -> None:
    pid, epoch = start(client, "tx-commit")
    assert epoch == 0
    assert add(client, "tx-commit", pid, epoch, {"t": [0, 1], "u": [1]}) == {
        ("t", 0): 0,
        ("t", 1): 0,
        ("u", 1): 0,
    }
    described = describe(client, "tx-commit")
    assert (described.error_code, described.transaction_state) == (0, "Ongoing")
    assert (described.producer_id, described.producer_epoch) == (pid, epoch)
    assert described.transaction_timeout_ms == 60_000
    assert described.transaction_start_time_ms > 0
    assert {(t.topic, tuple(t.partitions)) for t in described.topics} == {
        ("t", (0, 1)),
        ("u", (1,)),
    }
    assert end(client, "tx-commit", pid, epoch, True).error_code == 0
    assert wait_state(client, "tx-commit", "CompleteCommit").transaction_state == "CompleteCommit"
    (marker,) = [m for m in fake.markers() if m.producer_id == pid]
    assert (marker.producer_epoch, marker.transaction_result) == (epoch, True)
    assert {(t.name, p) for t in marker.topics for p in t.partition_indexes} == {
        ("t", 0),
        ("t", 1),
        ("u", 1),
    }
    coordinator = broker.broker.node.txn_coordinator  # type: ignore[union-attr]
    leader_epoch = broker.partition(
        "__transaction_state", coordinator.partition_for("tx-commit")
    ).leader_epoch
    assert marker.coordinator_epoch == leader_epoch
    assert describe(client, "tx-commit").topics == []
    # A retry of the commit succeeds; an abort of it does not.
    assert end(client, "tx-commit", pid, epoch, True).error_code == 0
    assert end(client, "tx-commit", pid, epoch, False).error_code == ec.INVALID_TXN_STATE
    # The next transaction of the same producer starts afresh.
    assert add(client, "tx-commit", pid, epoch, {"u": [0]}) == {("u", 0): 0}
    assert end(client, "tx-commit", pid, epoch, False).error_code == 0
    assert wait_state(client, "tx-commit", "CompleteAbort").transaction_state == "CompleteAbort"
    abort = [m for m in fake.markers() if m.producer_id == pid][-1]
    assert abort.transaction_result is False


def test_wrong_ends_and_unknown_ids(client: RawClient, fake: FakeLeader) -> None:
    pid, epoch = start(client, "tx-wrong")
    # Nothing to end: EndTxn with no partitions added.
    assert end(client, "tx-wrong", pid, epoch, True).error_code == ec.INVALID_TXN_STATE
    assert end(client, "tx-wrong", pid + 1, epoch, True).error_code == (
        ec.INVALID_PRODUCER_ID_MAPPING
    )
    find(client, "tx-never")
    assert end(client, "tx-never", pid, epoch, True).error_code == ec.INVALID_PRODUCER_ID_MAPPING
    assert describe(client, "tx-never").error_code == ec.TRANSACTIONAL_ID_NOT_FOUND
    assert init(client, "tx-wrong", transaction_timeout_ms=0).error_code == (
        ec.INVALID_TRANSACTION_TIMEOUT
    )
    too_long = 900_001  # transaction.max.timeout.ms is 900000
    assert init(client, "tx-wrong", transaction_timeout_ms=too_long).error_code == (
        ec.INVALID_TRANSACTION_TIMEOUT
    )
    # A partition that does not exist fails the request, and nothing is added.
    codes = add(client, "tx-wrong", pid, epoch, {"t": [0], "nope": [0], "u": [7]})
    assert codes == {
        ("t", 0): ec.OPERATION_NOT_ATTEMPTED,
        ("nope", 0): ec.UNKNOWN_TOPIC_OR_PARTITION,
        ("u", 7): ec.UNKNOWN_TOPIC_OR_PARTITION,
    }
    assert describe(client, "tx-wrong").transaction_state == "Empty"
    assert fake.markers() == []


def test_a_new_producer_fences_the_old_one(client: RawClient, fake: FakeLeader) -> None:
    pid, epoch = start(client, "tx-fence")
    assert add(client, "tx-fence", pid, epoch, {"t": [0]}) == {("t", 0): 0}
    # A second producer with the same transactional id: the ongoing transaction is aborted
    # with a bumped epoch first (the client retries CONCURRENT_TRANSACTIONS). One bump at
    # transaction.version 2 too, as Kafka 4.4: the same requests to it give the same epochs.
    assert init(client, "tx-fence").error_code == ec.CONCURRENT_TRANSACTIONS
    assert wait_state(client, "tx-fence", "CompleteAbort").producer_epoch == epoch + 1
    (abort,) = [m for m in fake.markers() if m.producer_id == pid]
    assert (abort.producer_epoch, abort.transaction_result) == (epoch + 1, False)
    second = init(client, "tx-fence")
    assert (second.error_code, second.producer_id, second.producer_epoch) == (0, pid, epoch + 2)
    # The zombie: fenced, told in the words its version knows (PRODUCER_FENCED from v2).
    assert add(client, "tx-fence", pid, epoch, {"t": [1]}, v=3) == {("t", 1): ec.PRODUCER_FENCED}
    assert add(client, "tx-fence", pid, epoch, {"t": [1]}, v=1) == {
        ("t", 1): ec.INVALID_PRODUCER_EPOCH
    }
    assert end(client, "tx-fence", pid, epoch, True).error_code == ec.PRODUCER_FENCED
    assert end(client, "tx-fence", pid, epoch, True, v=1).error_code == ec.INVALID_PRODUCER_EPOCH
    # KIP-360: the zombie's own InitProducerId with its old epoch is fenced too.
    old = init(client, "tx-fence", producer_id=pid, producer_epoch=epoch)
    assert old.error_code == ec.PRODUCER_FENCED
    # The new producer's epoch works; its retry of the init (its epoch as the last) too.
    retry = init(client, "tx-fence", producer_id=pid, producer_epoch=epoch + 2)
    assert (retry.error_code, retry.producer_epoch) == (0, epoch + 3)


def test_verify_only_from_a_broker(client: RawClient, fake: FakeLeader) -> None:
    pid, epoch = start(client, "tx-verify")
    assert add(client, "tx-verify", pid, epoch, {"t": [0]}) == {("t", 0): 0}
    txn = AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction
    topic = AddPartitionsToTxnRequest.AddPartitionsToTxnTopic
    request = AddPartitionsToTxnRequest(
        transactions=[
            txn(
                transactional_id="tx-verify",
                producer_id=pid,
                producer_epoch=epoch,
                verify_only=True,
                topics=[topic(name="t", partitions=[0, 1])],
            ),
            txn(
                transactional_id="tx-commit-none",
                producer_id=pid,
                producer_epoch=epoch,
                verify_only=True,
                topics=[topic(name="u", partitions=[0])],
            ),
        ]
    )
    response = client.call(request, 5)
    codes = {
        (r.transactional_id, t.name, p.partition_index): p.partition_error_code
        for r in response.results_by_transaction
        for t in r.topic_results
        for p in t.results_by_partition
    }
    assert codes == {
        ("tx-verify", "t", 0): ec.NONE,
        ("tx-verify", "t", 1): ec.TRANSACTION_ABORTABLE,
        ("tx-commit-none", "u", 0): ec.INVALID_PRODUCER_ID_MAPPING,
    }
    # Verification adds nothing.
    assert {(t.topic, tuple(t.partitions)) for t in describe(client, "tx-verify").topics} == {
        ("t", (0,))
    }


def test_add_offsets_adds_the_group_partition(
    client: RawClient, fake: FakeLeader, broker: RunningBroker
) -> None:
    pid, epoch = start(client, "tx-offsets")
    request = AddOffsetsToTxnRequest(
        transactional_id="tx-offsets", producer_id=pid, producer_epoch=epoch, group_id="grp"
    )
    assert client.call(request, 3).error_code == 0
    group_partition = broker.broker.node.group_coordinator.partition_for("grp")  # type: ignore[union-attr]
    assert [(t.topic, t.partitions) for t in describe(client, "tx-offsets").topics] == [
        ("__consumer_offsets", [group_partition])
    ]
    request.producer_epoch = epoch + 1
    assert client.call(request, 3).error_code == ec.PRODUCER_FENCED
    assert client.call(request, 1).error_code == ec.INVALID_PRODUCER_EPOCH


def test_list_transactions_filters(client: RawClient, fake: FakeLeader) -> None:
    pid, epoch = start(client, "tx-list-a")
    assert add(client, "tx-list-a", pid, epoch, {"t": [1]}) == {("t", 1): 0}
    other, _ = start(client, "tx-list-b")

    def listed(version: int = 2, **fields: object) -> tuple[int, list[str], dict[str, str]]:
        request = ListTransactionsRequest()
        for name, value in fields.items():
            setattr(request, name, value)
        response = client.call(request, version)
        states = {s.transactional_id: s.transaction_state for s in response.transaction_states}
        return response.error_code, response.unknown_state_filters, states

    code, unknown, states = listed()
    assert code == 0 and unknown == []
    assert states["tx-list-a"] == "Ongoing" and states["tx-list-b"] == "Empty"
    code, unknown, states = listed(state_filters=["Ongoing", "Bogus"])
    assert unknown == ["Bogus"] and "tx-list-a" in states and "tx-list-b" not in states
    assert set(listed(producer_id_filters=[other])[2]) == {"tx-list-b"}
    assert set(listed(transactional_id_pattern="tx-list-.")[2]) == {"tx-list-a", "tx-list-b"}
    assert set(listed(transactional_id_pattern="list")[2]) == set()  # the whole id must match
    assert listed(transactional_id_pattern="(")[0] == ec.INVALID_REGULAR_EXPRESSION
    # v1: only transactions running longer than the duration.
    assert "tx-list-a" in listed(1, duration_filter=0)[2]
    assert "tx-list-a" not in listed(1, duration_filter=3_600_000)[2]
    assert all(re.fullmatch(r"tx-[a-z-]+", t) for t in listed()[2])


def test_transaction_version_2_end_bumps_the_epoch(
    client: RawClient, fake: FakeLeader, broker: RunningBroker
) -> None:
    """EndTxn v5 (a transaction.version 2 client, KIP-890 part 2): every end bumps the epoch,
    the response carries it, the markers are written with it; a retry of the end with the
    old epoch is answered with the new one. The produce path's verifier adds partitions for
    such clients (``add=True``)."""
    pid, epoch = start(client, "tx-v2")
    node = broker.broker.node
    assert node is not None and node.txn_verifier is not None
    added = trio.from_thread.run(
        functools.partial(node.txn_verifier.verify, "tx-v2", pid, epoch, [("t", 0)], add=True),
        trio_token=broker.trio_token,
    )
    assert added == {("t", 0): ec.NONE}
    assert describe(client, "tx-v2").transaction_state == "Ongoing"
    ended = end(client, "tx-v2", pid, epoch, True, v=5)
    assert (ended.error_code, ended.producer_id, ended.producer_epoch) == (0, pid, epoch + 1)
    assert wait_state(client, "tx-v2", "CompleteCommit").producer_epoch == epoch + 1
    (marker,) = [m for m in fake.markers() if m.producer_id == pid]
    assert (marker.producer_epoch, marker.transaction_version) == (epoch + 1, 2)
    retried = end(client, "tx-v2", pid, epoch, True, v=5)
    assert (retried.error_code, retried.producer_epoch) == (0, epoch + 1)
    # The next transaction uses the bumped epoch.
    assert add(client, "tx-v2", pid, epoch + 1, {"t": [1]}) == {("t", 1): 0}
    ended = end(client, "tx-v2", pid, epoch + 1, False, v=5)
    assert (ended.error_code, ended.producer_epoch) == (0, epoch + 2)


def test_bad_input_gets_kafka_s_codes(client: RawClient, fake: FakeLeader) -> None:
    assert init(client, "").error_code == ec.INVALID_REQUEST
    # A producer id without an epoch (or the reverse) is malformed.
    assert init(client, "tx-bad", producer_id=5, producer_epoch=-1).error_code == ec.INVALID_REQUEST
    # KIP-939 two-phase commit is not enabled; keeping a prepared transaction is unsupported.
    assert init(client, "tx-bad", version=6, enable2_pc=True).error_code == (
        ec.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    )
    assert init(client, "tx-bad", version=6, keep_prepared_txn=True).error_code == (
        ec.UNSUPPORTED_VERSION
    )
    assert end(client, "", 1, 0, True).error_code == ec.INVALID_REQUEST
    assert add(client, "", 1, 0, {"t": [0]}) == {("t", 0): ec.INVALID_REQUEST}
    assert add(client, "tx-bad", 1, 0, {"t": [-1]}) == {("t", -1): ec.UNKNOWN_TOPIC_OR_PARTITION}
    assert describe(client, "").error_code == ec.INVALID_REQUEST
    assert find(client, "").error_code == ec.INVALID_REQUEST
    # One entry per transactional id in a broker's batch.
    txn = AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction(
        transactional_id="tx-bad", producer_id=1, producer_epoch=0, verify_only=True
    )
    twice = client.call(AddPartitionsToTxnRequest(transactions=[txn, txn]), 4)
    assert twice.error_code == ec.INVALID_REQUEST
    # The connection still serves.
    pid, _ = start(client, "tx-bad")
    assert pid >= 0
