"""The image loader: committed metadata batches in, a new image and its publication out.

Every broker runs one (Kafka's ``MetadataLoader``): it reads what the metadata log has
committed since the image it holds, applies it batch by batch (a batch is one controller
operation, so readers never see half of one), and hands each new image to its subscribers
(the LogManager creating and deleting partition logs, the request handlers' current image).
Restart is the same code from an empty image: the image is rebuilt by replaying the log.
"""

from __future__ import annotations

from collections.abc import Callable

from ferrokafka.cluster.delta import MetadataDelta
from ferrokafka.cluster.image import EMPTY_IMAGE, MetadataImage
from ferrokafka.cluster.metadata_log import MetadataLog

Subscriber = Callable[[MetadataImage, MetadataImage, MetadataDelta], None]
"""Called as ``subscriber(old_image, new_image, delta)`` after each applied batch."""

# A bound on subscribers: each runs on every metadata change, so the list stays short.
SUBSCRIBERS_MAX = 64


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
        """Apply every batch ``log`` has committed after the current image; returns the image."""
        for batch in log.read_committed(self._image.offset + 1):
            delta = MetadataDelta(self._image)
            delta.replay_all(batch.messages(), batch.last_offset)
            self._publish(delta)
        return self._image

    def _publish(self, delta: MetadataDelta) -> None:
        old, new = self._image, delta.apply()
        self._image = new
        for subscriber in list(self._subscribers):
            subscriber(old, new, delta)
