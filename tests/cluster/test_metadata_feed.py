"""LogMetadataFeed: a broker of a cluster learns images from the metadata log as it commits;
each publisher gets the current image when it subscribes and then every new one, in log order,
one controller operation (batch) at a time."""

from __future__ import annotations

import uuid
from pathlib import Path

import trio

from ferrokafka.cluster import MetadataImage, SingleVoterLog
from ferrokafka.cluster.metadata_feed import LogMetadataFeed
from ferrokafka.cluster.records import PartitionRecord, TopicRecord


def topic_records(name: str, topic_id: uuid.UUID) -> list[object]:
    return [
        TopicRecord(name=name, topic_id=topic_id),
        PartitionRecord(
            partition_id=0, topic_id=topic_id, replicas=[1], isr=[1], leader=1, leader_epoch=0
        ),
    ]


def test_images_follow_the_committed_log_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        log = SingleVoterLog(tmp_path)
        feed = LogMetadataFeed(log)
        seen: list[MetadataImage] = []

        async def publisher(image: MetadataImage) -> None:
            seen.append(image)

        await feed.subscribe(publisher)
        assert len(seen) == 1 and seen[0].topic("a") is None  # the empty image, at once
        log.append(topic_records("a", uuid.uuid4()))  # type: ignore[arg-type]
        log.append(topic_records("b", uuid.uuid4()))  # type: ignore[arg-type]
        image = await feed.committed()
        assert image.topic("a") is not None and image.topic("b") is not None
        assert seen[-1] is image and len(seen) == 2  # one catch-up, one publication
        # Nothing new committed: nothing published.
        assert await feed.committed() is image and len(seen) == 2

        late: list[MetadataImage] = []

        async def late_publisher(image: MetadataImage) -> None:
            late.append(image)

        await feed.subscribe(late_publisher)
        assert late == [image]  # a late subscriber starts from the current image
        feed.unsubscribe(publisher)
        log.append(topic_records("c", uuid.uuid4()))  # type: ignore[arg-type]
        newest = await feed.committed()
        assert late[-1] is newest and newest.topic("c") is not None and len(seen) == 2
        log.close()

    trio.run(main)
