"""Transactional offset commits on the group side: the pending store, the coordinator's
transactional writes and markers (complete_transaction), the replay of transactional and
control batches after a restart, and OffsetFetch's require_stable (in-process broker, no
client; tests/groups_clients/test_txn_offsets_clients.py has the real clients)."""

from __future__ import annotations

from pathlib import Path

import trio

from ferrokafka.groups.coordinator import OFFSETS_TOPIC, GroupCoordinator
from ferrokafka.groups.offsets import CommittedOffset, OffsetStore, offset_record
from ferrokafka.partition import AppendOrigin
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import BatchBuilder, build_control_batch
from ferrokafka.testing import open_broker

TEST_TIMEOUT_S = 60
OVERRIDES = {"offsets.topic.num.partitions": 2, "offsets.topic.segment.bytes": 1 << 20}


def _offset(value: int) -> CommittedOffset:
    return CommittedOffset(value, -1, "", 1)


# -- the store -------------------------------------------------------------------------------


def test_pending_offsets_are_invisible_until_commit() -> None:
    store = OffsetStore()
    store.put_pending((0, 7), 0, "g", "t", 0, _offset(5))
    assert store.get("g", "t", 0) is None
    assert store.has_pending("g", "t", 0) and not store.has_pending("g", "t", 1)
    assert store.has_offsets("g") and list(store.group_ids()) == ["g"]
    assert store.end_transaction((0, 7), commit=True) == 1
    assert store.get("g", "t", 0) == _offset(5)
    assert not store.has_pending("g", "t", 0) and not store.pending.has_open("g")


def test_abort_drops_pending_offsets() -> None:
    store = OffsetStore()
    store.put("g", "t", 0, _offset(1))
    store.put_pending((0, 7), 0, "g", "t", 0, _offset(5))
    assert store.end_transaction((0, 7), commit=False) == 0
    assert store.get("g", "t", 0) == _offset(1)
    assert not store.pending.has_open("g")


def test_the_newest_record_wins_at_commit() -> None:
    """Kafka's replayEndTransactionMarker: a pending offset replaces the committed one only
    if its record came after it."""
    store = OffsetStore()
    store.put_pending((0, 7), 0, "g", "t", 0, _offset(5))
    store.put("g", "t", 0, _offset(9))  # a regular commit after the transactional one
    store.put_pending((0, 7), 0, "g", "t", 1, _offset(6))
    store.put("g", "t", 1, _offset(2))  # after it too
    store.put("g", "t", 2, _offset(3))
    store.put_pending((0, 7), 0, "g", "t", 2, _offset(8))  # this one is newer
    assert store.end_transaction((0, 7), commit=True) == 1
    assert [store.get("g", "t", p) for p in range(3)] == [_offset(9), _offset(2), _offset(8)]


def test_an_earlier_transaction_commits_under_a_later_one() -> None:
    store = OffsetStore()
    store.put_pending((0, 1), 0, "g", "t", 0, _offset(10))
    store.put_pending((0, 2), 0, "g", "t", 0, _offset(20))
    assert store.end_transaction((0, 2), commit=True) == 1
    assert store.has_pending("g", "t", 0)  # producer 1's is still open
    assert store.end_transaction((0, 1), commit=True) == 0  # written before producer 2's
    assert store.get("g", "t", 0) == _offset(20)


def test_a_marker_completes_its_own_partition_only() -> None:
    store = OffsetStore()
    store.put_pending((0, 7), 0, "a", "t", 0, _offset(1))
    store.put_pending((1, 7), 0, "b", "t", 0, _offset(2))
    store.end_transaction((1, 7), commit=True)
    assert store.get("b", "t", 0) == _offset(2)
    assert store.get("a", "t", 0) is None and store.has_pending("a", "t", 0)
    assert store.pending.is_ongoing((0, 7), 0) and not store.pending.is_ongoing((0, 7), 1)
    assert not store.pending.is_ongoing((1, 7), 0)


def test_tombstones_and_deletion_remove_pending_offsets() -> None:
    store = OffsetStore()
    store.put_pending((0, 7), 0, "g", "t", 0, _offset(1))
    store.put_pending((0, 7), 0, "g", "t", 1, _offset(1))
    store.remove("g", "t", 0)  # a tombstone (OffsetDelete)
    assert not store.has_pending("g", "t", 0) and store.has_pending("g", "t", 1)
    assert store.pending.partitions_of("g") == {("t", 1)}
    store.remove_group("g")  # DeleteGroups: the transaction stays open until its marker
    assert store.pending.partitions_of("g") == set() and store.pending.has_open("g")
    assert store.end_transaction((0, 7), commit=True) == 0
    assert store.get("g", "t", 1) is None and not store.has_offsets("g")


def test_unload_forgets_the_partition_s_transactions() -> None:
    store = OffsetStore()
    store.put_pending((0, 7), 0, "g", "t", 0, _offset(1))
    store.forget_group("g")
    store.pending.drop_partition(0)
    assert not store.has_offsets("g") and len(store.pending) == 0


# -- the coordinator, in-process ---------------------------------------------------------------


async def _loaded(coordinator: GroupCoordinator) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        while coordinator.error_code() != 0:
            await trio.sleep(0.01)


async def _txn_commit(
    coordinator: GroupCoordinator, group: str, pid: int, epoch: int, offsets: dict[int, int]
) -> int:
    """What the TxnOffsetCommit handler does: a transactional batch, applied as pending."""
    txn = (coordinator.partition_for(group), pid)
    committed = {p: _offset(o) for p, o in offsets.items()}
    records = [offset_record(group, "t", p, c) for p, c in committed.items()]

    def apply() -> None:
        for p, c in committed.items():
            coordinator.offsets.put_pending(txn, epoch, group, "t", p, c)

    return await coordinator.write(group, records, apply, producer_id=pid, producer_epoch=epoch)


def test_commit_abort_and_reload(tmp_path: Path) -> None:
    trio.run(_commit_abort_and_reload, tmp_path)


async def _commit_abort_and_reload(tmp_path: Path) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        async with open_broker(tmp_path, OVERRIDES) as running:
            coordinator = running.broker.node.group_coordinator
            assert await coordinator.ensure_topic() == 0
            index = coordinator.partition_for("g")
            assert await _txn_commit(coordinator, "g", 1000, 0, {0: 10, 1: 11}) == 0
            assert coordinator.offsets.get("g", "t", 0) is None
            assert coordinator.offsets.has_pending("g", "t", 0)
            # The second commit of the same transaction (base sequence 0 again) is written too.
            assert await _txn_commit(coordinator, "g", 1000, 0, {1: 12}) == 0
            assert await coordinator.complete_transaction(index, 1000, 0, 5, True) == 0
            assert coordinator.offsets.get("g", "t", 0).offset == 10
            assert coordinator.offsets.get("g", "t", 1).offset == 12
            # An aborted transaction leaves the committed offsets alone.
            assert await _txn_commit(coordinator, "g", 1000, 1, {0: 99}) == 0
            assert await coordinator.complete_transaction(index, 1000, 1, 5, False) == 0
            assert coordinator.offsets.get("g", "t", 0).offset == 10
            # A transaction without a marker yet.
            assert await _txn_commit(coordinator, "g", 2000, 0, {0: 50}) == 0
            batches = running.partition(OFFSETS_TOPIC, index).log.read_batches(0)
            kinds = [(b.producer_id, b.is_transactional, b.control_record()) for b in batches]
            assert kinds == [
                (1000, True, None),
                (1000, True, None),
                (1000, True, ("COMMIT", 5)),
                (1000, True, None),
                (1000, True, ("ABORT", 5)),
                (2000, True, None),
            ]
            # A partition this broker does not coordinate for: the marker is refused.
            other = 1 - index
            assert await coordinator.complete_transaction(other, 3000, 0, 5, True) == 0
            assert await coordinator.complete_transaction(7, 3000, 0, 5, True) == (
                ec.NOT_COORDINATOR
            )
        async with open_broker(tmp_path, OVERRIDES) as running:
            coordinator = running.broker.node.group_coordinator
            await _loaded(coordinator)
            offsets = coordinator.offsets
            assert offsets.get("g", "t", 0).offset == 10
            assert offsets.get("g", "t", 1).offset == 12
            assert offsets.has_pending("g", "t", 0)  # producer 2000's marker is missing
            assert offsets.pending.is_ongoing((index, 2000), 0)
            assert coordinator.get_group("g") is not None  # a simple group, as Kafka's replay
            # The marker arrives after the restart.
            assert await coordinator.complete_transaction(index, 2000, 0, 5, True) == 0
            assert offsets.get("g", "t", 0).offset == 50
            assert not offsets.has_pending("g", "t", 0)
        async with open_broker(tmp_path, OVERRIDES) as running:
            coordinator = running.broker.node.group_coordinator
            await _loaded(coordinator)
            assert coordinator.offsets.get("g", "t", 0).offset == 50
            assert len(coordinator.offsets.pending) == 0


def test_replay_of_batches_a_producer_wrote(tmp_path: Path) -> None:
    """Batches built as Kafka's coordinator writes them (BatchBuilder, build_control_batch),
    appended straight to the log, are replayed in log order after a restart, with a regular
    commit between a transactional one and its marker winning."""
    trio.run(_replay_of_batches, tmp_path)


async def _replay_of_batches(tmp_path: Path) -> None:
    with trio.fail_after(TEST_TIMEOUT_S):
        async with open_broker(tmp_path, OVERRIDES) as running:
            coordinator = running.broker.node.group_coordinator
            assert await coordinator.ensure_topic() == 0
            index = coordinator.partition_for("r")
            partition = running.partition(OFFSETS_TOPIC, index)

            def txn_batch(pid: int, offsets: dict[int, int]) -> bytes:
                builder = BatchBuilder(
                    producer_id=pid, producer_epoch=0, base_sequence=0, is_transactional=True
                )
                for p, o in offsets.items():
                    key, value = offset_record("r", "t", p, _offset(o))
                    builder.append(value, key=key)
                return builder.build()

            regular = BatchBuilder()
            key, value = offset_record("r", "t", 1, _offset(77))
            regular.append(value, key=key)
            for batch in (
                txn_batch(1, {0: 10, 1: 11}),
                txn_batch(2, {2: 20}),
                regular.build(),  # after producer 1's offset of partition 1: it wins
                build_control_batch(commit=True, producer_id=1, producer_epoch=0),
                build_control_batch(commit=False, producer_id=2, producer_epoch=0),
                txn_batch(3, {0: 30}),
            ):
                result = await partition.append_as_leader(
                    batch, origin=AppendOrigin.COORDINATOR, required_acks=1
                )
                assert result.code == 0, result
        async with open_broker(tmp_path, OVERRIDES) as running:
            coordinator = running.broker.node.group_coordinator
            await _loaded(coordinator)
            offsets = coordinator.offsets
            assert offsets.get("r", "t", 0).offset == 10
            assert offsets.get("r", "t", 1).offset == 77
            assert offsets.get("r", "t", 2) is None
            assert offsets.has_pending("r", "t", 0) and offsets.pending.is_ongoing((index, 3), 0)


def test_expiry_keeps_offsets_a_transaction_holds(tmp_path: Path) -> None:
    trio.run(_expiry_keeps_pending, tmp_path)


async def _expiry_keeps_pending(tmp_path: Path) -> None:
    overrides = {**OVERRIDES, "offsets.retention.minutes": 1}
    with trio.fail_after(TEST_TIMEOUT_S):
        async with open_broker(tmp_path, overrides) as running:
            coordinator = running.broker.node.group_coordinator
            assert await coordinator.ensure_topic() == 0
            assert coordinator.simple_group_factory is not None
            coordinator.add_group(coordinator.simple_group_factory("x"))
            index = coordinator.partition_for("x")
            old = CommittedOffset(1, -1, "", coordinator.now_ms() - 3_600_000)
            records = [offset_record("x", "t", p, old) for p in (0, 1)]

            def apply() -> None:
                for p in (0, 1):
                    coordinator.offsets.put("x", "t", p, old)

            assert await coordinator.write("x", records, apply) == 0
            assert await _txn_commit(coordinator, "x", 5, 0, {0: 9}) == 0
            assert await coordinator.expire_offsets() == 1  # partition 1: 0 is pending
            assert coordinator.offsets.get("x", "t", 0) is not None
            assert coordinator.offsets.get("x", "t", 1) is None
            assert await coordinator.complete_transaction(index, 5, 0, 0, False) == 0
            assert await _txn_commit(coordinator, "x", 6, 0, {2: 8}) == 0
            assert await coordinator.expire_offsets() == 1  # partition 0
            assert coordinator.offsets.of_group("x") == {}
            assert coordinator.get_group("x") is not None  # the open transaction keeps it
            assert await coordinator.complete_transaction(index, 6, 0, 0, True) == 0
            assert coordinator.offsets.get("x", "t", 2).offset == 8
