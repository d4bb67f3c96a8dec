"""The broker's middle layer: :class:`Partition` (one per hosted topic-partition: its log, high
watermark, producer state, leader-epoch cache, leader/follower state, appends and reads) and
:class:`ReplicaManager` (the hosted partitions, get-partition-or-error with Kafka's codes, and
leader/follower transitions from metadata). Handlers and coordinators go through these; only
they touch a partition's log.
"""

from ferrokafka.partition.appends import AppendResult
from ferrokafka.partition.partition import (
    AppendOrigin,
    Partition,
    PartitionRead,
    PartitionState,
)
from ferrokafka.partition.purgatory import DelayedOperationPurgatory
from ferrokafka.partition.replica_manager import ReplicaManager

__all__ = [
    "AppendOrigin",
    "AppendResult",
    "DelayedOperationPurgatory",
    "Partition",
    "PartitionRead",
    "PartitionState",
    "ReplicaManager",
]
