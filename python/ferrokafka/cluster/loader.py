"""The image loader: committed metadata batches in, a new image and its publication out.

Every broker runs one (Kafka's ``MetadataLoader``): it reads what the metadata log has
committed since the image it holds, applies it batch by batch (a batch is one controller
operation, so readers never see half of one), and hands each new image to its subscribers
(the LogManager creating and deleting partition logs, the request handlers' current image).
Restart is the same code from an empty image: the image is rebuilt from the latest snapshot,
if there is one, then the log after it (Kafka's ``handleLoadSnapshot`` then
``handleCommit``); a reader that fell below the log start offset (its records were deleted
after a snapshot, or a follower installed a snapshot from the leader) loads the snapshot the
same way. A snapshot's image replaces the current one whole: topics it lacks are removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ferrokafka.cluster.delta import MetadataDelta
from ferrokafka.cluster.image import EMPTY_IMAGE, MetadataImage
from ferrokafka.cluster.image_records import image_from_records
from ferrokafka.cluster.metadata_log import MetadataLog, MetadataLogError, SnapshotRequiredError
from ferrokafka.cluster.snapshot_file import Snapshot

log = logging.getLogger(__name__)

Subscriber = Callable[[MetadataImage, MetadataImage, MetadataDelta], None]
"""Called as ``subscriber(old_image, new_image, delta)`` after each applied batch."""

# A bound on subscribers: each runs on every metadata change, so the list stays short.
SUBSCRIBERS_MAX = 64
# Snapshots loaded in one catch-up because the log start moved past the reader meanwhile.
SNAPSHOT_LOADS_MAX = 3


class MetadataLoader:
    """Holds the current image; :meth:`catch_up` applies newly committed records."""

    def __init__(self, image: MetadataImage = EMPTY_IMAGE) -> None:
        self._image = image
        self._subscribers: list[Subscriber] = []

    @property
    def image(self) -> MetadataImage:
        """The latest image (immutable: safe to keep while newer ones are made)."""
        return self._image

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` on every new image from now on. The subscriber must not raise:
        the image is already committed, so an error is the subscriber's to handle."""
        if len(self._subscribers) >= SUBSCRIBERS_MAX:
            raise RuntimeError(f"more than {SUBSCRIBERS_MAX} metadata subscribers")
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.remove(subscriber)

    def catch_up(self, log: MetadataLog) -> MetadataImage:
        """Apply every batch ``log`` has committed after the current image (a snapshot first
        when the log says so); returns the image."""
        for _ in range(SNAPSHOT_LOADS_MAX):
            snapshot = log.snapshot_to_load(self._image.offset + 1)
            if snapshot is not None and snapshot.snapshot_id.end_offset > self._image.offset + 1:
                self.load_snapshot(snapshot)
            try:
                for batch in log.read_committed(self._image.offset + 1):
                    delta = MetadataDelta(self._image)
                    delta.replay_all(batch.messages(), batch.last_offset)
                    self._publish(delta)
            except SnapshotRequiredError:
                continue  # the prefix went while we read: load the newer snapshot
            return self._image
        raise MetadataLogError(f"the log start kept moving past offset {self._image.offset + 1}")

    def load_snapshot(self, snapshot: Snapshot) -> MetadataImage:
        """Replace the image with the one ``snapshot`` holds."""
        old = self._image
        new, delta = image_from_records(snapshot.messages(), snapshot.snapshot_id.end_offset - 1)
        for topic_id, topic in old.topics_by_id.items():
            if topic_id not in new.topics_by_id:
                delta.removed_topics[topic_id] = topic
        self._image = new
        log.info(
            "loaded metadata snapshot %s (%d records)",
            snapshot.snapshot_id.file_name,
            len(snapshot.records),
        )
        for subscriber in list(self._subscribers):
            subscriber(old, new, delta)
        return new

    def _publish(self, delta: MetadataDelta) -> None:
        old, new = self._image, delta.apply()
        self._image = new
        for subscriber in list(self._subscribers):
            subscriber(old, new, delta)
