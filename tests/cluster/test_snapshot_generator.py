"""The SnapshotGenerator over a running one-voter RaftDriver: committed bytes past
``max_bytes_between`` make it snapshot the image the feed applied (Kafka's records, readable
back into the same image), retention then deletes the older snapshots and the segments below
the latest; a driver restarted on the directory loads the snapshot, then the log after it."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
import trio

from ferrokafka.cluster.image_records import image_from_records
from ferrokafka.cluster.metadata_feed import LogMetadataFeed
from ferrokafka.cluster.raft.driver import RaftDriver
from ferrokafka.cluster.raft.metadata_log import RaftMetadataLog
from ferrokafka.cluster.records import FeatureLevelRecord, PartitionRecord, TopicRecord
from ferrokafka.cluster.serde import encode_record
from ferrokafka.cluster.snapshot_file import SnapshotId, read_snapshot
from ferrokafka.cluster.snapshot_generator import SnapshotGenerator, SnapshotPolicy

TOPICS = 40
WAIT_S = 20
POLICY = SnapshotPolicy(
    max_bytes_between=800, max_interval_ms=0, retention_bytes=1, retention_ms=-1
)


def _driver(directory: Path) -> RaftDriver:
    return RaftDriver(
        node_id=1,
        voters={1: ("127.0.0.1", 9)},
        cluster_id="c",
        metadata_dir=directory,
        segment_bytes=2048,
    )


async def _leading(driver: RaftDriver, nursery: trio.Nursery) -> None:
    await nursery.start(driver.run)
    while not driver.is_leader:
        await trio.sleep(0.01)


def _topic(name: str) -> list[bytes]:
    topic_id = uuid.uuid4()
    return [
        encode_record(TopicRecord(name=name, topic_id=topic_id)),
        encode_record(
            PartitionRecord(partition_id=0, topic_id=topic_id, replicas=[1], isr=[1], leader=1)
        ),
    ]


def test_snapshots_are_written_cleaned_and_loaded_on_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"t{i:02d}" for i in range(TOPICS)]
    written: list = []

    async def first_run() -> None:
        driver = _driver(tmp_path)
        generator = SnapshotGenerator(driver, POLICY)
        async with trio.open_nursery() as nursery:
            with trio.fail_after(WAIT_S):
                await _leading(driver, nursery)
                feed = LogMetadataFeed(RaftMetadataLog(driver, trio.lowlevel.current_trio_token()))
                driver.add_committed_listener(generator.on_committed)
                await feed.subscribe(generator.publish)
                nursery.start_soon(generator.run)
                level = FeatureLevelRecord(name="metadata.version", feature_level=27)
                await driver.append([encode_record(level)])
                for name in names:
                    await driver.append(_topic(name))
                    await feed.committed()
                while len(generator.written) < 3 or driver.log.start_offset() == 0:
                    await trio.sleep(0.01)
                await driver.shutdown()
                nursery.cancel_scope.cancel()  # the generator's task runs until cancelled
        # Read once the generator stopped: it may still have been writing one (a loaded CI
        # machine saw a snapshot at 80 written after the list was taken at 66).
        written.extend(generator.written)

    trio.run(first_run)
    directory = tmp_path / "__cluster_metadata-0"
    kept = sorted(s for p in directory.iterdir() if (s := SnapshotId.from_file_name(p.name)))
    assert len(kept) == 1 and kept[0].end_offset == written[-1].offset
    assert min(int(p.name[:20]) for p in directory.glob("*.log")) > 0  # segments went
    snapshot = read_snapshot(directory / kept[0].file_name)
    image, _ = image_from_records(snapshot.messages(), kept[0].end_offset - 1)
    assert set(image.topics_by_name) <= set(names) and image.metadata_version == 27
    in_snapshot = len(image.topics_by_name)

    async def restart() -> None:
        driver = _driver(tmp_path)
        async with trio.open_nursery() as nursery:
            with trio.fail_after(WAIT_S):
                await _leading(driver, nursery)
                feed = LogMetadataFeed(RaftMetadataLog(driver, trio.lowlevel.current_trio_token()))
                await driver.append(_topic("after-restart"))
                restored = await feed.committed()
                assert set(restored.topics_by_name) == {*names, "after-restart"}
                await driver.shutdown()

    with caplog.at_level(logging.INFO, logger="ferrokafka.cluster.loader"):
        trio.run(restart)
    assert f"loaded metadata snapshot {kept[0].file_name} " in caplog.text
    assert in_snapshot > 0
