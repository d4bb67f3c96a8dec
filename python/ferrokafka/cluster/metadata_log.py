"""The metadata log: where the controller's records become durable and committed.

:class:`MetadataLog` is the seam between the controller and consensus: ``append`` hands over
records and returns once they are committed, ``read_committed`` gives committed batches back
in order. :class:`SingleVoterLog` is the one-node quorum: the controller is the only voter,
so a record is committed once it is on disk, and the committed offset (Kafka's high
watermark) is the log end offset. A multi-voter quorum implements the same two calls.

On disk it is Kafka's layout: a ``__cluster_metadata-0`` partition directory of the native
storage engine, one record batch per append, each record a framed metadata record
(:mod:`ferrokafka.cluster.serde`) with a null key, so Kafka's DumpLogSegments
``--cluster-metadata-decoder`` reads it. Opening the log recovers it: a batch torn by a crash
is cut off, so a restart replays exactly the appends that were acknowledged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ferrokafka.cluster.serde import ApiMessageAndVersion, decode_record, encode_record
from ferrokafka.protocol.schema import Message
from ferrokafka.storage import BatchBuilder, Log, LogConfig

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ferrokafka.cluster.snapshot_file import Snapshot

METADATA_TOPIC = "__cluster_metadata"
METADATA_PARTITION_DIR = f"{METADATA_TOPIC}-0"
# Kafka's QuorumController.MAX_RECORDS_PER_USER_OP: one operation's records go in one batch
# (applied atomically), and no operation may be bigger than this.
RECORDS_PER_APPEND_MAX = 10_000
# Kafka's KafkaRaftClient.MAX_BATCH_SIZE_BYTES: the largest metadata batch.
BATCH_BYTES_MAX = 8 * 1024 * 1024
# Bytes asked of the storage engine per read while replaying (whole batches are returned).
READ_BYTES = 1024 * 1024
# Kafka's metadata.log.segment.bytes default. Time and size retention of the Log are off:
# segments go only once a snapshot covers them (the Raft log's delete_before_snapshot).
SEGMENT_BYTES = 1024 * 1024 * 1024
# With one voter there is no election, so one epoch for the life of the log.
SINGLE_VOTER_EPOCH = 1


class MetadataLogError(RuntimeError):
    """An append that cannot be made (too many records, too big, log closed)."""


class SnapshotRequiredError(MetadataLogError):
    """A read below the log start offset: the records there are only in a snapshot now."""


@dataclass(frozen=True, slots=True)
class CommittedBatch:
    """One committed batch: the records of one controller operation, in order."""

    base_offset: int
    last_offset: int
    records: tuple[ApiMessageAndVersion, ...]

    def messages(self) -> list[Message]:
        return [record.message for record in self.records]


class MetadataLog(Protocol):
    """What the controller and the image loader need of the metadata quorum."""

    @property
    def committed_offset(self) -> int:
        """One past the last committed record (Kafka's high watermark)."""
        ...

    def append(self, records: Sequence[Message]) -> int:
        """Append ``records`` as one atomic batch; returns the committed offset after it once
        it is committed (for one voter: on disk)."""
        ...

    def read_committed(self, offset: int) -> Iterator[CommittedBatch]:
        """Committed batches holding records at ``offset`` or later (earlier records of the
        first batch are left out), oldest first. Raises SnapshotRequiredError if ``offset`` is
        below the log start offset."""
        ...

    def snapshot_to_load(self, offset: int) -> Snapshot | None:
        """The snapshot a reader that needs ``offset`` next must load first: the latest one
        (never the bootstrap checkpoint) when ``offset`` is below the log start, or when
        ``offset`` is 0 (a reader starting from nothing starts from the latest snapshot, as
        Kafka's loader does); None otherwise or without snapshots."""
        ...

    def close(self) -> None: ...


def metadata_log_config(segment_bytes: int = SEGMENT_BYTES) -> LogConfig:
    return LogConfig(
        segment_bytes=segment_bytes,
        retention_ms=None,
        retention_bytes=None,
        max_message_bytes=BATCH_BYTES_MAX,
    )


def open_recovered(
    partition_dir: str | os.PathLike[str], segment_bytes: int = SEGMENT_BYTES
) -> Log:
    """Open the metadata log checking every batch (recovery point 0: it is small, and an image
    is only as good as the records it replays). A corrupt or torn tail is cut off, as Kafka
    does, and said: what it held is gone from the metadata (a topic created there no longer
    exists, and its partition directories become strays)."""
    path = Path(partition_dir)
    before = sum(p.stat().st_size for p in path.glob("*.log"))
    log = Log(str(path), metadata_log_config(segment_bytes), recovery_point=0)
    cut = before - log.size_in_bytes
    if cut > 0:
        logger.warning(
            "metadata log %s: %d bytes from offset %d on were corrupt or torn and were "
            "truncated; the metadata they held is lost",
            path,
            cut,
            log.log_end_offset,
        )
    return log


class SingleVoterLog:
    """The metadata log of a one-voter quorum, in ``<log_dir>/__cluster_metadata-0``."""

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        *,
        epoch: int = SINGLE_VOTER_EPOCH,
        segment_bytes: int = SEGMENT_BYTES,
    ):
        self.dir = os.path.join(os.fspath(log_dir), METADATA_PARTITION_DIR)
        os.makedirs(self.dir, exist_ok=True)
        self._log = open_recovered(self.dir, segment_bytes)
        self.epoch = epoch
        # Its metadata snapshots (written by the node's SingleVoterSnapshotWriter); imported
        # here, as snapshot files are a layer above this module.
        from ferrokafka.cluster.single_voter_snapshots import SingleVoterSnapshots

        self.snapshots = SingleVoterSnapshots(self.dir, self._log, epoch)

    @property
    def committed_offset(self) -> int:
        return self._log.log_end_offset

    @property
    def end_offset(self) -> int:
        return self._log.log_end_offset

    @property
    def flushed_offset(self) -> int:
        """Every record below this is on disk (fsynced)."""
        return self._log.recovery_point

    def append(self, records: Sequence[Message]) -> int:
        if not records:
            raise MetadataLogError("an append needs at least one record")
        if len(records) > RECORDS_PER_APPEND_MAX:
            raise MetadataLogError(
                f"{len(records)} records in one operation; the limit is {RECORDS_PER_APPEND_MAX}"
            )
        builder = BatchBuilder(partition_leader_epoch=self.epoch)
        for message in records:
            builder.append(encode_record(message), key=None)
        batch = builder.build()
        if len(batch) > BATCH_BYTES_MAX:
            raise MetadataLogError(f"metadata batch of {len(batch)} bytes > {BATCH_BYTES_MAX}")
        info = self._log.append(batch, leader_epoch=self.epoch)
        # The log is the source of truth: nothing is acknowledged before it is on disk.
        self._log.flush()
        self.snapshots.bytes_since += len(batch)
        assert info.record_count == len(records), info
        return info.last_offset + 1

    def read_committed(self, offset: int) -> Iterator[CommittedBatch]:
        position = max(offset, self._log.log_start_offset)
        while position < self.committed_offset:
            batches = self._log.read_batches(position, READ_BYTES, max_offset=self.committed_offset)
            if not batches:
                return
            for batch in batches:
                position = batch.next_offset
                if batch.is_control:
                    continue  # Raft's own records (leader change, voters) in a Kafka log
                records = tuple(
                    decode_record(record.value)
                    for record in batch.records()
                    if record.offset >= offset and record.value is not None
                )
                if records:
                    yield CommittedBatch(batch.base_offset, batch.last_offset, records)

    def snapshot_to_load(self, offset: int) -> Snapshot | None:
        """The latest snapshot when ``offset`` is below the log start or 0 (see
        :mod:`~ferrokafka.cluster.single_voter_snapshots`)."""
        return self.snapshots.to_load(offset)

    def close(self) -> None:
        self._log.close()

    def __enter__(self) -> SingleVoterLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
