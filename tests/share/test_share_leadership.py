"""The share-partition manager follows partition leadership (sans broker): a share-partition
is cached with the leader epoch it was loaded at and read again from the persister at
another epoch; a broker that no longer leads the partition drops it; a group whose last
share session here closed has its share-partitions dropped, so that an offset reset made
meanwhile (a new state epoch and start offset) is what the next fetch sees."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import trio

from ferrokafka.cluster.image import MetadataImage, PartitionImage, TopicImage
from ferrokafka.partition import AppendOrigin, Partition, ReplicaManager
from ferrokafka.protocol import error_codes as ec
from ferrokafka.share.manager import GroupShareSettings, SharePartitionManager
from ferrokafka.share.partition import ShareConfig
from ferrokafka.share.persister import InMemoryPersister, SharePartitionKey
from ferrokafka.storage import BatchBuilder, LogConfig, LogManager, LogManagerSettings

TOPIC_ID = uuid.uuid4()
KEY = SharePartitionKey("g", TOPIC_ID, 0)


@dataclass
class FakePartition:
    """What the manager reads of a led partition: an empty log at ``leader_epoch``."""

    leader_epoch: int
    log_start_offset: int = 0
    high_watermark: int = 10
    key: tuple[uuid.UUID, int] = (TOPIC_ID, 0)

    def read(self, *_args: Any, **_kwargs: Any) -> Any:
        return SimpleNamespace(code=ec.NONE, info=None, aborted_transactions=None)


class World:
    def __init__(self) -> None:
        self.persister = InMemoryPersister()
        self.led: FakePartition | None = FakePartition(leader_epoch=1)
        self.manager = SharePartitionManager(
            persister=lambda: self.persister,
            settings=lambda _group: GroupShareSettings(ShareConfig()),
            wake=lambda _key: None,
            now_ms=lambda: 0,
            max_sessions=10,
            find=lambda _topic_id, _index: self.led,  # type: ignore[arg-type,return-value]
        )

    async def fetch(self) -> int:
        assert self.led is not None
        result = await self.manager.fetch(KEY, self.led, "m1", 1 << 20, 10)  # type: ignore[arg-type]
        return result.error


def test_a_new_leader_epoch_reloads_the_state() -> None:
    async def main() -> None:
        w = World()
        assert await w.persister.initialize(KEY, 0, 5) == ec.NONE
        assert await w.fetch() == ec.NONE
        first = w.manager.partitions[KEY]
        assert first.start_offset == 5
        # The offsets are reset (a new state epoch); at the same leader epoch the cache holds.
        assert await w.persister.initialize(KEY, 1, 8) == ec.NONE
        assert await w.fetch() == ec.NONE
        assert w.manager.partitions[KEY] is first
        # Leadership moved away and back (epoch 3): the state is read again.
        assert w.led is not None
        w.led.leader_epoch = 3
        assert await w.fetch() == ec.NONE
        again = w.manager.partitions[KEY]
        assert again is not first and again.start_offset == 8 and again.state_epoch == 1
        assert (await w.persister.read(KEY, -1)).leader_epoch == 3

    trio.run(main)


def test_a_former_leader_drops_its_share_partitions() -> None:
    async def main() -> None:
        w = World()
        assert await w.persister.initialize(KEY, 0, 0) == ec.NONE
        assert await w.fetch() == ec.NONE
        assert KEY in w.manager.partitions
        w.led = None  # another broker leads the partition now
        await w.manager.release_member("g", "m1")
        assert KEY not in w.manager.partitions

    trio.run(main)


def test_a_group_without_sessions_here_is_unloaded() -> None:
    async def main() -> None:
        w = World()
        assert await w.persister.initialize(KEY, 0, 0) == ec.NONE
        w.manager.sessions.open("g", "m1", 7)
        w.manager.sessions.open("g", "m2", 8)
        assert await w.fetch() == ec.NONE
        w.manager.sessions.remove("g", "m1")
        await w.manager.release_member("g", "m1")
        assert KEY in w.manager.partitions  # m2 still has a session here
        w.manager.sessions.remove("g", "m2")
        await w.manager.release_member("g", "m2")
        assert KEY not in w.manager.partitions

    trio.run(main)


def test_a_partition_led_elsewhere_drops_its_share_partitions_at_once(tmp_path: Path) -> None:
    """Eager, as Kafka's SharePartitionListener: the replica manager's become-follower (or
    removal) drops the share-partition and its acquisition-lock timer, and wakes the fetches
    waiting on the partition, without any further use of it."""

    async def main() -> None:
        logs = LogManager(LogManagerSettings((str(tmp_path),)), LogConfig())
        replicas = ReplicaManager(ME, logs)
        persister = InMemoryPersister()
        woken: list[tuple[uuid.UUID, int]] = []

        def find(topic_id: uuid.UUID, index: int) -> Partition | None:
            found = replicas.leader_partition_by_id_or_error(topic_id, index)
            return found if isinstance(found, Partition) else None

        manager = SharePartitionManager(
            persister=lambda: persister,
            settings=lambda _group: GroupShareSettings(ShareConfig(), auto_offset_reset="earliest"),
            wake=woken.append,
            now_ms=lambda: 0,
            max_sessions=10,
            find=find,
        )
        replicas.add_all_leadership_listener(manager.on_leadership)
        await apply(replicas, orders_image(leader=ME, epoch=5))
        handle = replicas.partition("orders", 0)
        assert handle is not None and handle.is_leader
        builder = BatchBuilder()
        for i in range(5):
            builder.append(b"v%d" % i)
        appended = await handle.append_as_leader(
            builder.build(), origin=AppendOrigin.CLIENT, required_acks=1
        )
        assert appended.code == ec.NONE
        key = SharePartitionKey("g", ORDERS, 0)
        async with trio.open_nursery() as nursery:
            await nursery.start(manager.run)
            fetched = await manager.fetch(key, handle, "m1", 1 << 20, 10)
            assert [(a.first_offset, a.last_offset) for a in fetched.acquired] == [(0, 4)]
            assert key in manager.partitions and key in manager.timers
            # The same leader at the same epoch (another topic changed): kept.
            manager.on_leadership(ORDERS, 0, handle)
            assert key in manager.partitions
            # Broker 2 leads the partition now: dropped with its lock timer, at once.
            await apply(replicas, orders_image(leader=2, epoch=6))
            assert not handle.is_leader
            assert key not in manager.partitions and key not in manager.timers
            assert woken == [(ORDERS, 0)]
            # The persisted state has the acquired records AVAILABLE for the next leader.
            state = await persister.read(key, 6)
            assert state.start_offset == 0
            nursery.cancel_scope.cancel()

    trio.run(main)


ORDERS = uuid.UUID(int=1)
ME = 1


def orders_image(leader: int, epoch: int) -> MetadataImage:
    orders = TopicImage(
        "orders", ORDERS, {0: PartitionImage(0, (ME, 2), (ME,), leader, epoch, epoch)}
    )
    return MetadataImage(
        offset=10, topics_by_name={"orders": orders}, topics_by_id={ORDERS: orders}
    )


async def apply(replicas: ReplicaManager, img: MetadataImage) -> None:
    await replicas.apply_image(img, lambda _: LogConfig(), lambda _: 1)
