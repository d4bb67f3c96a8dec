"""ReplicaManager and Partition against hand-made metadata images: which partitions are hosted
and in which role, Kafka's get-partition-or-error codes, the leader's high watermark as the
smallest log end offset in the ISR, and appends refused by a follower or below min.insync.

Real client tests cover the single-node path end to end; these cover what one node cannot
show yet (a partition led by another broker, an ISR of several replicas)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import trio
import trio.testing

from ferrokafka.cluster.image import (
    BROKER_RESOURCE,
    CLUSTER_DEFAULT_BROKER,
    TOPIC_RESOURCE,
    MetadataImage,
    PartitionImage,
    TopicImage,
)
from ferrokafka.partition import AppendOrigin, Partition, PartitionState, ReplicaManager
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import (
    BatchBuilder,
    FileRegion,
    LogConfig,
    LogManager,
    LogManagerSettings,
)
from ferrokafka.storage.checkpoints import TopicPartition

ME = 1
ORDERS = uuid.UUID(int=1)
ELSEWHERE = uuid.UUID(int=2)


def image(orders_leader: int = ME, orders_isr: tuple[int, ...] = (ME, 2)) -> MetadataImage:
    """orders: replicas 1 and 2 on both partitions, partition 0 led by ``orders_leader``,
    partition 1 by broker 2; elsewhere: one partition on brokers 2 and 3 only."""
    orders = TopicImage(
        "orders",
        ORDERS,
        {
            0: PartitionImage(0, (ME, 2), orders_isr, orders_leader, 5, 7),
            1: PartitionImage(1, (2, ME), (2, ME), 2, 3, 3),
        },
    )
    elsewhere = TopicImage("elsewhere", ELSEWHERE, {0: PartitionImage(0, (2, 3), (2, 3), 2, 0, 0)})
    return MetadataImage(
        offset=10,
        topics_by_name={"orders": orders, "elsewhere": elsewhere},
        topics_by_id={ORDERS: orders, ELSEWHERE: elsewhere},
    )


def batch(count: int) -> bytes:
    builder = BatchBuilder()
    for i in range(count):
        builder.append(b"v%d" % i, key=b"k")
    return builder.build()


def region_bytes(region: FileRegion) -> bytes:
    """What a Fetch response would carry of this region (the follower's fetch)."""
    with open(region.path, "rb") as file:
        file.seek(region.position)
        return file.read(region.length)


def manager(tmp_path: Path) -> ReplicaManager:
    logs = LogManager(LogManagerSettings((str(tmp_path),)), LogConfig())
    return ReplicaManager(ME, logs)


async def apply(replicas: ReplicaManager, img: MetadataImage, min_insync: int = 1) -> None:
    await replicas.apply_image(img, lambda _: LogConfig(), lambda _: min_insync)


def test_hosts_every_replica_in_its_role_and_answers_kafka_codes(tmp_path: Path) -> None:
    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image())
        leader = replicas.partition("orders", 0)
        follower = replicas.partition("orders", 1)
        assert leader is not None and leader.is_leader
        assert (leader.leader_epoch, leader.partition_epoch, leader.isr) == (5, 7, (ME, 2))
        assert follower is not None and not follower.is_leader and follower.leader_id == 2
        assert replicas.partition("elsewhere", 0) is None  # not a replica here
        assert replicas.leader_partition_or_error("orders", 0) is leader
        assert replicas.leader_partition_or_error("orders", 1) == ec.NOT_LEADER_OR_FOLLOWER
        assert replicas.leader_partition_or_error("elsewhere", 0) == ec.NOT_LEADER_OR_FOLLOWER
        assert replicas.leader_partition_or_error("orders", 2) == ec.UNKNOWN_TOPIC_OR_PARTITION
        assert replicas.leader_partition_or_error("nope", 0) == ec.UNKNOWN_TOPIC_OR_PARTITION
        assert replicas.leader_partition_by_id_or_error(ORDERS, 0) is leader
        assert replicas.leader_partition_by_id_or_error(ELSEWHERE, 0) == ec.NOT_LEADER_OR_FOLLOWER
        assert replicas.leader_partition_by_id_or_error(uuid.UUID(int=9), 0) == ec.UNKNOWN_TOPIC_ID
        # The leader recorded its epoch at the log end when it took over.
        assert leader.epochs.latest_epoch == 5
        # Leadership moves away: the partition stays hosted, now a follower.
        await apply(replicas, image(orders_leader=2))
        assert replicas.partition("orders", 0) is leader and not leader.is_leader
        assert replicas.leader_partition_or_error("orders", 0) == ec.NOT_LEADER_OR_FOLLOWER
        # The topic goes: its partitions and logs go with it.
        await apply(replicas, MetadataImage(offset=11))
        assert replicas.partition("orders", 0) is None
        assert replicas.leader_partition_or_error("orders", 0) == ec.UNKNOWN_TOPIC_OR_PARTITION

    trio.run(main)


async def append(partition: Partition, count: int, acks: int = 1) -> int:
    result = await partition.append_as_leader(
        batch(count), origin=AppendOrigin.CLIENT, required_acks=acks
    )
    return result.code


def test_high_watermark_is_the_smallest_log_end_in_the_isr(tmp_path: Path) -> None:
    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image())
        partition = replicas.partition("orders", 0)
        assert partition is not None
        with replicas.purgatory.watch([partition.key]) as woken:
            assert await append(partition, 3) == ec.NONE
            # Broker 2 is in the ISR and has fetched nothing: nothing is committed yet.
            assert (partition.log_end_offset, partition.high_watermark) == (3, 0)
            # The append wakes followers' fetches parked at the log end, not the HW.
            assert woken.is_set() and not partition.commits_on_append
            read = partition.read(
                0,
                1 << 20,
                current_leader_epoch=-1,
                read_committed=False,
                min_one_batch=True,
                nowait=False,
            )
            assert read.code == ec.NONE and read.info is None  # consumers never read past the HW
        with replicas.purgatory.watch([partition.key]) as woken:
            assert partition.update_follower_fetch_state(2, 2)
            assert partition.high_watermark == 2 and woken.is_set()
        assert not partition.update_follower_fetch_state(3, 3)  # not a replica: ignored
        assert partition.update_follower_fetch_state(2, 3) and partition.high_watermark == 3
        # The ISR shrinks to this broker alone, but broker 2 is still caught up (within
        # replica.lag.time.max.ms): about to join again, it holds the HW (Kafka's
        # shouldWaitForReplicaToJoinIsr), until it fetches or stops counting as caught up.
        await apply(replicas, image(orders_isr=(ME,)))
        assert await append(partition, 2) == ec.NONE
        assert partition.high_watermark == 3
        partition.replica_lag_time_max_ms = 0.0
        assert await append(partition, 1) == ec.NONE
        assert partition.high_watermark == 6  # no longer caught up: its own log end is the HW

    trio.run(main)


def test_a_follower_being_added_to_the_isr_counts_before_the_metadata_has_it(
    tmp_path: Path,
) -> None:
    """Kafka's maximal ISR: while an AlterPartition adding a follower is in flight, the high
    watermark waits for that follower too, so it never joins the ISR without every record
    below the high watermark (an acknowledged record could be lost if it were then elected)."""

    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image(orders_isr=(ME,)))
        partition = replicas.partition("orders", 0)
        assert partition is not None
        partition.replica_lag_time_max_ms = 0.0  # only the pending ISR holds the HW here
        assert await append(partition, 3) == ec.NONE
        assert partition.high_watermark == 3
        partition.update_follower_fetch_state(2, 3)  # caught up: the leader asks to add it
        partition.pending_isr = (ME, 2)
        assert await append(partition, 2) == ec.NONE
        assert partition.high_watermark == 3  # broker 2 has not fetched offsets 3-4 yet
        partition.update_follower_fetch_state(2, 5)
        assert partition.high_watermark == 5

    trio.run(main)


def with_elr(img: MetadataImage, level: int) -> MetadataImage:
    return replace(img, features={"eligible.leader.replicas.version": level})


@pytest.mark.parametrize("elr_level", [0, 1])
def test_with_elr_the_high_watermark_waits_while_the_isr_is_below_min_insync(
    tmp_path: Path, elr_level: int
) -> None:
    """KIP-966 (Kafka 4.4's maybeIncrementLeaderHW): with eligible.leader.replicas.version 1
    a leader whose ISR is smaller than min.insync.replicas (at most the replica count) keeps
    its high watermark; with 0 the ISR alone decides, as before."""

    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, with_elr(image(orders_isr=(ME,)), elr_level), min_insync=2)
        partition = replicas.partition("orders", 0)
        assert partition is not None
        assert await append(partition, 3) == ec.NONE  # acks=1: appended and acknowledged
        assert partition.is_under_min_isr
        assert partition.high_watermark == (0 if elr_level else 3)
        # The follower caught up and is back in the ISR: the HW moves to what both hold.
        await apply(replicas, with_elr(image(), elr_level), min_insync=2)
        assert not partition.is_under_min_isr
        partition.update_follower_fetch_state(2, 3)
        assert partition.high_watermark == 3
        # min.insync.replicas above the replica count is capped at it (effectiveMinIsr).
        await apply(replicas, with_elr(image(), elr_level), min_insync=5)
        assert not partition.is_under_min_isr

    trio.run(main)


def test_follower_and_min_insync_refuse_appends(tmp_path: Path) -> None:
    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image(orders_isr=(ME,)), min_insync=2)
        leader = replicas.partition("orders", 0)
        follower = replicas.partition("orders", 1)
        assert leader is not None and follower is not None
        assert await append(leader, 1, acks=-1) == ec.NOT_ENOUGH_REPLICAS
        assert await append(leader, 1, acks=1) == ec.NONE  # acks=1 ignores min.insync
        assert await append(follower, 1) == ec.NOT_LEADER_OR_FOLLOWER
        assert follower.log_end_offset == 0
        # A follower takes the leader's HW, never past its own log end.
        follower.update_high_watermark_as_follower(10)
        assert follower.high_watermark == 0

    trio.run(main)


def test_high_watermark_checkpoint_survives_a_restart(tmp_path: Path) -> None:
    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image())
        partition = replicas.partition("orders", 0)
        assert partition is not None
        await append(partition, 4)
        partition.update_follower_fetch_state(2, 3)
        await replicas.shutdown()
        replicas.logs.shutdown()

        again = manager(tmp_path)
        await apply(again, image(orders_leader=2))  # a follower keeps the checkpointed HW
        reopened = again.partition("orders", 0)
        assert reopened is not None
        assert (reopened.log_end_offset, reopened.high_watermark) == (4, 3)
        again.logs.shutdown()

    trio.run(main)


def test_partition_state_is_what_make_leader_applies(tmp_path: Path) -> None:
    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image())
        partition = replicas.partition("orders", 0)
        assert partition is not None
        state = PartitionState(ME, 6, 8, (ME, 2), (ME,))
        assert await partition.make_leader(state)
        assert not await partition.make_leader(state)  # same epoch: not a new leadership
        assert partition.epochs.latest_epoch == 6
        assert partition.high_watermark == partition.log_end_offset

    trio.run(main)


def test_acks_all_waits_in_the_purgatory_until_the_high_watermark_covers_it(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image())
        partition = replicas.partition("orders", 0)
        assert partition is not None
        assert await append(partition, 3, acks=-1) == ec.NONE
        purgatory = replicas.purgatory

        def covered() -> bool:
            return partition.high_watermark >= 3

        # Nobody fetches: the wait ends at its deadline, on trio's clock.
        start = trio.current_time()
        assert not await purgatory.wait_until(covered, [partition.key], start + 30)
        assert trio.current_time() - start >= 30 and len(purgatory) == 0

        async def follower_fetches() -> None:
            await trio.sleep(1)
            partition.update_follower_fetch_state(2, 1)  # not enough yet
            await trio.sleep(1)
            partition.update_follower_fetch_state(2, 3)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(follower_fetches)
            start = trio.current_time()
            assert await purgatory.wait_until(covered, [partition.key], start + 30)
            assert trio.current_time() - start == 2
        assert len(purgatory) == 0

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_follower_appends_the_leaders_batches_as_they_are_and_truncates(
    tmp_path: Path,
) -> None:
    """Broker 1 leads orders-0, broker 2 follows it: the follower appends the leader's
    batches unchanged (offsets, epochs, producer ids), its epoch cache and producer state
    follow them, its high watermark is the leader's bounded by its own log end, and it can be
    cut back to a divergence point."""

    async def main() -> None:
        leader_side = manager(tmp_path / "leader")
        await apply(leader_side, image())
        leader = leader_side.partition("orders", 0)
        assert leader is not None
        builder = BatchBuilder(producer_id=42, producer_epoch=0, base_sequence=0)
        for i in range(3):
            builder.append(b"v%d" % i, key=b"k")
        await leader.append_as_leader(builder.build(), origin=AppendOrigin.CLIENT, required_acks=1)
        await leader.append_as_leader(batch(2), origin=AppendOrigin.CLIENT, required_acks=1)
        fetched = b"".join(region_bytes(r) for r in leader.log.read(0, 1 << 20).regions)

        follower_side = ReplicaManager(
            2, LogManager(LogManagerSettings((str(tmp_path / "f"),)), LogConfig())
        )
        await follower_side.apply_image(image(), lambda _: LogConfig(), lambda _: 1)
        follower = follower_side.partition("orders", 0)
        assert follower is not None and not follower.is_leader
        info = await follower.append_as_follower(fetched)
        assert (info.first_offset, info.last_offset) == (0, 4)
        assert follower.log_end_offset == 5
        assert follower.epochs.latest_epoch == 5
        assert 42 in follower.producers.producers
        follower.update_high_watermark_as_follower(3)
        assert follower.high_watermark == 3
        await follower.truncate_to(3)
        assert follower.log_end_offset == 3 and follower.high_watermark == 3

    trio.run(main)


def test_only_changed_topics_are_visited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new image shares unchanged TopicImages with the old one: only topics whose object or
    own configs changed are applied again; a broker-level config change visits every topic."""

    async def main() -> None:
        replicas = manager(tmp_path)
        visited: list[str] = []
        apply_topic = ReplicaManager._apply_topic

        async def spy(self: ReplicaManager, topic: TopicImage, *args: object) -> None:
            visited.append(topic.name)
            await apply_topic(self, topic, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(ReplicaManager, "_apply_topic", spy)
        first = image()
        await apply(replicas, first)
        assert sorted(visited) == ["elsewhere", "orders"]
        visited.clear()
        moved = image(orders_leader=2)
        # Same "elsewhere" object as before, a new "orders": only orders is visited.
        shared = MetadataImage(
            offset=11,
            topics_by_name={**moved.topics_by_name, "elsewhere": first.topic("elsewhere")},
            topics_by_id={**moved.topics_by_id, ELSEWHERE: first.topic("elsewhere")},
        )
        await apply(replicas, shared)
        assert visited == ["orders"]
        partition = replicas.partition("orders", 0)
        assert partition is not None and not partition.is_leader
        visited.clear()
        configured = MetadataImage(
            offset=12,
            topics_by_name=shared.topics_by_name,
            topics_by_id=shared.topics_by_id,
            configs={(TOPIC_RESOURCE, "elsewhere"): {"retention.ms": "1"}},
        )
        await apply(replicas, configured)
        assert visited == ["elsewhere"]
        visited.clear()
        broker_wide = MetadataImage(
            offset=13,
            topics_by_name=shared.topics_by_name,
            topics_by_id=shared.topics_by_id,
            configs={
                **configured.configs,
                (BROKER_RESOURCE, CLUSTER_DEFAULT_BROKER): {"min.insync.replicas": "2"},
            },
        )
        await apply(replicas, broker_wide)
        assert sorted(visited) == ["elsewhere", "orders"]

    trio.run(main)


class _Node:
    """What the DeleteRecords handler reads of a node: the replicas, and that ``orders``
    allows deletion (cleanup.policy=delete)."""

    def __init__(self, replicas: ReplicaManager) -> None:
        self.replicas = replicas
        self.image = MetadataImage(offset=0)
        self.config = self

    def topic_config(self, overrides: dict[str, str]) -> dict[str, str]:
        return {"cleanup.policy": "delete", **overrides}


def test_delete_records_waits_for_the_followers_log_start(tmp_path: Path) -> None:
    """Kafka's DelayedDeleteRecords: the answer waits until the low watermark (the smallest
    log start among the replicas in sync) reaches the offset; at timeout_ms it is
    REQUEST_TIMED_OUT, and a follower that moved its log start completes it."""
    from ferrokafka.protocol.messages.delete_records import DeleteRecordsRequest
    from ferrokafka.server.handlers.delete_records import DeleteRecordsHandler

    def request(timeout_ms: int) -> DeleteRecordsRequest:
        return DeleteRecordsRequest(
            timeout_ms=timeout_ms,
            topics=[
                DeleteRecordsRequest.DeleteRecordsTopic(
                    name="orders",
                    partitions=[
                        DeleteRecordsRequest.DeleteRecordsPartition(partition_index=0, offset=2)
                    ],
                )
            ],
        )

    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image())
        partition = replicas.partition("orders", 0)
        assert partition is not None
        assert await append(partition, 3, acks=1) == ec.NONE
        partition.update_follower_fetch_state(2, 3, 0)  # caught up, log start 0
        assert partition.high_watermark == 3 and partition.low_watermark == 0
        handler = DeleteRecordsHandler(_Node(replicas))  # type: ignore[arg-type]

        start = trio.current_time()
        answer = await handler(None, request(5_000))  # type: ignore[arg-type]
        result = answer.topics[0].partitions[0]
        assert (result.error_code, result.low_watermark) == (ec.REQUEST_TIMED_OUT, -1)
        assert trio.current_time() - start == 5
        assert partition.log_start_offset == 2  # the leader deleted; the follower did not

        async def follower_deletes() -> None:
            await trio.sleep(1)
            partition.update_follower_fetch_state(2, 3, 2)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(follower_deletes)
            start = trio.current_time()
            answer = await handler(None, request(5_000))  # type: ignore[arg-type]
            assert trio.current_time() - start == 1
        result = answer.topics[0].partitions[0]
        assert (result.error_code, result.low_watermark) == (ec.NONE, 2)
        assert len(replicas.purgatory) == 0

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_the_cleaner_stops_at_the_last_stable_offset(tmp_path: Path) -> None:
    """Kafka's firstUncleanableOffset: never at or past an open transaction."""

    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image(orders_isr=(ME,)))
        partition = replicas.partition("orders", 0)
        assert partition is not None
        builder = BatchBuilder(
            producer_id=9, producer_epoch=0, base_sequence=0, is_transactional=True
        )
        builder.append(b"t", key=b"k")
        await partition.append_as_leader(batch(2), origin=AppendOrigin.CLIENT, required_acks=1)
        await partition.append_as_leader(
            builder.build(), origin=AppendOrigin.CLIENT, required_acks=1
        )
        await partition.append_as_leader(batch(1), origin=AppendOrigin.CLIENT, required_acks=1)
        bound = replicas.logs.cleaner.stable_offset
        assert bound is not None
        assert bound(TopicPartition("orders", 0)) == 2  # the open transaction's first offset
        assert bound(TopicPartition("orders", 1)) == 0  # a follower: its HW
        assert bound(TopicPartition("nowhere", 0)) is None
        assert (await partition.append_txn_marker(9, 0, 0, True)).code == ec.NONE
        assert bound(TopicPartition("orders", 0)) == 5

    trio.run(main)


def test_only_a_fetch_the_leader_would_serve_moves_the_high_watermark(tmp_path: Path) -> None:
    """Fault-injection seed 5 (16 acknowledged records lost): a leader cut off by a link down
    came back before it had applied the metadata electing another leader, and a fetch that
    had sat in the cut network (or one from a follower that knows a newer epoch) carried a
    fetch offset past its records: counted as the follower's progress, it moved the high
    watermark over records no other replica had, and they were acknowledged, then
    truncated. As Kafka, a fetch for another leader epoch, past this log's end, or with a
    diverging last fetched epoch is refused without touching the follower's state."""

    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image())
        partition = replicas.partition("orders", 0)
        assert partition is not None and partition.leader_epoch == 5
        assert await append(partition, 4) == ec.NONE
        assert partition.high_watermark == 0
        # A follower of a newer epoch (6) with more records than this log (8 > 4).
        assert not partition.update_follower_fetch_state(2, 4, current_leader_epoch=6)
        assert not partition.update_follower_fetch_state(2, 8)  # past the log end
        # Its last fetched epoch (7) is unknown here: a diverged log, whatever its offset.
        assert not partition.update_follower_fetch_state(2, 4, last_fetched_epoch=7)
        assert partition.high_watermark == 0
        # An older epoch is fenced the same way.
        assert not partition.update_follower_fetch_state(2, 4, current_leader_epoch=4)
        assert partition.high_watermark == 0
        # A fetch of this epoch counts.
        assert partition.update_follower_fetch_state(
            2, 4, current_leader_epoch=5, last_fetched_epoch=5
        )
        assert partition.high_watermark == 4

    trio.run(main)


def test_a_fetcher_never_fetches_a_partition_led_here(tmp_path: Path) -> None:
    """Between a partition's make_leader and the fetcher manager's update, the fetcher of its
    old leader still holds it: its position would be this leader's log end at the new epoch,
    sent to the old leader as a follower's (seed 5). Kafka removes the fetcher first."""
    from ferrokafka.partition.follower_fetch import FetcherConfig
    from ferrokafka.partition.replica_fetcher import ReplicaFetcher

    async def main() -> None:
        replicas = manager(tmp_path)
        await apply(replicas, image(orders_leader=2))
        partition = replicas.partition("orders", 0)
        assert partition is not None and not partition.is_leader
        fetcher = ReplicaFetcher(ME, 2, ("127.0.0.1", 1), FetcherConfig(250, 1, 4096), lambda: 1)
        fetcher.set_partitions({partition.key: partition})
        assert list(fetcher._ready()) == [partition.key]
        await partition.make_leader(PartitionState(ME, 6, 8, (ME, 2), (ME, 2)))
        assert fetcher._ready() == {}

    trio.run(main)


def test_a_deposed_leaders_empty_epoch_goes_when_it_truncates_to_its_log_end(
    tmp_path: Path,
) -> None:
    """Long mode seed 10: a broker that became leader (its epoch entry at its log end) and
    was deposed before appending anything then followed a leader that never had that epoch;
    each fetch carried it as the last fetched epoch, the leader answered it as diverging at
    this log's end, and the follower "truncated" to its own end, which cut nothing and kept
    the entry: ~24,000 truncations in 21 s on one node, its partitions out of the ISR. The cut
    to the log end now trims the epoch cache (Kafka's UnifiedLog.truncateTo does)."""

    async def main() -> None:
        replicas = ReplicaManager(
            2, LogManager(LogManagerSettings((str(tmp_path / "f"),)), LogConfig())
        )
        await replicas.apply_image(image(), lambda _: LogConfig(), lambda _: 1)
        follower = replicas.partition("orders", 0)
        assert follower is not None and not follower.is_leader
        await follower.append_as_follower(batch(3))
        end = follower.log_end_offset
        follower.epochs.assign(follower.epochs.latest_epoch + 1, end)  # led, nothing appended
        stale = follower.epochs.latest_epoch
        await follower.truncate_to(end)
        assert follower.log_end_offset == end
        assert follower.epochs.latest_epoch < stale

    trio.run(main)
