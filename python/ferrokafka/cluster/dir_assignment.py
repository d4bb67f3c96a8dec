"""Which log directory holds each replica, as Kafka 4.4's controller tracks it (KIP-858, JBOD
in KRaft; sans-io: each function returns the records to commit).

* Reserved directory ids (Kafka's ``DirectoryId``): MIGRATING (``0``: a broker that registered
  no dirs), UNASSIGNED (``1``: a broker of several dirs that has not said which yet), LOST
  (``2``). A new replica gets its broker's only dir, else UNASSIGNED
  (:func:`default_directory`); the broker then tells the controller where it put the log
  with AssignReplicasToDirs (:func:`assign_replicas_to_dirs`), which becomes the
  partition's ``directories`` entry.
* A replica is online when its dir is (``DirectoryId.isOnline``): UNASSIGNED and MIGRATING
  count as online, LOST never, any other id while it is in its broker's registered
  ``log_dirs``. A replica in an offline dir cannot lead (Kafka's ``LeaderAcceptor``).
* A broker's heartbeat lists its failed dirs (``offline_log_dirs``); for each one still in
  its registration the controller takes the broker out of the ISR and leadership of every
  partition whose replica is there, then writes the registration's remaining dirs
  (:func:`offline_dir_records`, Kafka's ``handleDirectoriesOffline``).
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence

from ferrokafka.cluster.image import MetadataImage, PartitionImage
from ferrokafka.cluster.records import BrokerRegistrationChangeRecord, PartitionChangeRecord
from ferrokafka.protocol import error_codes as errors
from ferrokafka.protocol.messages.assign_replicas_to_dirs import (
    AssignReplicasToDirsRequest,
    AssignReplicasToDirsResponse,
)
from ferrokafka.protocol.schema import Message
from ferrokafka.storage.checkpoints import kafka_uuid_string

log = logging.getLogger(__name__)

MIGRATING = uuid.UUID(int=0)
UNASSIGNED = uuid.UUID(int=1)
LOST = uuid.UUID(int=2)

PartitionRef = tuple[uuid.UUID, int]
# Kafka's DirectoryId.reserved: the ids below 100 (most significant bits 0) mean no dir.
RESERVED_DIRECTORY_IDS_MAX = 100


def is_reserved_directory(directory: uuid.UUID) -> bool:
    return directory.int < RESERVED_DIRECTORY_IDS_MAX


def dir_uuid(directory_id: str) -> uuid.UUID:
    """A meta.properties ``directory.id`` (a Kafka Uuid string: URL-safe base64, no
    padding) as a UUID."""
    return uuid.UUID(bytes=base64.urlsafe_b64decode(directory_id + "=="))


def default_directory(image: MetadataImage, broker_id: int) -> uuid.UUID:
    """Kafka's ``ClusterControlManager.defaultDir``: the dir a new replica of ``broker_id``
    is given."""
    broker = image.broker(broker_id)
    if broker is None:
        return UNASSIGNED
    if not broker.log_dirs:
        return MIGRATING
    if len(broker.log_dirs) == 1:
        return broker.log_dirs[0]
    return UNASSIGNED


def replica_directory(part: PartitionImage, broker_id: int) -> uuid.UUID:
    """The dir of ``broker_id``'s replica (Kafka's ``PartitionRegistration.directory``)."""
    if not part.directories:
        return MIGRATING
    for replica, directory in zip(part.replicas, part.directories, strict=False):
        if replica == broker_id:
            return directory
    return UNASSIGNED


def directory_online(image: MetadataImage, broker_id: int, directory: uuid.UUID) -> bool:
    """Kafka's ``DirectoryId.isOnline`` against the broker's registered dirs."""
    if directory in (UNASSIGNED, MIGRATING):
        return True
    if directory == LOST:
        return False
    broker = image.broker(broker_id)
    if broker is None:
        return False
    return not broker.log_dirs or directory in broker.log_dirs


def replica_online(image: MetadataImage, part: PartitionImage, broker_id: int) -> bool:
    return directory_online(image, broker_id, replica_directory(part, broker_id))


def partitions_in_directory(
    image: MetadataImage, broker_id: int, directory: uuid.UUID
) -> Iterator[PartitionRef]:
    """Every partition whose ``broker_id`` replica is assigned to ``directory``."""
    for topic in image.topics_by_id.values():
        for index, part in topic.partitions.items():
            if broker_id in part.replicas and replica_directory(part, broker_id) == directory:
                yield topic.topic_id, index


LeaderAndIsrUpdates = Callable[[Sequence[PartitionRef]], list[Message]]


def offline_dir_records(
    image: MetadataImage,
    broker_id: int,
    broker_epoch: int,
    offline_dirs: Sequence[uuid.UUID],
    updates: LeaderAndIsrUpdates,
) -> list[Message]:
    """Kafka's ``handleDirectoriesOffline``: ``updates(partitions)`` are the leader-and-ISR
    changes without ``broker_id`` (the caller's, with its unclean and ELR rules)."""
    registration = image.broker(broker_id)
    if registration is None:
        return []
    newly_offline = [d for d in registration.log_dirs if d in offline_dirs]
    if not newly_offline:
        return []
    records: list[Message] = []
    for directory in newly_offline:
        records += updates(list(partitions_in_directory(image, broker_id, directory)))
    remaining = [d for d in registration.log_dirs if d not in offline_dirs]
    records.append(
        BrokerRegistrationChangeRecord(
            broker_id=broker_id, broker_epoch=broker_epoch, log_dirs=remaining
        )
    )
    log.warning(
        "Directories %s in broker %d marked offline, remaining directories: %s",
        [kafka_uuid_string(d) for d in newly_offline],
        broker_id,
        [kafka_uuid_string(d) for d in remaining],
    )
    return records


def directory_change(
    topic_id: uuid.UUID, index: int, part: PartitionImage, broker_id: int, directory: uuid.UUID
) -> PartitionChangeRecord | None:
    """The record giving ``broker_id``'s replica ``directory`` (Kafka's
    ``PartitionChangeBuilder.setDirectory``), None when it already has it."""
    current = [replica_directory(part, r) for r in part.replicas]
    wanted = [
        directory if r == broker_id else d for r, d in zip(part.replicas, current, strict=True)
    ]
    if wanted == list(part.directories):
        return None
    return PartitionChangeRecord(partition_id=index, topic_id=topic_id, directories=wanted)


def assign_replicas_to_dirs(
    image: MetadataImage,
    request: AssignReplicasToDirsRequest,
    updates: LeaderAndIsrUpdates,
) -> tuple[list[Message], AssignReplicasToDirsResponse]:
    """Kafka's ``handleAssignReplicasToDirs`` (broker epoch already checked): each listed
    replica of the sender gets its dir; replicas assigned to a dir that is offline lose
    leadership and ISR membership (``updates``)."""
    broker_id = request.broker_id
    registration = image.broker(broker_id)
    records: list[Message] = []
    response = AssignReplicasToDirsResponse()
    to_offline: list[PartitionRef] = []
    for req_dir in request.directories:
        offline = registration is None or not directory_online(image, broker_id, req_dir.id)
        res_dir = AssignReplicasToDirsResponse.DirectoryData(id=req_dir.id)
        for req_topic in req_dir.topics:
            topic = image.topic_by_id(req_topic.topic_id)
            res_topic = AssignReplicasToDirsResponse.TopicData(topic_id=req_topic.topic_id)
            for req_part in req_topic.partitions:
                index = req_part.partition_index
                code = errors.NONE
                part = topic.partitions.get(index) if topic is not None else None
                if topic is None:
                    code = errors.UNKNOWN_TOPIC_ID
                elif part is None:
                    code = errors.UNKNOWN_TOPIC_OR_PARTITION
                elif broker_id not in part.replicas:
                    code = errors.NOT_LEADER_OR_FOLLOWER
                else:
                    record = directory_change(
                        req_topic.topic_id, index, part, broker_id, req_dir.id
                    )
                    if record is not None:
                        records.append(record)
                    if offline:
                        to_offline.append((req_topic.topic_id, index))
                if code != errors.NONE:
                    log.warning(
                        "AssignReplicasToDirs from broker %d: %s-%d refused (%s)",
                        broker_id,
                        kafka_uuid_string(req_topic.topic_id),
                        index,
                        errors.error_name(code),
                    )
                res_topic.partitions.append(
                    AssignReplicasToDirsResponse.PartitionData(
                        partition_index=index, error_code=code
                    )
                )
            res_dir.topics.append(res_topic)
        response.directories.append(res_dir)
    if to_offline:
        records += updates(to_offline)
    return records, response
