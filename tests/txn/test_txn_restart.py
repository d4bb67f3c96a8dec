"""The transaction coordinator across a restart (state reloads from ``__transaction_state``; a
PrepareCommit left behind completes once the markers get through), and its timers: a
transaction older than its timeout is aborted with a bumped epoch, an idle transactional id
expires."""

from __future__ import annotations

import time
from pathlib import Path

from server_wire import RawClient
from txn_wire import POLL_S, WAIT_S, FakeLeader, add, describe, end, find, init, use_fake_leader
from txn_wire import wait_state as wait_for

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.testing import run_broker

OVERRIDES = {"transaction.state.log.num.partitions": 2}


def create_topic(client: RawClient, name: str = "t") -> None:
    request = CreateTopicsRequest(
        topics=[
            CreateTopicsRequest.CreatableTopic(name=name, num_partitions=2, replication_factor=1)
        ],
        timeout_ms=10_000,
    )
    assert client.call(request, 5).topics[0].error_code == 0


def start(client: RawClient, txn_id: str, timeout_ms: int = 60_000) -> tuple[int, int]:
    assert find(client, txn_id).error_code == 0
    response = init(client, txn_id, transaction_timeout_ms=timeout_ms)
    assert response.error_code == 0, response
    return response.producer_id, response.producer_epoch


def wait_until(predicate: object) -> bool:
    deadline = time.monotonic() + WAIT_S
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(POLL_S)
    return bool(predicate())  # type: ignore[operator]


def test_state_reloads_and_a_prepare_commit_left_behind_completes(tmp_path: Path) -> None:
    data = tmp_path / "broker"
    with run_broker(data, OVERRIDES) as broker, RawClient(broker.bootstrap_servers) as client:
        create_topic(client)
        # The leader refuses the markers (retriably): the commit stays PrepareCommit.
        stuck = FakeLeader(ec.NOT_LEADER_OR_FOLLOWER)
        use_fake_leader(broker, stuck)
        pid, epoch = start(client, "tx-a")
        assert add(client, "tx-a", pid, epoch, {"t": [0, 1]}) == {("t", 0): 0, ("t", 1): 0}
        assert end(client, "tx-a", pid, epoch, True).error_code == 0
        assert wait_until(lambda: len(stuck.requests) >= 2)  # retried
        assert describe(client, "tx-a").transaction_state == "PrepareCommit"
        other, other_epoch = start(client, "tx-b")
        assert add(client, "tx-b", other, other_epoch, {"t": [1]}) == {("t", 1): 0}
    with run_broker(data, OVERRIDES) as broker, RawClient(broker.bootstrap_servers) as client:
        # The reloaded coordinator resumes the commit at once, through the real data side.
        assert find(client, "tx-a").error_code == 0
        done = wait_for(client, "tx-a", "CompleteCommit")
        assert (done.transaction_state, done.producer_id, done.producer_epoch) == (
            "CompleteCommit",
            pid,
            epoch,
        )
        for index in (0, 1):
            partition = broker.partition("t", index)
            assert partition is not None
            batches = partition.log.read_batches(0, 1 << 20)
            assert [b.control_record() for b in batches if b.producer_id == pid] == [
                ("COMMIT", 0)
            ], index
        ongoing = describe(client, "tx-b")
        assert (ongoing.transaction_state, ongoing.producer_id, ongoing.producer_epoch) == (
            "Ongoing",
            other,
            other_epoch,
        )
        assert [(t.topic, t.partitions) for t in ongoing.topics] == [("t", [1])]
        # The reloaded producer goes on; a new one gets a producer id not handed out before.
        assert end(client, "tx-b", other, other_epoch, False).error_code == 0
        assert wait_for(client, "tx-b", "CompleteAbort").transaction_state == "CompleteAbort"
        new_pid, _ = start(client, "tx-c")
        assert new_pid not in (pid, other)


def test_a_timed_out_transaction_is_aborted_and_its_producer_fenced(tmp_path: Path) -> None:
    overrides = {**OVERRIDES, "transaction.abort.timed.out.transaction.cleanup.interval.ms": 100}
    with run_broker(tmp_path, overrides) as broker, RawClient(broker.bootstrap_servers) as client:
        create_topic(client)
        fake = FakeLeader()
        use_fake_leader(broker, fake)
        pid, epoch = start(client, "tx-slow", timeout_ms=300)
        patient, patient_epoch = start(client, "tx-patient")
        assert add(client, "tx-slow", pid, epoch, {"t": [0]}) == {("t", 0): 0}
        assert add(client, "tx-patient", patient, patient_epoch, {"t": [1]}) == {("t", 1): 0}
        aborted = wait_for(client, "tx-slow", "CompleteAbort")
        # One bump at transaction.version 2 too: Kafka 4.4 aborts a timed-out transaction of
        # epoch e (of a TV1 or a TV2 producer) at e + 1 (its kafka-transactions describe).
        assert (aborted.transaction_state, aborted.producer_epoch) == ("CompleteAbort", epoch + 1)
        (marker,) = [m for m in fake.markers() if m.producer_id == pid]
        assert (marker.transaction_result, marker.producer_epoch) == (False, epoch + 1)
        # The producer that let it time out is a zombie now.
        assert end(client, "tx-slow", pid, epoch, True).error_code == ec.PRODUCER_FENCED
        assert add(client, "tx-slow", pid, epoch, {"t": [0]}) == {("t", 0): ec.PRODUCER_FENCED}
        # A transaction within its timeout is left alone.
        assert describe(client, "tx-patient").transaction_state == "Ongoing"


def test_idle_transactional_ids_expire(tmp_path: Path) -> None:
    overrides = {
        **OVERRIDES,
        "transactional.id.expiration.ms": 300,
        "transaction.remove.expired.transaction.cleanup.interval.ms": 100,
    }
    with run_broker(tmp_path, overrides) as broker, RawClient(broker.bootstrap_servers) as client:
        create_topic(client)
        use_fake_leader(broker, FakeLeader())
        idle, _ = start(client, "tx-idle")
        busy, busy_epoch = start(client, "tx-busy")
        assert add(client, "tx-busy", busy, busy_epoch, {"t": [0]}) == {("t", 0): 0}
        assert wait_until(
            lambda: describe(client, "tx-idle").error_code == ec.TRANSACTIONAL_ID_NOT_FOUND
        )
        # An ongoing transaction never expires; the expired id starts over at epoch 0.
        assert describe(client, "tx-busy").transaction_state == "Ongoing"
        again = init(client, "tx-idle")
        assert again.error_code == 0 and again.producer_epoch == 0
        assert again.producer_id != idle
