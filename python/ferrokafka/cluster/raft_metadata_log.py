"""RaftMetadataLog: the :class:`~ferrokafka.cluster.metadata_log.MetadataLog` of a node in a
KRaft quorum of several voters, over its :class:`~ferrokafka.cluster.raft.driver.RaftDriver`.

The controller appends from a worker thread (its operations are synchronous): the records go
to the driver in the trio thread as one batch, and the call returns once the quorum committed
them — or raises :class:`NotActiveControllerError` when this node does not lead (any more).
Loaders (the controller's own, a broker's feed) read what committed: batches below the high
watermark, Raft's control batches (leader changes, voters) left out.
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
from ferrokafka.protocol.schema import Message


class NotActiveControllerError(MetadataLogError):
    """This node is not the quorum's leader: its controller may not append."""


class RaftMetadataLog:
    """Appends through ``driver`` (from worker threads of the trio run ``trio_token`` names),
    reads from its log."""

    def __init__(self, driver: RaftDriver, trio_token: trio.lowlevel.TrioToken) -> None:
        self._driver = driver
        self._token = trio_token

    @property
    def committed_offset(self) -> int:
        return self._driver.committed_offset

    def append(self, records: Sequence[Message]) -> int:
        """Append ``records`` as one batch; returns the offset after it once committed."""
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
            last = trio.from_thread.run(self._driver.append, payloads, trio_token=self._token)
        except (NotLeaderError, DriverUnavailable) as exc:
            raise NotActiveControllerError(str(exc)) from exc
        return last + 1

    def read_committed(self, offset: int) -> Iterator[CommittedBatch]:
        log = self._driver.log
        if log is None:
            return
        for batch in log.batches(max(offset, 0), self.committed_offset):
            if batch.is_control:
                continue
            records = tuple(
                decode_record(value)
                for index, value in enumerate(batch.values)
                if batch.base_offset + index >= offset and isinstance(value, bytes)
            )
            if records:
                yield CommittedBatch(batch.base_offset, batch.last_offset, records)

    def close(self) -> None:
        """The driver owns the log and closes it."""
