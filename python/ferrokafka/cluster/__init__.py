"""The cluster's metadata: a controller appends records to the ``__cluster_metadata`` log, and
every broker applies the committed ones to an immutable in-memory image that requests read.

Layout:

- ``records/`` (generated) and ``serde``: Kafka's metadata records and their framing.
- ``metadata_log``: the :class:`MetadataLog` seam and its one-voter :class:`SingleVoterLog`.
- ``image``, ``delta``, ``loader``: the image, applying records to it, publishing new images.
- ``controller``: the :class:`Controller`; ``topic_ops``, ``alter``, ``config_ops``,
  ``topics`` and ``placement`` (Kafka's StripedReplicaPlacer) hold its sans-io decisions;
  ``cluster_control`` broker registrations, heartbeats, sessions and fencing, with
  ``leadership`` (leader and ISR changes when a broker is fenced, unfenced, shut down or
  unregistered); ``errors``: Kafka's error codes.
- ``channel``: what a broker asks of the controller (topics, configs, producer ids,
  registration and heartbeats), and the controller's timers (session expiry).

Regenerate the records with ``python scripts/gen_protocol.py --metadata``.
"""

from ferrokafka.cluster.controller import METADATA_VERSION_LEVEL, Controller, bootstrap_records
from ferrokafka.cluster.delta import MetadataDelta, MetadataReplayError
from ferrokafka.cluster.errors import ApiError
from ferrokafka.cluster.image import (
    EMPTY_IMAGE,
    BrokerEndpoint,
    BrokerRegistration,
    MetadataImage,
    PartitionImage,
    TopicImage,
    random_topic_id,
    topic_id_str,
)
from ferrokafka.cluster.loader import MetadataLoader
from ferrokafka.cluster.metadata_log import (
    METADATA_PARTITION_DIR,
    CommittedBatch,
    MetadataLog,
    MetadataLogError,
    SingleVoterLog,
)
from ferrokafka.cluster.serde import (
    ApiMessageAndVersion,
    MetadataRecordError,
    decode_record,
    encode_record,
)

__all__ = [
    "EMPTY_IMAGE",
    "METADATA_PARTITION_DIR",
    "METADATA_VERSION_LEVEL",
    "ApiError",
    "ApiMessageAndVersion",
    "BrokerEndpoint",
    "BrokerRegistration",
    "CommittedBatch",
    "Controller",
    "MetadataDelta",
    "MetadataImage",
    "MetadataLoader",
    "MetadataLog",
    "MetadataLogError",
    "MetadataRecordError",
    "MetadataReplayError",
    "PartitionImage",
    "SingleVoterLog",
    "TopicImage",
    "bootstrap_records",
    "decode_record",
    "encode_record",
    "random_topic_id",
    "topic_id_str",
]
