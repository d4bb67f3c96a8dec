"""acks=all and a retried batch (the producer state's duplicate): answered with the original
offsets only once the high watermark covers them, as Kafka's DelayedProduce waits for a
duplicate as for a new append. Before, a duplicate was answered at once: a leader cut off
by a link down took a batch, the client's retry reached it after the link came back (before
it had applied the metadata electing another leader), and the retry was acknowledged with
offsets no other replica had — lost when the leader truncated (fault-injection seeds 2 and
5: ``conflicting-acks``)."""

from __future__ import annotations

import uuid
from pathlib import Path

import trio

from ferrokafka.partition import AppendOrigin, Partition
from ferrokafka.partition.leader_epochs import load_leader_epoch_cache
from ferrokafka.partition.partition import PartitionState
from ferrokafka.partition.producer_state import load_producer_state
from ferrokafka.protocol import error_codes as ec
from ferrokafka.server.handlers.produce import _after_wait, _last_offset
from ferrokafka.storage import BatchBuilder, Log, LogConfig

ME = 1
FOLLOWER = 2


def idempotent_batch() -> bytes:
    builder = BatchBuilder(producer_id=9, producer_epoch=0, base_sequence=0)
    for i in range(3):
        builder.append(b"v%d" % i, key=b"k")
    return bytes(builder.build())


def test_a_duplicate_waits_for_the_high_watermark_like_an_append(tmp_path: Path) -> None:
    async def main() -> None:
        log = Log(str(tmp_path / "t-0"), LogConfig())
        partition = Partition(
            "t",
            0,
            uuid.uuid4(),
            log,
            load_producer_state(log),
            load_leader_epoch_cache(log),
            local_broker_id=ME,
        )
        state = PartitionState(ME, 0, 0, (ME, FOLLOWER), (ME, FOLLOWER))
        await partition.make_leader(state)
        batch = idempotent_batch()
        first = await partition.append_as_leader(
            batch, origin=AppendOrigin.CLIENT, required_acks=-1
        )
        assert first.code == ec.NONE and first.info is not None
        retry = await partition.append_as_leader(
            batch, origin=AppendOrigin.CLIENT, required_acks=-1
        )
        assert retry.code == ec.NONE and retry.duplicate is not None and retry.info is None
        # The follower has fetched nothing: neither is committed, both wait for offset 2.
        assert partition.high_watermark == 0
        assert _last_offset(first) == _last_offset(retry) == 2
        assert _after_wait(partition, retry).code == ec.REQUEST_TIMED_OUT
        partition.update_follower_fetch_state(FOLLOWER, 3, current_leader_epoch=0)
        assert partition.high_watermark == 3
        assert _after_wait(partition, retry) is retry  # committed: the original offsets
        partition.make_follower(PartitionState(FOLLOWER, 1, 1, (ME, FOLLOWER), (FOLLOWER,)))
        assert _after_wait(partition, retry).code == ec.NOT_LEADER_OR_FOLLOWER

    trio.run(main)
