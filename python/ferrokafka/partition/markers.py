"""Transaction markers on a partition: the COMMIT or ABORT control batch the transaction
coordinator has written at the end of a producer's transaction (Kafka's
``ProducerAppendInfo.appendEndTxnMarker`` and the transaction-index part of
``UnifiedLog.append``), and the transaction index (``.txnindex``) they feed.

A marker ends the producer's transaction on the partition; an ABORT also goes into the
transaction index with the last stable offset of that moment, which is how a read_committed
fetch learns which producers' records to drop (``Log.collect_aborted_txns``, Kafka's
collectAbortedTransactions).

The native leader append refuses control batches (it validates as for a client), so a marker
is written as a follower writes: its batch is rebuilt here with the log end as base offset and
the leader epoch stamped, then appended with ``Log.append_as_follower``. The batch is one
control record built by :func:`build_control_batch`, so nothing a client sent is written
unchecked. Used by :class:`ferrokafka.partition.Partition` only.
"""

from __future__ import annotations

import logging

from ferrokafka.partition.producer_state import Marker, ProducerState
from ferrokafka.storage import FerrokafkaError, Log, build_control_batch

log = logging.getLogger(__name__)


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


def record_marker(state: ProducerState, partition_log: Log, marker: Marker) -> None:
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
    partition_log: Log,
    producer_id: int,
    first_offset: int,
    last_offset: int,
    last_stable_offset: int,
) -> None:
    """``Log.append_aborted_txn``. A failure (an I/O error, or an entry the index refuses) is
    logged and the transaction completed all the same: the marker is in the log already
    (Kafka would fail the log directory; read_committed consumers of this replica then see
    the aborted records)."""
    try:
        partition_log.append_aborted_txn(producer_id, first_offset, last_offset, last_stable_offset)
    except (FerrokafkaError, OSError) as exc:
        log.error(
            "could not index the aborted transaction of producer %d (%d-%d) in %s: %s",
            producer_id,
            first_offset,
            last_offset,
            partition_log.dir,
            exc,
        )
