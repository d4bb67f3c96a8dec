"""Telling the controller which log dir holds each of this broker's replicas (Kafka 4.4's
AssignmentsManager, KIP-858): after every metadata image, each hosted partition whose log
lives in a dir other than the one the partition's ``directories`` names for this broker is
queued; one task sends the queue as AssignReplicasToDirs requests (at most
:data:`ASSIGNMENTS_PER_REQUEST_MAX` replicas each, as Kafka), and the controller writes the
dirs into the partition records. The controller needs them to move leadership off the
replicas of a dir this broker reports failed (cluster/dir_assignment.py).

A request that fails whole (the controller moved, a stale epoch before the next heartbeat) is
retried after :data:`RETRY_BACKOFF_S`; an assignment already sent is not sent again before
:data:`RESEND_AFTER_S` unless its dir changed (the image that records it is on its way).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import trio

from ferrokafka.cluster.channel import ControllerChannel
from ferrokafka.cluster.dir_assignment import dir_uuid, replica_directory
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.remote_channel import ControllerUnavailableError
from ferrokafka.partition import ReplicaManager
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.assign_replicas_to_dirs import AssignReplicasToDirsRequest
from ferrokafka.storage import LogManager
from ferrokafka.storage.checkpoints import kafka_uuid_string

log = logging.getLogger(__name__)

# Kafka's AssignmentsManager.MAX_ASSIGNMENTS_PER_REQUEST.
ASSIGNMENTS_PER_REQUEST_MAX = 2250
RETRY_BACKOFF_S = 0.5
RESEND_AFTER_S = 10.0

Key = tuple[uuid.UUID, int]


class DirAssignmentSender:
    def __init__(
        self,
        broker_id: int,
        channel: ControllerChannel,
        logs: LogManager,
        replicas: ReplicaManager,
        broker_epoch: Callable[[], int],
    ) -> None:
        self.broker_id = broker_id
        self.channel = channel
        self.logs = logs
        self.replicas = replicas
        self.broker_epoch = broker_epoch
        self._pending: dict[Key, uuid.UUID] = {}
        self._sent: dict[Key, tuple[uuid.UUID, float]] = {}
        self._wake = trio.Event()

    def image_applied(self, image: MetadataImage) -> None:
        """After ``image`` was applied to the hosted partitions: queue every replica whose
        recorded dir is not the one its log is in."""
        now = time.monotonic()
        ids = {path: dir_uuid(d) for path, d in self.logs.directory_ids.items()}
        pending: dict[Key, uuid.UUID] = {}
        for partition in self.replicas.partitions():
            if partition.offline:
                continue
            actual = ids.get(str(Path(partition.log.dir).parent))
            topic = image.topic_by_id(partition.topic_id)
            part = topic.partitions.get(partition.partition) if topic is not None else None
            if actual is None or part is None:
                continue
            if replica_directory(part, self.broker_id) == actual:
                continue
            key = (partition.topic_id, partition.partition)
            sent = self._sent.get(key)
            if sent is not None and sent[0] == actual and now - sent[1] < RESEND_AFTER_S:
                continue
            pending[key] = actual
        self._pending = pending
        if pending:
            self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Send what is queued until cancelled."""
        task_status.started()
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._pending and self.broker_epoch() >= 0:
                batch = dict(list(self._pending.items())[:ASSIGNMENTS_PER_REQUEST_MAX])
                if await self._send(batch):
                    now = time.monotonic()
                    for key, directory in batch.items():
                        self._sent[key] = (directory, now)
                        if self._pending.get(key) == directory:
                            del self._pending[key]
                else:
                    await trio.sleep(RETRY_BACKOFF_S)

    async def _send(self, batch: dict[Key, uuid.UUID]) -> bool:
        by_dir: dict[uuid.UUID, dict[uuid.UUID, list[int]]] = {}
        for (topic_id, index), directory in batch.items():
            by_dir.setdefault(directory, {}).setdefault(topic_id, []).append(index)
        request = AssignReplicasToDirsRequest(
            broker_id=self.broker_id,
            broker_epoch=self.broker_epoch(),
            directories=[
                AssignReplicasToDirsRequest.DirectoryData(
                    id=directory,
                    topics=[
                        AssignReplicasToDirsRequest.TopicData(
                            topic_id=topic_id,
                            partitions=[
                                AssignReplicasToDirsRequest.PartitionData(partition_index=i)
                                for i in indexes
                            ],
                        )
                        for topic_id, indexes in topics.items()
                    ],
                )
                for directory, topics in by_dir.items()
            ],
        )
        try:
            response = await self.channel.assign_replicas_to_dirs(request)
        except ControllerUnavailableError as exc:  # retried
            log.info("AssignReplicasToDirs not sent (%s); retrying", exc)
            return False
        if response.error_code != ec.NONE:
            log.info("AssignReplicasToDirs refused: %s", ec.error_name(response.error_code))
            return False
        for d in response.directories:
            for t in d.topics:
                for p in t.partitions:
                    if p.error_code != ec.NONE:
                        log.info(
                            "AssignReplicasToDirs %s-%d to %s: %s",
                            kafka_uuid_string(t.topic_id),
                            p.partition_index,
                            kafka_uuid_string(d.id),
                            ec.error_name(p.error_code),
                        )
        log.info("assigned %d replicas to their log dirs", len(batch))
        return True
