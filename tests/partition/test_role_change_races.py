"""A partition changing role while an append waits for its lock (the fetcher's or a
client's): what Kafka's locks make impossible must not happen here either.

* A follower that becomes leader while its fetcher is applying an answer of the old leader:
  the stale answer is not appended after the new epoch started (else the epoch cache says the
  new epoch starts below records of the old one, and consumers and followers asking
  OffsetForLeaderEpoch or fetching with the old epoch are told to truncate records that are
  there: a consumer then reads them twice).
* A leader that becomes a follower while a client's append waits for the lock: refused
  NOT_LEADER_OR_FOLLOWER, nothing written under the new leader's epoch.
"""

from __future__ import annotations

from pathlib import Path

import trio
from test_replica_manager import ME, apply, image, manager, region_bytes

from ferrokafka.partition import AppendOrigin, PartitionState
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import BatchBuilder

NEW_EPOCH = 6


def records(count: int, producer_id: int = 42) -> bytes:
    builder = BatchBuilder(producer_id=producer_id, producer_epoch=0, base_sequence=0)
    for i in range(count):
        builder.append(b"v%d" % i, key=b"k")
    return builder.build()


def test_a_stale_answer_is_not_appended_once_the_follower_leads(tmp_path: Path) -> None:
    async def main() -> None:
        leader_side = manager(tmp_path / "leader")
        await apply(leader_side, image())
        old_leader = leader_side.partition("orders", 0)
        assert old_leader is not None
        await old_leader.append_as_leader(records(2), origin=AppendOrigin.CLIENT, required_acks=1)
        fetched = b"".join(region_bytes(r) for r in old_leader.log.read(0, 1 << 20).regions)

        replicas = manager(tmp_path / "me")
        await apply(replicas, image(orders_leader=2))  # broker 1 follows orders-0, epoch 5
        partition = replicas.partition("orders", 0)
        assert partition is not None and partition.follows_at(5)
        appended: list[object] = []

        async def fetcher_applies() -> None:
            appended.append(await partition.append_as_follower(fetched, leader_epoch=5))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetcher_applies)
            # The metadata makes broker 1 leader before the fetcher's task got the lock.
            await partition.make_leader(PartitionState(ME, NEW_EPOCH, 8, (ME, 2), (ME, 2)))
        assert appended == [None]
        assert partition.log_end_offset == 0
        assert [(e.epoch, e.start_offset) for e in partition.epochs.entries] == [(NEW_EPOCH, 0)]
        assert partition.leader_epoch_start_offset == 0
        assert 42 not in partition.producers.producers

    trio.run(main)


def test_an_answer_being_applied_finishes_before_the_new_epoch_starts(tmp_path: Path) -> None:
    """The fetcher holds the append lock (its write in a worker thread) when the metadata
    makes the replica leader: the new epoch starts after the fetched records."""

    async def main() -> None:
        leader_side = manager(tmp_path / "leader")
        await apply(leader_side, image())
        old_leader = leader_side.partition("orders", 0)
        assert old_leader is not None
        await old_leader.append_as_leader(records(3), origin=AppendOrigin.CLIENT, required_acks=1)
        fetched = b"".join(region_bytes(r) for r in old_leader.log.read(0, 1 << 20).regions)
        replicas = manager(tmp_path / "me")
        await apply(replicas, image(orders_leader=2))
        partition = replicas.partition("orders", 0)
        assert partition is not None
        async with trio.open_nursery() as nursery:
            async with partition.append_lock:  # the fetcher's append in progress
                nursery.start_soon(
                    partition.make_leader, PartitionState(ME, NEW_EPOCH, 8, (ME, 2), (ME, 2))
                )
                await trio.testing.wait_all_tasks_blocked()
                assert not partition.is_leader  # make_leader waits for the append
                partition.log.append_as_follower(fetched)
                partition.producers.apply(partition.log.read_batches(0, 1 << 20)[0])
        assert partition.is_leader
        assert partition.leader_epoch_start_offset == 3
        assert partition.epochs.entries[-1].epoch == NEW_EPOCH
        assert partition.epochs.entries[-1].start_offset == 3

    trio.run(main)


def test_a_client_append_waiting_while_leadership_moves_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        replicas = manager(tmp_path / "me")
        await apply(replicas, image())
        partition = replicas.partition("orders", 0)
        assert partition is not None and partition.is_leader
        results = []

        async def client_appends() -> None:
            results.append(
                await partition.append_as_leader(
                    records(2), origin=AppendOrigin.CLIENT, required_acks=1
                )
            )

        async with trio.open_nursery() as nursery:
            async with partition.append_lock:  # another append in a worker thread
                nursery.start_soon(client_appends)
                await trio.testing.wait_all_tasks_blocked()
                partition.make_follower(PartitionState(2, NEW_EPOCH, 8, (ME, 2), (ME, 2)))
        assert [r.code for r in results] == [ec.NOT_LEADER_OR_FOLLOWER]
        assert partition.log_end_offset == 0

    trio.run(main)
