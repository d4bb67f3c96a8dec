"""The controller's :class:`~ferrokafka.cluster.metadata_log.MetadataLog` over a running
:class:`~ferrokafka.cluster.raft.driver.RaftDriver`: the multi-voter counterpart of
``SingleVoterLog``, with the same two calls, made from a worker thread as the controller does.

``append`` encodes the records as one batch (one controller operation) and blocks until the
quorum commits it (or raises NotActiveControllerError: this node does not lead, or lost the
lead before the commit); ``read_committed`` reads committed batches from the log, leaving out
the quorum's control batches (LeaderChange). ``close`` is the driver's owner's business (its
``run`` closes the log), so it does nothing here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import trio

from ferrokafka.cluster.metadata_log import (
    BATCH_BYTES_MAX,
    RECORDS_PER_APPEND_MAX,
    CommittedBatch,
    MetadataLogError,
)
from ferrokafka.cluster.raft.driver import DriverUnavailable, RaftDriver
from ferrokafka.cluster.raft.replica import NotLeaderError
from ferrokafka.cluster.serde import decode_record, encode_record
from ferrokafka.cluster.snapshot_file import Snapshot
from ferrokafka.protocol.schema import Message


class NotActiveControllerError(MetadataLogError):
    """This node is not the quorum's leader (any more): its controller may not append."""


class RaftMetadataLog:
    """MetadataLog over ``driver``; ``trio_token`` is the token of the driver's trio run."""

    def __init__(self, driver: RaftDriver, trio_token: trio.lowlevel.TrioToken) -> None:
        self.driver = driver
        self.trio_token = trio_token

    @property
    def committed_offset(self) -> int:
        return self.driver.committed_offset

    def append(self, records: Sequence[Message]) -> int:
        """From a worker thread: append ``records`` as one batch; the committed offset after it
        once it is committed."""
        if not records:
            raise MetadataLogError("an append needs at least one record")
        if len(records) > RECORDS_PER_APPEND_MAX:
            raise MetadataLogError(
                f"{len(records)} records in one operation; the limit is {RECORDS_PER_APPEND_MAX}"
            )
        payloads = [encode_record(message) for message in records]
        size = sum(len(p) for p in payloads)
        if size > BATCH_BYTES_MAX:
            raise MetadataLogError(f"metadata batch of {size} bytes > {BATCH_BYTES_MAX}")
        try:
            last = trio.from_thread.run(self.driver.append, payloads, trio_token=self.trio_token)
        except (NotLeaderError, DriverUnavailable) as exc:
            raise NotActiveControllerError(str(exc)) from exc
        return last + 1

    def kraft_version(self) -> int:
        """From a worker thread: the quorum's kraft.version (the controller's UpdateFeatures)."""
        return trio.from_thread.run_sync(self.driver.kraft_version, trio_token=self.trio_token)

    def upgrade_kraft_version(self, version: int, validate_only: bool) -> bool:
        """From a worker thread: the driver's ``upgrade_kraft_version`` (KRaftUpgradeError
        passes through; not leading is NotActiveControllerError)."""
        try:
            return trio.from_thread.run_sync(
                self.driver.upgrade_kraft_version,
                version,
                validate_only,
                trio_token=self.trio_token,
            )
        except (NotLeaderError, DriverUnavailable) as exc:
            raise NotActiveControllerError(str(exc)) from exc

    def read_committed(self, offset: int) -> Iterator[CommittedBatch]:
        """Committed data batches holding records at ``offset`` or later, oldest first."""
        log = self.driver.log
        if log is None:
            raise MetadataLogError("the raft driver has not opened its log")
        for batch in log.batches(offset, self.committed_offset):
            if batch.is_control:
                continue
            first = batch.last_offset - len(batch.values) + 1
            records = tuple(
                decode_record(value)
                for position, value in enumerate(batch.values, start=first)
                if position >= offset and isinstance(value, bytes)
            )
            if records:
                yield CommittedBatch(batch.base_offset, batch.last_offset, records)

    def snapshot_to_load(self, offset: int) -> Snapshot | None:
        log = self.driver.log
        if log is None:
            raise MetadataLogError("the raft driver has not opened its log")
        return log.snapshot_to_load(offset)

    def close(self) -> None:
        """Nothing: the driver's ``run`` owns and closes the log."""
