"""Idempotent producers on the wire: InitProducerId, then Produce with producer ids, epochs and
sequences built by hand, checked against Kafka's rules (duplicate -> original offset, gap ->
OUT_OF_ORDER_SEQUENCE_NUMBER, old epoch -> INVALID_PRODUCER_EPOCH), across restarts too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from data_broker import Client, DataBroker, data_broker

from ferrokafka._ferrokafka import BatchBuilder
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.init_producer_id import InitProducerIdRequest
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.storage import producer_snapshot as snap

TOPIC = "idem"
PRODUCE_V = 11
INIT_V = 5
INT_MAX = 2**31 - 1
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
NOT_COORDINATOR = 16
CORRUPT_MESSAGE = 2
# A producer id the broker never hands out in these tests (its first block is 0-999).
OTHER_PID = 999_999


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC)
        yield b


@pytest.fixture
def client(broker: DataBroker) -> Iterator[Client]:
    with Client(broker.bootstrap_servers) as c:
        yield c


def init_producer_id(client: Client, version: int = INIT_V, **fields: Any) -> Any:
    request = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000)
    for name, value in fields.items():
        setattr(request, name, value)
    return client.call(request, version)


def batch(pid: int, epoch: int, seq: int, count: int = 2, **kw: Any) -> bytes:
    builder = BatchBuilder(producer_id=pid, producer_epoch=epoch, base_sequence=seq, **kw)
    for i in range(count):
        builder.append(b"v%d-%d" % (seq, i), key=b"k")
    return builder.build()


def produce(client: Client, records: bytes) -> Any:
    request = produce_request(records)
    return client.call(request, PRODUCE_V).responses[0].partition_responses[0]


def produce_request(records: bytes) -> ProduceRequest:
    return ProduceRequest(
        acks=-1,
        timeout_ms=5_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=TOPIC,
                topic_id=uuid.UUID(int=0),
                partition_data=[ProduceRequest.PartitionProduceData(index=0, records=records)],
            )
        ],
    )


def ok(response: Any) -> int:
    assert response.error_code == 0, response
    return response.base_offset


def log_end(broker: DataBroker) -> int:
    return broker.partition(TOPIC, 0).log.log_end_offset


def test_init_producer_id_every_version(client: Client) -> None:
    ids = []
    for version in range(0, 6):
        response = init_producer_id(client, version)
        assert (response.error_code, response.producer_epoch) == (0, 0)
        ids.append(response.producer_id)
    assert ids == sorted(set(ids)) and ids[0] >= 0
    # KIP-360: an idempotent producer that sends its id and epoch still gets a fresh id.
    bumped = init_producer_id(client, producer_id=ids[-1], producer_epoch=0)
    assert bumped.error_code == 0 and bumped.producer_id not in ids


def test_transactional_id_goes_to_the_transaction_coordinator(client: Client) -> None:
    # Before FindCoordinator created __transaction_state, no broker coordinates the id.
    response = init_producer_id(client, transactional_id="txn-1")
    assert response.error_code == NOT_COORDINATOR
    assert response.producer_id == -1
    found = client.call(FindCoordinatorRequest(key="txn-1", key_type=1), 3)
    assert found.error_code == 0
    response = init_producer_id(client, transactional_id="txn-1")
    assert (response.error_code, response.producer_epoch) == (0, 0)
    assert response.producer_id >= 0


def test_producer_ids_never_repeat_across_restarts(tmp_path: Path) -> None:
    seen: list[int] = []
    for _ in range(2):
        with data_broker(tmp_path / "b") as b, Client(b.bootstrap_servers) as c:
            seen += [init_producer_id(c).producer_id for _ in range(3)]
    assert len(set(seen)) == len(seen) == 6
    # The second start took a new block: its ids are above every id of the first.
    assert min(seen[3:]) > max(seen[:3])


def test_duplicates_get_the_original_offset(broker: DataBroker, client: Client) -> None:
    pid = init_producer_id(client).producer_id
    batches = [batch(pid, 0, seq) for seq in range(0, 12, 2)]  # six batches of two
    offsets = [ok(produce(client, b)) for b in batches]
    assert offsets == list(range(0, 12, 2))
    end = log_end(broker)
    # Each of the last five is a duplicate: the original offset, nothing appended.
    for b, offset in list(zip(batches, offsets, strict=True))[1:]:
        assert ok(produce(client, b)) == offset
    assert log_end(broker) == end
    # The oldest is no longer retained: it is out of sequence now.
    assert produce(client, batches[0]).error_code == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert log_end(broker) == end
    assert ok(produce(client, batch(pid, 0, 12))) == end


def test_sequence_gap_and_old_epoch(broker: DataBroker, client: Client) -> None:
    pid = init_producer_id(client).producer_id
    ok(produce(client, batch(pid, 0, 0)))
    gap = produce(client, batch(pid, 0, 5))
    assert gap.error_code == OUT_OF_ORDER_SEQUENCE_NUMBER and gap.base_offset == -1
    ok(produce(client, batch(pid, 0, 2)))
    # A new epoch must start at sequence 0.
    assert produce(client, batch(pid, 1, 4)).error_code == OUT_OF_ORDER_SEQUENCE_NUMBER
    ok(produce(client, batch(pid, 1, 0)))
    # The old epoch is fenced, even with the sequence that would have followed.
    assert produce(client, batch(pid, 0, 4)).error_code == INVALID_PRODUCER_EPOCH
    assert log_end(broker) == 6


def test_unknown_producer_takes_any_sequence_and_sequences_wrap(client: Client) -> None:
    pid = init_producer_id(client).producer_id
    # Never seen here (its batches may have been deleted): accepted at any sequence (KIP-360).
    ok(produce(client, batch(pid, 3, INT_MAX - 1, count=3)))  # INT_MAX-1, INT_MAX, 0
    ok(produce(client, batch(pid, 3, 1)))
    assert produce(client, batch(pid, 3, 0)).error_code == OUT_OF_ORDER_SEQUENCE_NUMBER


def test_transactional_batches_need_a_transactional_id(client: Client) -> None:
    pid = init_producer_id(client).producer_id
    records = batch(pid, 0, 0, is_transactional=True)
    # Without a transactional id: Kafka's TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
    assert produce(client, records).error_code == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    # With one the transaction coordinator never heard of: the leader's verification (KIP-890)
    # refuses it and nothing is appended (tests/partition/test_transactions.py and
    # tests/server/test_transactions_wire.py cover batches of open transactions).
    request = produce_request(records)
    request.transactional_id = "txn-1"
    response = client.call(request, PRODUCE_V).responses[0].partition_responses[0]
    assert response.error_code != 0 and response.base_offset == -1


def test_corrupt_retry_is_not_a_duplicate(client: Client) -> None:
    pid = init_producer_id(client).producer_id
    good = batch(pid, 0, 0)
    ok(produce(client, good))
    corrupt = bytearray(good)
    corrupt[-1] ^= 0xFF
    assert produce(client, bytes(corrupt)).error_code == CORRUPT_MESSAGE


@pytest.mark.parametrize("snapshot", ["kept", "deleted"])
def test_deduplication_survives_restart(tmp_path: Path, snapshot: str) -> None:
    data_dir = tmp_path / "b"
    with data_broker(data_dir) as b, Client(b.bootstrap_servers) as c:
        b.create_topic(TOPIC)
        pid = init_producer_id(c).producer_id
        ok(produce(c, batch(OTHER_PID, 0, 0)))  # a second entry in the snapshot
        first = batch(pid, 0, 0)
        last = batch(pid, 0, 2, count=3)
        ok(produce(c, first))
        offset = ok(produce(c, last))
        log_dir = b.partition(TOPIC, 0).log.dir
    assert snap.list_snapshots(log_dir) == [7]
    entries = {e.producer_id: e for e in snap.read_snapshot(log_dir, 7)}
    assert entries[pid] == snap.SnapshotEntry(pid, 0, 4, 6, 2, entries[pid].timestamp)
    if snapshot == "deleted":  # as after a crash: the state comes from the log alone
        snap.delete_snapshot(log_dir, 7)
    with data_broker(data_dir) as b, Client(b.bootstrap_servers) as c:
        assert ok(produce(c, last)) == offset
        assert log_end(b) == 7
        if snapshot == "deleted":  # replayed from the log: all retained batches are known
            assert ok(produce(c, first)) == 2
        assert produce(c, batch(pid, 0, 9)).error_code == OUT_OF_ORDER_SEQUENCE_NUMBER
        assert ok(produce(c, batch(pid, 0, 5))) == 7


def test_snapshot_format(tmp_path: Path) -> None:
    entries = [snap.SnapshotEntry(7, 1, 41, 100, 4, 1_700_000_000_000)]
    data = snap.encode(entries)
    # version 1, crc, one entry of 46 bytes (Kafka's ProducerSnapshot v1 layout)
    assert data[:2] == b"\x00\x01" and len(data) == 2 + 4 + 4 + 46
    assert snap.decode(data) == entries
    with pytest.raises(snap.CorruptSnapshotError):
        snap.decode(data[:-1] + bytes([data[-1] ^ 1]))
    for offset in (5, 9, 12):
        snap.write_snapshot(tmp_path, offset, entries)
    assert snap.list_snapshots(tmp_path) == [9, 12]
    assert (tmp_path / "00000000000000000012.snapshot").is_file()


def test_appends_in_worker_threads_keep_the_rules(tmp_path: Path) -> None:
    """flush.messages=1 sends every append to a worker thread (under the partition's append
    lock): pipelined batches and their retries are still checked in order."""
    with data_broker(tmp_path / "b") as b, Client(b.bootstrap_servers) as c:
        b.create_topic(TOPIC, configs={"flush.messages": "1"})
        pid = init_producer_id(c).producer_id
        batches = [batch(pid, 0, seq) for seq in range(0, 10, 2)]
        request = [produce_request(records) for records in batches + batches]
        for r in request:  # pipelined, as a client with 5 in flight sends them
            c.send_request(r, PRODUCE_V)
        answers = [c.receive(r.API_KEY, PRODUCE_V) for r in request]
        offsets = [a.responses[0].partition_responses[0].base_offset for a in answers]
        assert offsets == list(range(0, 10, 2)) * 2
        assert log_end(b) == 10


def test_periodic_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ferrokafka.partition import appends

    monkeypatch.setattr(appends, "PRODUCER_SNAPSHOT_INTERVAL_OFFSETS", 4)
    with data_broker(tmp_path / "b") as b, Client(b.bootstrap_servers) as c:
        b.create_topic(TOPIC)
        pid = init_producer_id(c).producer_id
        for seq in range(0, 6, 2):
            ok(produce(c, batch(pid, 0, seq)))
        log_dir = b.partition(TOPIC, 0).log.dir
        assert snap.list_snapshots(log_dir) == [4]
        assert [e.last_sequence for e in snap.read_snapshot(log_dir, 4)] == [3]
