"""CoordinatorRuntime against a ReplicaManager fed hand-made images: a partition is loaded
(replayed to the log end) when this broker becomes its leader and unloaded when
leadership moves or the topic goes, with Kafka's error codes at each step; writes are
acknowledged once the high watermark covers them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import trio
import trio.testing

from ferrokafka.cluster.image import MetadataImage, PartitionImage, TopicImage
from ferrokafka.coordinator import SYSTEM_WALL_CLOCK, CoordinatorRuntime
from ferrokafka.partition import AppendOrigin, ReplicaManager
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import BatchBuilder, LogConfig, LogManager, LogManagerSettings

ME = 1
TOPIC = "__state"
TOPIC_ID = uuid.UUID(int=7)


def image(leaders: dict[int, int], isr: tuple[int, ...] = (ME,)) -> MetadataImage:
    topic = TopicImage(
        TOPIC,
        TOPIC_ID,
        {
            i: PartitionImage(i, (ME, 2), isr, leader, epoch, epoch)
            for i, (leader, epoch) in ((i, (leader, 3)) for i, leader in leaders.items())
        },
    )
    return MetadataImage(offset=1, topics_by_name={TOPIC: topic}, topics_by_id={TOPIC_ID: topic})


class Shard:
    def __init__(self) -> None:
        self.replayed: list[tuple[int, bytes, bytes | None]] = []
        self.events: list[tuple[str, int]] = []

    def replay(self, partition: int, key: bytes, value: bytes | None) -> None:
        self.replayed.append((partition, key, value))

    def loaded(self, partition: int) -> None:
        self.events.append(("loaded", partition))

    def unload(self, partition: int) -> None:
        self.events.append(("unload", partition))


class Host:
    def __init__(self, replicas: ReplicaManager) -> None:
        self.replicas = replicas
        self.wall_clock = SYSTEM_WALL_CLOCK

    image: Any = None
    controller_channel: Any = None

    def broker_config(self) -> Any:
        raise AssertionError("not used")


def batch(*pairs: tuple[bytes, bytes | None]) -> bytes:
    builder = BatchBuilder()
    for key, value in pairs:
        builder.append(value, key=key)
    return builder.build()


async def apply(replicas: ReplicaManager, img: MetadataImage) -> None:
    await replicas.apply_image(img, lambda _: LogConfig(), lambda _: 1)


def test_load_on_leadership_unload_when_it_moves(tmp_path: Path) -> None:
    async def main() -> None:
        replicas = ReplicaManager(ME, LogManager(LogManagerSettings((str(tmp_path),)), LogConfig()))
        await apply(replicas, image({0: ME, 1: 2}))
        # Records already in partition 0's log before the runtime starts: replayed at load.
        existing = replicas.partition(TOPIC, 0)
        assert existing is not None
        await existing.append_as_leader(
            batch((b"a", b"1"), (b"b", None)),
            origin=AppendOrigin.CLIENT,
            required_acks=1,
        )
        shard = Shard()
        runtime = CoordinatorRuntime(
            Host(replicas), TOPIC, shard, load_buffer_bytes=lambda: 1 << 20
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.run)
            assert runtime.error_code(0) == ec.COORDINATOR_LOAD_IN_PROGRESS
            assert runtime.error_code(1) == ec.NOT_COORDINATOR  # led by broker 2
            await runtime.wait_loaded(trio.current_time() + 5)
            assert runtime.error_code(0) == ec.NONE
            assert shard.replayed == [(0, b"a", b"1"), (0, b"b", None)]
            assert shard.events == [("loaded", 0)]

            applied: list[str] = []
            code = await runtime.write(0, batch((b"c", b"3")), lambda: applied.append("c"))
            assert code == ec.NONE and applied == ["c"]
            assert await runtime.write(1, batch((b"d", b"4"))) == ec.COORDINATOR_NOT_AVAILABLE

            # Leadership of 0 moves to broker 2, and broker 2 hands 1 over to this broker.
            await apply(replicas, image({0: 2, 1: ME}))
            assert ("unload", 0) in shard.events
            assert runtime.error_code(0) == ec.NOT_COORDINATOR
            await runtime.wait_loaded(trio.current_time() + 5)
            assert runtime.error_code(1) == ec.NONE and ("loaded", 1) in shard.events

            # The topic goes: everything unloads.
            await apply(replicas, MetadataImage(offset=2))
            assert ("unload", 1) in shard.events and runtime.active_partitions() == []
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_write_waits_for_the_high_watermark(tmp_path: Path) -> None:
    async def main() -> None:
        replicas = ReplicaManager(ME, LogManager(LogManagerSettings((str(tmp_path),)), LogConfig()))
        await apply(replicas, image({0: ME}, isr=(ME, 2)))  # broker 2 in the ISR
        shard = Shard()
        runtime = CoordinatorRuntime(
            Host(replicas), TOPIC, shard, load_buffer_bytes=lambda: 1 << 20
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.run)
            await runtime.wait_loaded(trio.current_time() + 5)
            partition = replicas.partition(TOPIC, 0)
            assert partition is not None
            results: list[int] = []

            async def write() -> None:
                results.append(await runtime.write(0, batch((b"k", b"v"))))

            nursery.start_soon(write)
            await trio.sleep(1)
            assert results == []  # appended, not yet replicated
            partition.update_follower_fetch_state(2, 1)  # the follower caught up
            await trio.sleep(0)
            await trio.sleep(0)
            assert results == [ec.NONE]
            # No follower fetch: the write times out (on trio's clock, no real wait).
            assert await runtime.write(0, batch((b"k", b"w"))) == ec.REQUEST_TIMED_OUT
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_load_replays_to_the_log_end_not_the_high_watermark(tmp_path: Path) -> None:
    """A new leader's high watermark trails the one its predecessor acknowledged commits at:
    what its log holds above it is replayed too (Kafka's CoordinatorLoaderImpl reads to the
    log end), else an acknowledged offset commit would be missing after the move (the bounce
    test saw a group's committed offset go back from 1753 to 1741)."""

    async def main() -> None:
        replicas = ReplicaManager(ME, LogManager(LogManagerSettings((str(tmp_path),)), LogConfig()))
        await apply(replicas, image({0: ME}, isr=(ME, 2)))  # broker 2 has not fetched yet
        partition = replicas.partition(TOPIC, 0)
        assert partition is not None
        await partition.append_as_leader(
            batch((b"a", b"1"), (b"a", b"2")), origin=AppendOrigin.CLIENT, required_acks=1
        )
        assert partition.high_watermark == 0 and partition.log_end_offset == 2
        shard = Shard()
        runtime = CoordinatorRuntime(
            Host(replicas), TOPIC, shard, load_buffer_bytes=lambda: 1 << 20
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.run)
            await runtime.wait_loaded(trio.current_time() + 5)
            assert runtime.error_code(0) == ec.NONE
            assert shard.replayed == [(0, b"a", b"1"), (0, b"a", b"2")]
            nursery.cancel_scope.cancel()

    # The real clock: the load reads in a worker thread, and an autojumping mock clock would
    # jump past wait_loaded's deadline while that thread works.
    trio.run(main)
