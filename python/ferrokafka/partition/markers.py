"""Transaction markers on a partition: the COMMIT or ABORT control batch the transaction
coordinator has written at the end of a producer's transaction (Kafka's
``ProducerAppendInfo.appendEndTxnMarker`` and the transaction-index part of
``UnifiedLog.append``), and the transaction index (``.txnindex``) they feed.

A marker ends the producer's transaction on the partition; an ABORT also goes into the
transaction index with the last stable offset of that moment, which is how a read_committed
fetch learns which producers' records to drop (Kafka's collectAbortedTransactions).

The native leader append refuses control batches (it validates as for a client), so a marker
is written as a follower writes: its batch is rebuilt here with the log end as base offset and
the leader epoch stamped, then appended with ``Log.append_as_follower``. The batch is one
control record built by :func:`build_control_batch`, so nothing a client sent is written
unchecked. Used by :class:`ferrokafka.partition.Partition` only.
"""

from __future__ import annotations

import logging
from typing import Protocol

from ferrokafka.partition.producer_state import Marker, ProducerState
from ferrokafka.storage import build_control_batch

log = logging.getLogger(__name__)

_warned_no_txn_index = False


class TxnIndexLog(Protocol):
    """What a log with a transaction index offers (the native Log's methods)."""

    def append_aborted_txn(
        self, producer_id: int, first_offset: int, last_offset: int, last_stable_offset: int
    ) -> None: ...

    def collect_aborted_txns(
        self, start_offset: int, upper_bound_offset: int
    ) -> list[tuple[int, int]]: ...


def marker_batch(marker: Marker, base_offset: int, leader_epoch: int) -> bytes:
    """The control batch of ``marker`` placed at ``base_offset`` in ``leader_epoch``."""
    return build_control_batch(
        commit=marker.commit,
        producer_id=marker.producer_id,
        producer_epoch=marker.producer_epoch,
        coordinator_epoch=marker.coordinator_epoch,
        timestamp=marker.timestamp,
        base_offset=base_offset,
        partition_leader_epoch=leader_epoch,
    )


def record_marker(state: ProducerState, partition_log: object, marker: Marker) -> None:
    """A marker is in the log at ``marker.offset``: end the producer's transaction, and put
    an abort into the transaction index first (Kafka completes the transaction only once its
    index entry is written)."""
    completed = state.apply_marker(marker)
    if completed is None:
        return
    if completed.is_aborted:
        stable = state.txns.last_stable_offset(completed)
        append_aborted_txn(
            partition_log,
            completed.producer_id,
            completed.first_offset,
            completed.last_offset,
            stable,
        )
    state.complete(completed)


def append_aborted_txn(
    partition_log: object,
    producer_id: int,
    first_offset: int,
    last_offset: int,
    last_stable_offset: int,
) -> None:
    """``Log.append_aborted_txn`` where the native module has it (the transaction index)."""
    append = getattr(partition_log, "append_aborted_txn", None)
    if append is None:
        _warn_no_txn_index()
        return
    append(producer_id, first_offset, last_offset, last_stable_offset)


def collect_aborted_txns(
    partition_log: object, start_offset: int, upper_bound_offset: int
) -> list[tuple[int, int]]:
    """(producer id, first offset) of the aborted transactions overlapping
    [start_offset, upper_bound_offset), from the transaction index."""
    collect = getattr(partition_log, "collect_aborted_txns", None)
    if collect is None:
        return []
    result: list[tuple[int, int]] = collect(start_offset, upper_bound_offset)
    return result


def _warn_no_txn_index() -> None:
    global _warned_no_txn_index
    if not _warned_no_txn_index:
        _warned_no_txn_index = True
        log.warning(
            "this native module has no transaction index: aborted transactions are not "
            "recorded, and read_committed consumers will see their records"
        )
