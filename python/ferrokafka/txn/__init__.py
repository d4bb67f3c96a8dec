"""The transaction coordinator (Kafka's TransactionCoordinator, KIP-98, KIP-890): transaction
state on the compacted ``__transaction_state`` topic, hosted through the coordinator runtime.

:mod:`ferrokafka.txn.verification` is the contract between the produce path and the
coordinator: a partition leader asks the coordinator of a transactional id whether a partition
was added to the producer's transaction (KIP-890 part 1) or, with transaction.version 2, adds
it (part 2).
"""

from ferrokafka.txn.verification import TxnPartitionVerifier

__all__ = ["TxnPartitionVerifier"]
