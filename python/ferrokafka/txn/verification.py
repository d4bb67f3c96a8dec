"""What a partition leader asks the transaction coordinator before it appends the first
transactional batch of a producer's transaction to a partition (Kafka's
AddPartitionsToTxnManager, KIP-890).

- Part 1 (``add=False``): verify that the partitions were added to the producer's ongoing
  transaction (AddPartitionsToTxn v4+ with ``verify_only``, sent by the broker). A partition
  that was not gets INVALID_TXN_STATE, and nothing is appended: a hanging transaction cannot
  start on a partition the coordinator will never write a marker to.
- Part 2 (``add=True``, transaction.version 2, Produce v12+): the leader adds the partitions to
  the transaction on the producer's behalf.

The coordinator of the transactional id may be this broker (an in-process call) or another one
(a request over the network): the implementation decides, the produce path does not care.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

TopicPartition = tuple[str, int]


class TxnPartitionVerifier(Protocol):
    async def verify(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: Sequence[TopicPartition],
        *,
        add: bool,
    ) -> dict[TopicPartition, int]:
        """A Kafka error code for each of ``partitions``: 0 when the producer's transaction
        holds it (after adding it, with ``add``), else the code the produce answers with
        (INVALID_TXN_STATE, INVALID_PRODUCER_EPOCH, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS,
        NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, ...)."""
        ...
