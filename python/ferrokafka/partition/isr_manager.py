"""The leader's ISR changes (Kafka's ``Partition.maybeShrinkIsr`` / ``maybeExpandIsr`` and the
``AlterPartitionManager``): out-of-sync followers leave the ISR, caught-up ones join it, each
change sent to the active controller as AlterPartition, which writes it to the metadata; the
partition takes the new ISR from the next image (never from its own wish).

Shrinks are looked for every ``replica.lag.time.max.ms / 2`` (Kafka's isr-expiration task);
expansions as soon as a follower outside the ISR reports a fetch that may qualify it (the
partition's hint) — both in one task, which batches every partition due into one request.
One change per partition is in flight at a time (``Partition.pending_isr``, cleared
when an image brings a new partition epoch, or when the controller refuses the change).

Decisions are :mod:`isr`'s (sans-io); this module is the trio shell around them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

import trio

from ferrokafka.cluster.image import MetadataImage
from ferrokafka.partition import isr as rules
from ferrokafka.partition.partition import monotonic_ms
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.alter_partition import (
    AlterPartitionRequest,
    AlterPartitionResponse,
)

if TYPE_CHECKING:
    from ferrokafka.partition.partition import Partition

log = logging.getLogger(__name__)

SendAlterPartition = Callable[[AlterPartitionRequest], Awaitable[AlterPartitionResponse]]
# Partitions in one AlterPartition; the rest go in the next round.
PARTITIONS_PER_REQUEST_MAX = 10_000
# Pause after a failed send before the next round.
RETRY_BACKOFF_S = 0.1


def desired_isr(
    partition: Partition, image: MetadataImage | None, now_ms: float, lag_max_ms: float
) -> tuple[int, ...] | None:
    """The ISR ``partition`` (a leader) should have now, or None when it is right."""
    followers = partition.followers
    gone = rules.out_of_sync(
        partition.isr,
        partition.local_broker_id,
        followers,
        partition.log_end_offset,
        now_ms,
        lag_max_ms,
    )
    if gone:
        return rules.shrunk(partition.isr, gone)
    for replica in partition.replicas:
        if replica in partition.isr or replica == partition.local_broker_id:
            continue
        progress = followers.get(replica)
        if not rules.may_join(
            progress, partition.high_watermark, partition.leader_epoch_start_offset
        ):
            continue
        assert progress is not None
        broker = image.broker(replica) if image is not None else None
        if broker is None or not broker.is_active:
            continue
        if progress.broker_epoch not in (rules.NO_BROKER_EPOCH, broker.broker_epoch):
            continue  # KIP-903: a fetch from an older incarnation of the broker
        return rules.expanded(partition.isr, replica)
    return None


class IsrManager:
    """Sends the ISR changes of the partitions this broker leads."""

    def __init__(
        self,
        broker_id: int,
        lag_max_ms: float,
        send: SendAlterPartition,
        partitions: Callable[[], Iterable[Partition]],
        image: Callable[[], MetadataImage | None],
    ) -> None:
        self.broker_id = broker_id
        self.lag_max_ms = lag_max_ms
        self._send = send
        self._partitions = partitions
        self._image = image
        self._wake = trio.Event()
        # This broker's own epoch, as its lifecycle registered it (Kafka's AlterPartitionManager
        # asks the BrokerLifecycleManager): None takes the image's registration of this id,
        # right where the registration is the process's own (a single node). A broker back from
        # a crash must not send the epoch its predecessor registered: the controller would take
        # an ISR change from a leader whose log may have lost acknowledged records.
        self.broker_epoch: Callable[[], int] | None = None

    def wake(self) -> None:
        """A follower may have caught up: look for ISR changes now."""
        self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        interval_s = max(self.lag_max_ms / 2.0, 1.0) / 1000.0
        task_status.started()
        while True:
            with trio.move_on_after(interval_s):
                await self._wake.wait()
            self._wake = trio.Event()
            if not await self.check_once():
                await trio.sleep(RETRY_BACKOFF_S)

    async def check_once(self) -> bool:
        """Send the changes due now; False when the send failed."""
        image = self._image()
        now = monotonic_ms()
        due: list[tuple[Partition, tuple[int, ...]]] = []
        for partition in self._partitions():
            if not partition.is_leader or partition.isr_change_pending:
                continue
            wanted = desired_isr(partition, image, now, self.lag_max_ms)
            if wanted is not None:
                due.append((partition, wanted))
            if len(due) >= PARTITIONS_PER_REQUEST_MAX:
                break
        if not due:
            return True
        request = self._request(image, due)
        for partition, wanted in due:
            partition.pending_isr = wanted
            log.info("%r: ISR %s -> %s", partition, list(partition.isr), list(wanted))
        try:
            response = await self._send(request)
        except Exception as exc:  # a channel failure must not stop ISR management
            log.warning("AlterPartition failed: %s", exc)
            for partition, _ in due:
                partition.pending_isr = None
            return False
        self._answered(due, response)
        return response.error_code == ec.NONE

    def _request(
        self, image: MetadataImage | None, due: list[tuple[Partition, tuple[int, ...]]]
    ) -> AlterPartitionRequest:
        me = image.broker(self.broker_id) if image is not None else None
        my_epoch = (
            self.broker_epoch()
            if self.broker_epoch is not None
            else me.broker_epoch
            if me is not None
            else -1
        )
        topics: dict[object, AlterPartitionRequest.TopicData] = {}
        for partition, wanted in due:
            topic = topics.get(partition.topic_id)
            if topic is None:
                topic = topics[partition.topic_id] = AlterPartitionRequest.TopicData(
                    topic_id=partition.topic_id
                )
            states = []
            for replica in wanted:
                if replica == self.broker_id:
                    epoch = my_epoch
                else:
                    progress = partition.follower_progress(replica)
                    epoch = progress.broker_epoch if progress is not None else -1
                states.append(
                    AlterPartitionRequest.BrokerState(broker_id=replica, broker_epoch=epoch)
                )
            topic.partitions.append(
                AlterPartitionRequest.PartitionData(
                    partition_index=partition.partition,
                    leader_epoch=partition.leader_epoch,
                    # v3 (KIP-903), what Kafka 3.5+ controllers and ours speak: with epochs.
                    new_isr_with_epochs=states,
                    partition_epoch=partition.partition_epoch,
                )
            )
        return AlterPartitionRequest(
            broker_id=self.broker_id,
            broker_epoch=my_epoch,
            topics=list(topics.values()),
        )

    def _answered(
        self, due: list[tuple[Partition, tuple[int, ...]]], response: AlterPartitionResponse
    ) -> None:
        results = {
            (topic.topic_id, data.partition_index): data
            for topic in response.topics
            for data in topic.partitions
        }
        for partition, _ in due:
            data = results.get((partition.topic_id, partition.partition))
            if response.error_code != ec.NONE or data is None or data.error_code != ec.NONE:
                code = response.error_code or (data.error_code if data else ec.UNKNOWN_SERVER_ERROR)
                log.info("%r: AlterPartition refused with error %s", partition, ec.error_name(code))
                partition.pending_isr = None
            elif data.partition_epoch <= partition.partition_epoch:
                # Nothing changed (or the image already has it): nothing more to wait for.
                partition.pending_isr = None
