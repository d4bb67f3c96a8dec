"""LogMetadataFeed: the images a broker of a cluster learns from the metadata log it fetches
(as a Raft observer or follower), handed to its publishers in log order — the
:class:`~ferrokafka.cluster.remote_channel.MetadataFeed` of a
:class:`~ferrokafka.cluster.remote_channel.RemoteControllerChannel`, where the in-process
channel publishes the controller's own images.

The fetcher calls :meth:`LogMetadataFeed.committed` whenever the log's committed offset (its
high watermark) moves; the loader applies what committed since its image, batch by batch (a
batch is one controller operation: no broker ever sees half of one), in a worker thread, and
the new image goes to every publisher before the next catch-up starts.
"""

from __future__ import annotations

import trio

from ferrokafka.cluster.channel import PUBLISHERS_MAX, MetadataPublisher
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.loader import MetadataLoader
from ferrokafka.cluster.metadata_log import MetadataLog


class LogMetadataFeed:
    """Images replayed from ``log``; trio thread only."""

    def __init__(self, log: MetadataLog, loader: MetadataLoader | None = None) -> None:
        self.log = log
        self.loader = loader if loader is not None else MetadataLoader()
        self._publishers: list[MetadataPublisher] = []
        self._lock = trio.Lock()
        self._caught_up = trio.Event()

    @property
    def image(self) -> MetadataImage:
        return self.loader.image

    async def subscribe(self, publisher: MetadataPublisher) -> None:
        """Publish the current image to ``publisher`` now, and every later one."""
        if len(self._publishers) >= PUBLISHERS_MAX:
            raise RuntimeError(f"more than {PUBLISHERS_MAX} publishers on one metadata feed")
        async with self._lock:  # no image published in between: each sees them in order
            await publisher(self.loader.image)
            self._publishers.append(publisher)

    def unsubscribe(self, publisher: MetadataPublisher) -> None:
        self._publishers.remove(publisher)

    async def committed(self) -> MetadataImage:
        """The log committed more: apply it and publish the new image (if any changed)."""
        async with self._lock:
            before = self.loader.image
            image = await trio.to_thread.run_sync(self.loader.catch_up, self.log)
            if image is not before:
                for publish in list(self._publishers):
                    await publish(image)
            self._caught_up.set()
            return image

    async def wait_caught_up_once(self) -> None:
        """Until the first catch-up has run (a broker registers only after it)."""
        await self._caught_up.wait()
