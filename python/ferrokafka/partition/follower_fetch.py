"""What a follower's fetcher sends and what it does with each answer (sans-io; Kafka's
``AbstractFetcherThread`` / ``ReplicaFetcherThread`` decisions, without the I/O).

A followed partition fetches from its log end, naming the epoch of its last batch
(``last_fetched_epoch``), so the leader can tell it where its log diverges (Fetch v12+: no
OffsetForLeaderEpoch round before fetching). Per partition answer:

* records and the leader's high watermark: append them as they are, take the high watermark;
* a diverging epoch: truncate to where the two logs agree (the smaller of the leader's end
  offset for that epoch and this log's own end offset for it), then fetch again;
* OFFSET_OUT_OF_RANGE: ask the leader's log end; a longer log here is cut to it, a log that
  ends below the leader's log start restarts empty at it;
* FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION,
  UNKNOWN_TOPIC_ID and storage errors: back off for ``replica.fetch.backoff.ms`` (the metadata
  brings the new leader or epoch meanwhile, which restarts the partition's fetch).
"""

from __future__ import annotations

import enum
import struct
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ferrokafka.cluster.connector import PLAINTEXT, Connector, node_connectors
from ferrokafka.config import BrokerConfig
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse

# Fetch v15 carries the follower's id and broker epoch in replica_state, not replica_id.
REPLICA_STATE_VERSION = 15
# Fetch v18 carries the follower's known high watermark (KIP-1166).
HIGH_WATERMARK_VERSION = 18
# Fetch v13 names topics by id, also in forgotten_topics_data.
TOPIC_ID_VERSION = 13
# FetchPartition.high_watermark's default: "not supported" (an older follower, Kafka's own).
_HW_UNSET = 2**63 - 1
# A partition answer's diverging epoch when there is none.
NO_EPOCH = -1
# A record batch starts with its base offset (int64) and the length of the rest (int32).
_BATCH_PREFIX = struct.Struct(">qi")


@dataclass(frozen=True, slots=True)
class FetcherConfig:
    """The replica fetcher's bounds, from Kafka's broker configs of the same names."""

    max_wait_ms: int = 500  # replica.fetch.wait.max.ms
    min_bytes: int = 1  # replica.fetch.min.bytes
    response_max_bytes: int = 10 * 1024 * 1024  # replica.fetch.response.max.bytes
    partition_max_bytes: int = 1024 * 1024  # replica.fetch.max.bytes
    backoff_ms: int = 1000  # replica.fetch.backoff.ms
    lag_max_ms: int = 30_000  # replica.lag.time.max.ms (the leader's ISR rule)
    # How the inter-broker listener is dialled (its TLS and SASL).
    connector: Connector = field(default=PLAINTEXT, compare=False)

    @classmethod
    def from_broker_config(cls, config: BrokerConfig) -> FetcherConfig:
        return cls(
            max_wait_ms=int(config["replica.fetch.wait.max.ms"]),
            min_bytes=int(config["replica.fetch.min.bytes"]),
            response_max_bytes=int(config["replica.fetch.response.max.bytes"]),
            partition_max_bytes=int(config["replica.fetch.max.bytes"]),
            backoff_ms=int(config["replica.fetch.backoff.ms"]),
            lag_max_ms=int(config["replica.lag.time.max.ms"]),
            connector=node_connectors(config).inter_broker,
        )


@dataclass(frozen=True, slots=True)
class FetchPosition:
    """Where one followed partition fetches from now (Kafka's ``PartitionFetchState``)."""

    topic: str
    topic_id: uuid.UUID
    partition: int
    current_leader_epoch: int
    fetch_offset: int
    last_fetched_epoch: int
    log_start_offset: int
    # The high watermark this follower knows (Fetch v18's HighWatermark, KIP-1166): a leader
    # that knows a higher one answers at once instead of parking the fetch.
    high_watermark: int = -1


def fetch_request(
    replica_id: int,
    broker_epoch: int,
    positions: Iterable[FetchPosition],
    config: FetcherConfig,
    version: int,
    *,
    session_id: int = 0,
    session_epoch: int = 0,
    forgotten: Iterable[FetchPosition] = (),
) -> FetchRequest:
    """A follower's Fetch for ``positions``, as Kafka's ReplicaFetcherThread builds it (the
    replica id goes in ``replica_state`` from v15 and in ``replica_id`` before), in the fetch
    session ``session_id`` at ``session_epoch`` (0, 0: a full fetch asking for a session;
    see :mod:`fetch_session_handler`), forgetting the ``forgotten`` partitions."""
    topics: dict[uuid.UUID, FetchRequest.FetchTopic] = {}
    for position in positions:
        topic = topics.get(position.topic_id)
        if topic is None:
            topic = topics[position.topic_id] = FetchRequest.FetchTopic(
                topic=position.topic, topic_id=position.topic_id
            )
        topic.partitions.append(
            FetchRequest.FetchPartition(
                partition=position.partition,
                current_leader_epoch=position.current_leader_epoch,
                fetch_offset=position.fetch_offset,
                last_fetched_epoch=position.last_fetched_epoch,
                log_start_offset=position.log_start_offset,
                partition_max_bytes=config.partition_max_bytes,
                high_watermark=(
                    position.high_watermark if version >= HIGH_WATERMARK_VERSION else _HW_UNSET
                ),
            )
        )
    forgotten_topics: dict[uuid.UUID, FetchRequest.ForgottenTopic] = {}
    for position in forgotten:
        topic_forgotten = forgotten_topics.get(position.topic_id)
        if topic_forgotten is None:
            topic_forgotten = forgotten_topics[position.topic_id] = FetchRequest.ForgottenTopic(
                topic=position.topic if version < TOPIC_ID_VERSION else "",
                topic_id=position.topic_id,
            )
        topic_forgotten.partitions.append(position.partition)
    in_state = version >= REPLICA_STATE_VERSION
    return FetchRequest(
        replica_id=-1 if in_state else replica_id,
        replica_state=FetchRequest.ReplicaState(
            replica_id=replica_id if in_state else -1,
            replica_epoch=broker_epoch if in_state else -1,
        ),
        max_wait_ms=config.max_wait_ms,
        min_bytes=config.min_bytes,
        max_bytes=config.response_max_bytes,
        isolation_level=0,
        session_id=session_id,
        session_epoch=session_epoch,
        topics=list(topics.values()),
        forgotten_topics_data=list(forgotten_topics.values()),
    )


class Step(enum.Enum):
    APPEND = "append"  # append ``records`` (may be empty), then take ``high_watermark``
    TRUNCATE = "truncate"  # cut the log to ``offset``, then fetch again
    OUT_OF_RANGE = "out_of_range"  # ask the leader's offsets (see :func:`out_of_range_step`)
    BACK_OFF = "back_off"  # wait ``replica.fetch.backoff.ms`` before fetching it again


@dataclass(frozen=True, slots=True)
class Decision:
    step: Step
    records: bytes = b""
    high_watermark: int = -1
    leader_log_start_offset: int = -1
    offset: int = -1
    error: int = ec.NONE


# This log's own (epoch, end offset) for an epoch (the follower's leader-epoch cache).
EndOffsetFor = Callable[[int], tuple[int, int]]


def decide(
    position: FetchPosition,
    data: FetchResponse.PartitionData,
    log_end_offset: int,
    high_watermark: int,
    end_offset_for: EndOffsetFor,
) -> Decision:
    """What to do with one partition's answer to a fetch made at ``position``."""
    if data.error_code == ec.OFFSET_OUT_OF_RANGE:
        return Decision(Step.OUT_OF_RANGE, error=data.error_code)
    if data.error_code != ec.NONE:
        return Decision(Step.BACK_OFF, error=data.error_code)
    diverging = data.diverging_epoch
    if diverging.epoch != NO_EPOCH or diverging.end_offset >= 0:
        return Decision(
            Step.TRUNCATE,
            offset=truncation_offset(
                diverging.epoch,
                diverging.end_offset,
                log_end_offset,
                high_watermark,
                end_offset_for,
            ),
        )
    records = whole_batches(bytes(data.records)) if data.records else b""
    return Decision(
        Step.APPEND,
        records=records,
        high_watermark=data.high_watermark,
        leader_log_start_offset=data.log_start_offset,
    )


def whole_batches(records: bytes) -> bytes:
    """``records`` up to the end of the last whole batch: a Kafka leader may cut the last
    batch of a partition's answer at the fetch's byte limit, and a follower drops that part
    (it fetches it whole next time), as Kafka's record iteration does."""
    end = 0
    while end + _BATCH_PREFIX.size <= len(records):
        _, length = _BATCH_PREFIX.unpack_from(records, end)
        size = _BATCH_PREFIX.size + length
        if length <= 0 or end + size > len(records):
            break
        end += size
    return records if end == len(records) else records[:end]


def truncation_offset(
    leader_epoch: int,
    leader_end_offset: int,
    log_end_offset: int,
    high_watermark: int,
    end_offset_for: EndOffsetFor,
) -> int:
    """Where this log agrees with the leader's (Kafka's ``getOffsetTruncationState``): an
    unknown leader end truncates to the high watermark; else the smaller of the leader's end
    offset for its epoch and this log's own end offset for that epoch (its log end when it
    knows nothing of it). When this log's nearest epoch is an older one, the next fetch,
    made with that epoch, finds the rest of the divergence."""
    if leader_epoch == NO_EPOCH or leader_end_offset < 0:
        return min(high_watermark, log_end_offset)
    own_epoch, own_end = end_offset_for(leader_epoch)
    if own_epoch == NO_EPOCH or own_end < 0:
        return min(leader_end_offset, log_end_offset)
    return min(leader_end_offset, own_end, log_end_offset)


def out_of_range_step(
    log_end_offset: int, leader_log_start_offset: int, leader_log_end_offset: int
) -> tuple[str, int]:
    """After OFFSET_OUT_OF_RANGE and the leader's offsets (Kafka's
    ``fetchOffsetAndTruncate``): ("truncate", leader end) when this log is longer than the
    leader's (an unclean election); ("restart", leader start) when it ends below the leader's
    log start; else ("retry", -1)."""
    if leader_log_end_offset < log_end_offset:
        return "truncate", leader_log_end_offset
    if leader_log_start_offset > log_end_offset:
        return "restart", leader_log_start_offset
    return "retry", -1
