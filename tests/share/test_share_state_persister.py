"""The batch combiner (Kafka 4.4's PersisterStateBatchCombiner), the in-memory persister's
merge now following it, and the durable persister (``node.share_persister`` of a broker)
satisfying the contract's scenarios of tests/unit/test_share_persister.py with 4.4's rules."""

from __future__ import annotations

import uuid
from pathlib import Path

import trio

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.share.combiner import combine_state_batches
from ferrokafka.share.persister import (
    ACKNOWLEDGED,
    ARCHIVED,
    AVAILABLE,
    InMemoryPersister,
    SharePartitionKey,
    StateBatch,
)
from ferrokafka.share.state_persister import CoordinatorPersister
from ferrokafka.testing import open_broker

B = StateBatch


def test_higher_delivery_count_wins_whichever_is_newer() -> None:
    old = [B(10, 19, ARCHIVED, 2)]
    # A newer batch with a lower delivery count does not override (Kafka 4.4).
    assert combine_state_batches(old, [B(12, 14, AVAILABLE, 1)], 10) == [B(10, 19, ARCHIVED, 2)]
    # Same count: the higher state wins; adjacent equal runs coalesce.
    got = combine_state_batches([B(10, 19, AVAILABLE, 1)], [B(12, 14, ACKNOWLEDGED, 1)], 10)
    assert got == [B(10, 11, AVAILABLE, 1), B(12, 14, ACKNOWLEDGED, 1), B(15, 19, AVAILABLE, 1)]
    got = combine_state_batches([B(0, 4, ACKNOWLEDGED, 1)], [B(5, 9, ACKNOWLEDGED, 1)], -1)
    assert got == [B(0, 9, ACKNOWLEDGED, 1)]


def test_start_offset_prunes_and_cuts() -> None:
    got = combine_state_batches([B(0, 4, ARCHIVED, 1), B(5, 9, ACKNOWLEDGED, 1)], [], 7)
    assert got == [B(7, 9, ACKNOWLEDGED, 1)]
    assert combine_state_batches([B(0, 4, ARCHIVED, 1)], [], 5) == []


def test_in_memory_merge_follows_kafka() -> None:
    """The contract's in-memory persister used to let the newer batch win an overlap."""
    key = SharePartitionKey("g", uuid.UUID(int=1), 0)

    async def main() -> None:
        p = InMemoryPersister()
        assert await p.initialize(key, 1, 10) == ec.NONE
        assert await p.write(key, 1, 0, 10, (B(10, 19, ARCHIVED, 2),)) == ec.NONE
        assert await p.write(key, 1, 0, 10, (B(12, 14, AVAILABLE, 1),)) == ec.NONE
        assert (await p.read(key, 0)).batches == (B(10, 19, ARCHIVED, 2),)

    trio.run(main)


def test_durable_persister_contract_scenarios(tmp_path: Path) -> None:
    """tests/unit/test_share_persister.py's scenario through node.share_persister (the
    coordinator in-process), with Kafka 4.4's answers where they differ from the in-memory
    one: reading before initialize is INVALID_REQUEST, a summary of nothing is start -1."""

    async def main() -> None:
        overrides = {"share.coordinator.state.topic.num.partitions": 2}
        with trio.fail_after(60):
            await scenario(overrides)

    async def scenario(overrides: dict[str, int]) -> None:
        async with open_broker(tmp_path / "b", overrides) as broker:
            node = broker.broker.node
            p = node.share_persister
            assert isinstance(p, CoordinatorPersister)
            created = await node.controller_channel.create_topics(_create("t"))
            key = SharePartitionKey("g", created.topics[0].topic_id, 0)
            assert (await p.read(key, 0)).error_code == ec.INVALID_REQUEST
            assert (await p.read_summary(key, 0)).start_offset == -1
            assert await p.initialize(key, 1, -1) == ec.NONE
            assert await p.write(key, 1, 3, 10, (B(10, 20, AVAILABLE, 1),)) == ec.NONE
            assert await p.write(key, 1, 3, 10, (B(12, 14, ACKNOWLEDGED, 1),)) == ec.NONE
            state = await p.read(key, 3)
            assert state.start_offset == 10
            assert state.batches == (
                B(10, 11, AVAILABLE, 1), B(12, 14, ACKNOWLEDGED, 1), B(15, 20, AVAILABLE, 1),
            )  # fmt: skip
            assert await p.write(key, 0, 3, 10, ()) == ec.FENCED_STATE_EPOCH
            assert await p.write(key, 1, 2, 10, ()) == ec.FENCED_LEADER_EPOCH
            assert (await p.read(key, 2)).error_code == ec.FENCED_LEADER_EPOCH
            assert await p.write(key, 1, 3, 15, ()) == ec.NONE
            assert [b.first_offset for b in (await p.read(key, 3)).batches] == [15]
            assert (await p.read_summary(key, 3)).start_offset == 15
            assert await p.delete(key) == ec.NONE
            assert (await p.read_summary(key, 3)).start_offset == -1
            await p.aclose()

    trio.run(main)


def _create(name: str) -> CreateTopicsRequest:
    return CreateTopicsRequest(
        topics=[
            CreateTopicsRequest.CreatableTopic(name=name, num_partitions=1, replication_factor=1)
        ],
        timeout_ms=10_000,
    )


def test_pruning_keeps_what_the_latest_snapshots_need(tmp_path: Path) -> None:
    """Every write a snapshot (records.per.snapshot 0): the pruning job deletes the records
    below the key's latest snapshot, and a restarted broker reads the state back from it."""
    overrides = {
        "share.coordinator.state.topic.num.partitions": 1,
        "share.coordinator.snapshot.update.records.per.snapshot": 0,
        "share.coordinator.state.topic.prune.interval.ms": 50,
    }
    acked = B(3, 4, ACKNOWLEDGED, 1)

    async def first() -> uuid.UUID:
        async with open_broker(tmp_path / "b", overrides) as broker:
            node = broker.broker.node
            created = await node.controller_channel.create_topics(_create("t"))
            key = SharePartitionKey("g", created.topics[0].topic_id, 0)
            p = node.share_persister
            assert await p.initialize(key, 1, 0) == ec.NONE  # offset 0
            assert await p.write(key, 1, 0, 0, (B(0, 2, ARCHIVED, 1),)) == ec.NONE  # 1
            assert await p.write(key, 1, 0, 3, (acked,)) == ec.NONE  # 2: the latest snapshot
            log = node.replicas.partition("__share_group_state", 0)
            assert log is not None
            while log.log_start_offset < 2:  # bounded by the caller's fail_after
                await trio.sleep(0.05)
            assert log.log_start_offset == 2
            return key.topic_id

    async def second(topic_id: uuid.UUID) -> None:
        async with open_broker(tmp_path / "b", overrides) as broker:
            p = broker.broker.node.share_persister
            state = await p.read(SharePartitionKey("g", topic_id, 0), 1)
            assert (state.error_code, state.start_offset, state.batches) == (0, 3, (acked,))

    async def main() -> None:
        with trio.fail_after(60):
            await second(await first())

    trio.run(main)
