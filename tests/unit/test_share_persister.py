"""The in-memory share-state persister: Kafka's fencing and batch merging."""

from __future__ import annotations

import uuid

import trio

from ferrokafka.protocol import error_codes as ec
from ferrokafka.share.persister import (
    ACKNOWLEDGED,
    AVAILABLE,
    InMemoryPersister,
    SharePartitionKey,
    StateBatch,
)

KEY = SharePartitionKey("g", uuid.UUID(int=7), 0)


def test_key_is_the_share_coordinator_key() -> None:
    # Kafka's Uuid.toString of the topic id: URL-safe base64 of its 16 bytes, unpadded.
    assert KEY.coordinator_key() == "g:AAAAAAAAAAAAAAAAAAAABw:0"


def test_read_before_initialize_is_unknown_then_merge_and_fence() -> None:
    async def main() -> None:
        p = InMemoryPersister()
        assert (await p.read(KEY, 0)).error_code == ec.UNKNOWN_TOPIC_OR_PARTITION
        assert await p.initialize(KEY, 1, -1) == ec.NONE
        assert await p.write(KEY, 1, 3, 10, (StateBatch(10, 20, AVAILABLE, 1),)) == ec.NONE
        assert await p.write(KEY, 1, 3, 10, (StateBatch(12, 14, ACKNOWLEDGED, 1),)) == ec.NONE
        state = await p.read(KEY, 3)
        assert state.start_offset == 10
        assert [(b.first_offset, b.last_offset, b.delivery_state) for b in state.batches] == [
            (10, 11, AVAILABLE),
            (12, 14, ACKNOWLEDGED),
            (15, 20, AVAILABLE),
        ]
        # An older state epoch or leader epoch is fenced; the start offset drops batches below.
        assert await p.write(KEY, 0, 3, 10, ()) == ec.FENCED_STATE_EPOCH
        assert await p.write(KEY, 1, 2, 10, ()) == ec.FENCED_LEADER_EPOCH
        assert (await p.read(KEY, 2)).error_code == ec.FENCED_LEADER_EPOCH
        assert await p.write(KEY, 1, 3, 15, ()) == ec.NONE
        assert [b.first_offset for b in (await p.read(KEY, 3)).batches] == [15]
        assert (await p.read_summary(KEY, 3)).start_offset == 15
        assert await p.delete(KEY) == ec.NONE
        assert (await p.read_summary(KEY, 3)).error_code == ec.UNKNOWN_TOPIC_OR_PARTITION

    trio.run(main)
