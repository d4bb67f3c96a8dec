"""Helpers of the transaction tests: transactional batches, markers, and a native log that
also records every aborted transaction the partition indexes (with the LSO it gave), which
the native index does not hand back whole."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from ferrokafka.partition import Partition
from ferrokafka.partition.leader_epochs import load_leader_epoch_cache
from ferrokafka.partition.partition import PartitionState
from ferrokafka.partition.producer_state import load_producer_state
from ferrokafka.storage import BatchBuilder, Log, LogConfig, build_control_batch

ME = 1


def txn_batch(pid: int, epoch: int, seq: int, count: int = 1, *, txn: bool = True) -> bytes:
    builder = BatchBuilder(
        producer_id=pid, producer_epoch=epoch, base_sequence=seq, is_transactional=txn
    )
    for i in range(count):
        builder.append(b"p%d-s%d-%d" % (pid, seq, i), key=b"k")
    return builder.build()


def marker(pid: int, epoch: int, *, commit: bool, coordinator_epoch: int = 0) -> bytes:
    return build_control_batch(
        commit=commit, producer_id=pid, producer_epoch=epoch, coordinator_epoch=coordinator_epoch
    )


class TxnIndexLog:
    """A native Log that records the ``append_aborted_txn`` calls it passes on."""

    def __init__(self, log: Log) -> None:
        self._log = log
        # (producer id, first offset, last offset, last stable offset), in append order.
        self.aborted: list[tuple[int, int, int, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)

    def append_aborted_txn(
        self, producer_id: int, first_offset: int, last_offset: int, last_stable_offset: int
    ) -> None:
        self._log.append_aborted_txn(producer_id, first_offset, last_offset, last_stable_offset)
        self.aborted.append((producer_id, first_offset, last_offset, last_stable_offset))


async def txn_partition(
    path: Path,
    *,
    replicas: tuple[int, ...] = (ME,),
    leader: bool = True,
    config: LogConfig | None = None,
) -> Partition:
    log = Log(str(path), config or LogConfig())
    partition = Partition(
        "t",
        0,
        uuid.uuid4(),
        TxnIndexLog(log),  # type: ignore[arg-type]
        load_producer_state(log),
        load_leader_epoch_cache(log),
        local_broker_id=ME,
    )
    if leader:
        await partition.make_leader(PartitionState(ME, 0, 0, replicas, replicas))
    else:
        partition.make_follower(PartitionState(2, 0, 0, replicas, replicas))
    return partition
