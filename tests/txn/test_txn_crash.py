"""A transaction whose commit was written but whose markers were not survives a SIGKILL of
`ferrokafka serve`: after the restart the coordinator reloads it from ``__transaction_state``
in PrepareCommit and sends its markers again (to a fake leader here), then completes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient
from test_durability import Serve
from txn_wire import FakeLeader, add, describe, end, find, init, use_fake_leader, wait_state

from ferrokafka.testing import run_broker

TIMEOUT_S = 30


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    broker = Serve(data_dir=tmp_path / "data", work_dir=tmp_path)
    try:
        yield broker
    finally:
        broker.close()


def test_a_prepare_commit_left_by_a_crash_completes(serve: Serve, tmp_path: Path) -> None:
    serve.start()
    admin = AdminClient({"bootstrap.servers": serve.bootstrap})
    # Markers cannot be written to "t" (one replica, min.insync.replicas 2: Kafka's marker
    # appends need the ISR), so the commit stays prepared until the process dies.
    topic = NewTopic("t", 2, 1, config={"min.insync.replicas": "2"})
    admin.create_topics([topic])["t"].result(TIMEOUT_S)
    with RawClient(serve.bootstrap) as client:
        assert find(client, "tx-crash").error_code == 0
        started = init(client, "tx-crash")
        pid, epoch = started.producer_id, started.producer_epoch
        assert add(client, "tx-crash", pid, epoch, {"t": [0, 1]}) == {("t", 0): 0, ("t", 1): 0}
        assert end(client, "tx-crash", pid, epoch, True).error_code == 0
        assert describe(client, "tx-crash").transaction_state == "PrepareCommit"
    serve.kill()

    data = str(serve.data_dir)
    with run_broker(tmp_path / "unused", {"log.dirs": data, "metadata.log.dir": data}) as broker:
        fake = FakeLeader()
        use_fake_leader(broker, fake)
        with RawClient(broker.bootstrap_servers) as client:
            assert find(client, "tx-crash").error_code == 0
            done = wait_state(client, "tx-crash", "CompleteCommit")
            assert (done.transaction_state, done.producer_id, done.producer_epoch) == (
                "CompleteCommit",
                pid,
                epoch,
            )
        markers = [m for m in fake.markers() if m.producer_id == pid]
        assert markers and all(m.transaction_result for m in markers)
        assert {(t.name, p) for m in markers for t in m.topics for p in t.partition_indexes} == {
            ("t", 0),
            ("t", 1),
        }
