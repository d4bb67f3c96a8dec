"""Transactions on a partition, as Kafka's ProducerStateManager / UnifiedLog keep them: the
open transaction of each producer, markers (epochs, coordinator epochs), the last stable
offset with the high watermark, the transaction index of aborts, read_committed reads, the
KIP-890 verification guard, followers, replay and snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from tests.partition.txn_support import ME, marker, txn_batch, txn_partition

from ferrokafka.partition import AppendOrigin, Partition
from ferrokafka.partition.producer_state import Marker, ProducerState, load_producer_state
from ferrokafka.partition.txn_state import SENTINEL
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import BatchBuilder, Log, LogConfig, read_batch_header
from ferrokafka.storage import producer_snapshot as snap

CLIENT = AppendOrigin.CLIENT
COORDINATOR = AppendOrigin.COORDINATOR
A, B = 1000, 2000


async def produce(p: Partition, records: bytes, **kw: object) -> tuple[int, int]:
    result = await p.append_as_leader(records, origin=CLIENT, required_acks=-1, **kw)  # type: ignore[arg-type]
    return result.code, result.info.first_offset if result.info else -1


async def end_txn(p: Partition, pid: int, epoch: int, commit: bool, coord: int = 0) -> int:
    result = await p.append_txn_marker(pid, epoch, coord, commit)
    return result.code


def read_committed(p: Partition, offset: int = 0) -> tuple[list[int], list[tuple[int, int]]]:
    read = p.read(
        offset,
        1 << 20,
        current_leader_epoch=-1,
        read_committed=True,
        min_one_batch=True,
        nowait=False,
    )
    assert read.code == 0 and read.aborted_transactions is not None
    offsets = []
    if read.info is not None:
        for batch in p.log.read_batches(offset, max_offset=read.last_stable_offset):
            offsets.extend(range(batch.base_offset, batch.next_offset))
    return offsets, read.aborted_transactions


def run(fn: object) -> None:
    trio.run(fn)  # type: ignore[arg-type]


def test_lso_holds_at_the_first_open_transaction(tmp_path: Path) -> None:
    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0")
        assert await produce(p, txn_batch(A, 0, 0, 2)) == (0, 0)  # 0-1: A's txn
        assert await produce(p, txn_batch(-1, -1, -1, txn=False)) == (0, 2)  # plain
        assert await produce(p, txn_batch(B, 0, 0)) == (0, 3)  # B's txn
        assert (p.high_watermark, p.last_stable_offset) == (4, 0)
        assert p.producers.txns.first_undecided_offset() == 0
        assert read_committed(p) == ([], [])
        assert await end_txn(p, A, 0, commit=True) == 0  # marker at 4
        assert (p.high_watermark, p.last_stable_offset) == (5, 3)
        offsets, aborted = read_committed(p)
        assert offsets == [0, 1, 2] and aborted == []
        assert await end_txn(p, B, 0, commit=False) == 0  # marker at 5
        assert (p.high_watermark, p.last_stable_offset) == (6, 6)
        offsets, aborted = read_committed(p)
        assert offsets == [0, 1, 2, 3, 4, 5] and aborted == [(B, 3)]
        # The abort went to the transaction index with the LSO of that moment.
        assert p.log.aborted == [(B, 3, 5, 6)]
        assert read_committed(p, 4) == ([4, 5], [(B, 3)])

    run(main)


def test_an_abort_records_the_lso_of_other_open_transactions(tmp_path: Path) -> None:
    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0")
        await produce(p, txn_batch(A, 0, 0))  # 0
        await produce(p, txn_batch(B, 0, 0))  # 1
        assert await end_txn(p, A, 0, commit=False) == 0  # 2: B still open from 1
        assert p.log.aborted == [(A, 0, 2, 1)]
        assert p.last_stable_offset == 1
        assert read_committed(p) == ([0], [(A, 0)])

    run(main)


def test_transaction_state_errors(tmp_path: Path) -> None:
    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0")
        assert (await produce(p, txn_batch(A, 3, 0)))[0] == 0
        # An idempotent batch while the producer's transaction is open.
        assert (await produce(p, txn_batch(A, 3, 1, txn=False)))[0] == ec.INVALID_TXN_STATE
        # A zombie of an older epoch.
        assert (await produce(p, txn_batch(A, 2, 0)))[0] == ec.INVALID_PRODUCER_EPOCH
        # A marker of an older epoch, then one of a stale coordinator.
        assert await end_txn(p, A, 2, commit=True, coord=5) == ec.INVALID_PRODUCER_EPOCH
        assert await end_txn(p, A, 3, commit=True, coord=5) == 0
        await produce(p, txn_batch(A, 3, 1))
        assert await end_txn(p, A, 3, commit=False, coord=4) == ec.TRANSACTION_COORDINATOR_FENCED
        assert p.producers.has_ongoing_transaction(A, 3)
        # Kafka 4.4: only a batch of the same epoch joins it without verification (with
        # transaction.version 2 the next transaction's epoch may come before this marker).
        assert not p.producers.has_ongoing_transaction(A, 4)
        # transaction.version 2 bumps the epoch at every end: the marker carries epoch + 1.
        assert await end_txn(p, A, 4, commit=False, coord=5) == 0
        entry = p.producers.producers[A]
        assert (entry.epoch, entry.coordinator_epoch, entry.in_transaction) == (4, 5, False)
        assert (await produce(p, txn_batch(A, 4, 0)))[0] == 0  # a new epoch from sequence 0
        assert p.log_end_offset == 5 and p.last_stable_offset == 4

    run(main)


def test_a_marker_without_a_transaction_changes_no_offset(tmp_path: Path) -> None:
    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0")
        await produce(p, txn_batch(-1, -1, -1, txn=False))
        assert await end_txn(p, A, 0, commit=False, coord=1) == 0
        assert (p.log_end_offset, p.high_watermark, p.last_stable_offset) == (2, 2, 2)
        assert p.log.aborted == []
        [batch] = p.log.read_batches(1)
        assert batch.is_control and batch.control_record() == ("ABORT", 1)
        assert batch.partition_leader_epoch == p.leader_epoch

    run(main)


def test_clients_may_not_write_control_records(tmp_path: Path) -> None:
    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0")
        result = await p.append_as_leader(marker(A, 0, commit=True), origin=CLIENT, required_acks=1)
        assert result.code == ec.INVALID_RECORD
        assert (
            result.message
            == "Clients are not allowed to write control records in topic partition t-0"
        )
        assert p.log_end_offset == 0
        # Through the inline path as well.
        result = p.append_as_leader_nowait(
            marker(A, 0, commit=True), origin=CLIENT, required_acks=1
        )
        assert result.code == ec.INVALID_RECORD and p.log_end_offset == 0
        # The coordinator's own control batch is a marker.
        result = await p.append_as_leader(
            marker(A, 0, commit=True), origin=COORDINATOR, required_acks=-1
        )
        assert result.code == 0 and p.log_end_offset == 1

    run(main)


def test_verification_guard_stops_a_batch_after_a_marker(tmp_path: Path) -> None:
    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0")
        # Verified, then the coordinator aborted (marker) before the append: refused.
        guard = p.producers.txns.start_verification(A, 0, 0)
        assert await end_txn(p, A, 0, commit=False) == 0
        code, _ = await produce(p, txn_batch(A, 0, 0), verification=guard)
        assert code == ec.INVALID_TXN_STATE
        # Verified and appended: the guard is used up, the transaction continues unguarded.
        guard = p.producers.txns.start_verification(A, 0, 0)
        # Not before the verified first batch of the transaction (Kafka's lowest sequence).
        code, _ = await produce(p, txn_batch(A, 0, 1), verification=guard)
        assert code == ec.OUT_OF_ORDER_SEQUENCE_NUMBER
        assert (await produce(p, txn_batch(A, 0, 0), verification=guard))[0] == 0
        assert A not in p.producers.txns.verification
        assert (await produce(p, txn_batch(A, 0, 1), verification=SENTINEL))[0] == 0
        # Ended: a batch that was never verified may not start the next transaction.
        assert await end_txn(p, A, 0, commit=True) == 0
        assert (await produce(p, txn_batch(A, 0, 2), verification=SENTINEL))[0] == (
            ec.INVALID_TXN_STATE
        )
        # Without verification (no coordinator to ask) it may.
        assert (await produce(p, txn_batch(A, 0, 2)))[0] == 0

    run(main)


def test_lso_waits_for_the_high_watermark_to_pass_the_marker(tmp_path: Path) -> None:
    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0", replicas=(ME, 2))
        await produce(p, txn_batch(A, 0, 0))  # 0
        await produce(p, txn_batch(B, 0, 0))  # 1
        p.update_follower_fetch_state(2, 2)
        assert (p.high_watermark, p.last_stable_offset) == (2, 0)
        assert await end_txn(p, A, 0, commit=True) == 0  # 2
        # Decided but not replicated: still unstable.
        assert p.producers.txns.first_undecided_offset() == 1
        assert p.last_stable_offset == 0
        p.update_follower_fetch_state(2, 3)
        assert (p.high_watermark, p.last_stable_offset) == (3, 1)

    run(main)


def test_a_follower_applies_markers_and_indexes_aborts(tmp_path: Path) -> None:
    async def main() -> None:
        leader = await txn_partition(tmp_path / "l" / "t-0")
        await produce(leader, txn_batch(A, 0, 0, 2))  # 0-1
        await produce(leader, txn_batch(B, 0, 0))  # 2
        assert await end_txn(leader, A, 0, commit=False, coord=7) == 0  # 3
        follower = await txn_partition(tmp_path / "f" / "t-0", leader=False)
        data = b"".join(b.to_bytes() for b in leader.log.read_batches(0))
        await follower.append_as_follower(data)
        assert follower.log.aborted == leader.log.aborted == [(A, 0, 3, 2)]
        assert follower.producers.has_ongoing_transaction(B, 0)
        assert follower.producers.producers[A].coordinator_epoch == 7
        follower.update_high_watermark_as_follower(4)
        assert follower.last_stable_offset == 2
        # Truncation rebuilds the state from what is left.
        await follower.truncate_to(3)
        assert follower.producers.has_ongoing_transaction(A, 0)
        assert follower.last_stable_offset == 0

    run(main)


def test_replay_restores_open_and_unreplicated_transactions(tmp_path: Path) -> None:
    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0")
        await produce(p, txn_batch(A, 0, 0))  # 0
        await produce(p, txn_batch(B, 0, 0))  # 1
        assert await end_txn(p, A, 0, commit=True, coord=2) == 0  # 2
        state = await trio.to_thread.run_sync(load_producer_state, p.log)
        assert state.txns.ongoing == {1: B}
        assert state.txns.unreplicated == {0: (A, 2)}  # until the HW passes 2
        state.on_high_watermark(3)
        assert state.first_unstable_offset() == 1
        assert state.producers[A].coordinator_epoch == 2

    run(main)


def test_snapshot_keeps_open_transactions_and_coordinator_epochs(tmp_path: Path) -> None:
    log = Log(str(tmp_path / "t-0"), LogConfig())
    state = ProducerState(log.dir)
    b = BatchBuilder(producer_id=A, producer_epoch=1, base_sequence=0, is_transactional=True)
    b.append(b"x")
    b.append(b"y")
    info = log.append(b.build())
    state.appended(info)
    state.apply_marker(Marker(B, 3, 9, True, 5, 1234))  # a producer known by its marker only
    entries = state.snapshot_entries()
    by_pid = {e.producer_id: e for e in entries}
    assert by_pid[A].current_txn_first_offset == 0 and by_pid[A].last_offset == 1
    assert by_pid[B] == snap.SnapshotEntry(B, 3, -1, -1, 0, 1234, 9, -1)
    state.write_snapshot(2, entries)
    loaded = load_producer_state(log)
    assert loaded.txns.ongoing == {0: A}
    assert loaded.producers[B].coordinator_epoch == 9 and not loaded.producers[B].batches
    assert loaded.producers[A].last_seq == 1
    assert sorted(loaded.snapshot_entries(), key=lambda e: e.producer_id) == sorted(
        entries, key=lambda e: e.producer_id
    )
    log.close()


@pytest.mark.parametrize("commit", [True, False])
@pytest.mark.parametrize("flush_messages", [None, 1], ids=["inline", "fsynced-in-a-thread"])
def test_marker_batch_is_kafkas(tmp_path: Path, commit: bool, flush_messages: int | None) -> None:
    """The marker written is one control record with the coordinator epoch, at the log end
    (in the trio thread, or in a worker thread when every append is fsynced)."""

    async def main() -> None:
        config = LogConfig(flush_messages=flush_messages)
        p = await txn_partition(tmp_path / "t-0", config=config)
        await produce(p, txn_batch(A, 0, 0))
        result = await p.append_txn_marker(A, 0, 3, commit)
        assert result.code == 0 and result.info is not None and result.info.first_offset == 1
        [batch] = p.log.read_batches(1)
        header = read_batch_header(batch.to_bytes())
        assert header.is_control and header.is_transactional and header.producer_id == A
        assert batch.control_record() == ("COMMIT" if commit else "ABORT", 3)
        assert not p.producers.has_ongoing_transaction(A, 0)
        assert p.last_stable_offset == p.high_watermark == 2

    run(main)


def test_transaction_version_2_markers_bump_the_epoch(tmp_path: Path) -> None:
    """Kafka 4.4: with transaction.version 2 a marker must carry an epoch above the
    producer's, except a retry of the marker just written."""

    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0")
        await produce(p, txn_batch(A, 3, 0))
        fenced = await p.append_txn_marker(A, 3, 0, True, transaction_version=2)
        assert fenced.code == ec.INVALID_PRODUCER_EPOCH
        assert "<= the last seen epoch 3" in (fenced.message or "")
        ended = await p.append_txn_marker(A, 4, 0, True, transaction_version=2)
        assert ended.code == 0 and not p.producers.has_ongoing_transaction(A, 4)
        # The coordinator retries it (its answer was lost): written again, a no-op.
        retried = await p.append_txn_marker(A, 4, 0, True, transaction_version=2)
        assert retried.code == 0 and p.log_end_offset == 3
        # Once the next transaction has data at that epoch, the old epoch is fenced.
        await produce(p, txn_batch(A, 4, 0))
        again = await p.append_txn_marker(A, 4, 0, False, transaction_version=2)
        assert again.code == ec.INVALID_PRODUCER_EPOCH
        # Before transaction.version 2 the same epoch ends the transaction.
        assert (await p.append_txn_marker(A, 4, 0, False)).code == 0

    run(main)


def test_replay_rebuilds_index_entries_a_crash_lost(tmp_path: Path) -> None:
    """An ABORT marker in the log without its .txnindex entry (lost between the two writes):
    loading the producer state writes the entry, so read_committed still drops the records."""

    async def main() -> None:
        p = await txn_partition(tmp_path / "t-0")
        await produce(p, txn_batch(A, 0, 0, 2))  # 0-1
        assert await end_txn(p, A, 0, commit=False) == 0  # 2
        await produce(p, txn_batch(B, 0, 0))  # 3
        assert await end_txn(p, B, 0, commit=False) == 0  # 4
        assert p.log.collect_aborted_txns(0, 5) == [(A, 0), (B, 3)]
        p.log.truncate_to(5)  # flush what the index holds
        index = next((tmp_path / "t-0").glob("*.txnindex"))
        index.write_bytes(index.read_bytes()[:34])  # B's entry lost
        reopened = Log(str(tmp_path / "t-0"), LogConfig())
        assert reopened.collect_aborted_txns(0, 5) == [(A, 0)]
        state = load_producer_state(reopened)
        assert reopened.collect_aborted_txns(0, 5) == [(A, 0), (B, 3)]
        assert state.txns.ongoing == {}
        assert load_producer_state(reopened) is not None  # no second entry on a second load
        assert reopened.collect_aborted_txns(0, 5) == [(A, 0), (B, 3)]

    run(main)
