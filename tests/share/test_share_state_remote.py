"""The durable persister's remote path: in a two-broker in-process cluster, a share-partition
whose ``__share_group_state`` partition the other broker leads is initialized, written and
read through the state RPCs to it (and the same state read locally there)."""

from __future__ import annotations

import uuid
from pathlib import Path

import trio

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.share.coordinator import SHARE_STATE_TOPIC
from ferrokafka.share.persister import ACKNOWLEDGED, AVAILABLE, SharePartitionKey, StateBatch
from ferrokafka.share.state_persister import CoordinatorPersister
from ferrokafka.testing import run_cluster

OVERRIDES = {"share.coordinator.state.topic.num.partitions": 4}
KEYS_TRIED_MAX = 100  # keys hash to 4 partitions: one of the first few lands on broker 2


def test_calls_reach_the_coordinator_on_another_broker(tmp_path: Path) -> None:
    with run_cluster(2, tmp_path / "c", OVERRIDES) as cluster:
        one, two = (cluster.broker(i).broker.node for i in (1, 2))

        async def scenario() -> None:
            with trio.fail_after(60):
                created = await one.controller_channel.create_topics(
                    CreateTopicsRequest(
                        topics=[
                            CreateTopicsRequest.CreatableTopic(
                                name="q", num_partitions=1, replication_factor=1
                            )
                        ],
                        timeout_ms=10_000,
                    )
                )
                topic_id: uuid.UUID = created.topics[0].topic_id
                persister = one.share_persister
                assert isinstance(persister, CoordinatorPersister)
                assert one.share_coordinator is not None
                assert await one.share_coordinator.ensure_topic() == ec.NONE
                key = remote_key(one, topic_id, other=2)
                assert await persister.initialize(key, 1, 5) == ec.NONE
                batch = StateBatch(5, 9, ACKNOWLEDGED, 1)
                assert await persister.write(key, 1, 0, 5, (batch,)) == ec.NONE
                state = await persister.read(key, 1)
                assert (state.error_code, state.start_offset, state.batches) == (0, 5, (batch,))
                assert (await persister.read(key, 0)).error_code == ec.FENCED_LEADER_EPOCH
                # Broker 2 holds it: its own persister reads it locally.
                local = await two.share_persister.read(key, 1)
                assert (local.error_code, local.batches) == (0, (batch,))
                assert two.share_coordinator is not None
                assert two.share_coordinator.stored(key) is not None
                assert one.share_coordinator.stored(key) is None
                summary = await persister.read_summary(key, 1)
                assert (summary.error_code, summary.start_offset, summary.leader_epoch) == (
                    0, 5, 1,
                )  # fmt: skip
                assert AVAILABLE not in {b.delivery_state for b in state.batches}
                await persister.aclose()

        trio.from_thread.run(scenario, trio_token=cluster.trio_token)


def remote_key(node: object, topic_id: uuid.UUID, *, other: int) -> SharePartitionKey:
    """A key of ``topic_id`` whose state partition ``other`` leads."""
    coordinator = node.share_coordinator  # type: ignore[attr-defined]
    image = node.image  # type: ignore[attr-defined]
    for i in range(KEYS_TRIED_MAX):
        key = SharePartitionKey(f"group-{i}", topic_id, 0)
        part = image.partition(SHARE_STATE_TOPIC, coordinator.partition_for(key))
        if part is not None and part.leader == other:
            return key
    raise AssertionError(f"no key of the first {KEYS_TRIED_MAX} lands on broker {other}")
