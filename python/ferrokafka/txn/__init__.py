"""The transaction coordinator (Kafka's TransactionCoordinator, KIP-98, KIP-890): transaction
state on the compacted ``__transaction_state`` topic, hosted through the coordinator runtime.

:mod:`ferrokafka.txn.verification` is the contract between the produce path and the
coordinator: a partition leader asks the coordinator of a transactional id whether a partition
was added to the producer's transaction (KIP-890 part 1) or, with transaction.version 2, adds
it (part 2).

Layout:

- :mod:`~ferrokafka.txn.metadata` -- one transactional id's state and its transitions
  (Kafka's TransactionMetadata), sans-io;
- :mod:`~ferrokafka.txn.operations` -- what each request decides (InitProducerId,
  AddPartitionsToTxn and its verify_only form, EndTxn for either transaction.version), sans-io;
- :mod:`~ferrokafka.txn.coordinator` -- the coordinator on the runtime: load, writes, ends,
  timeouts, expiry (Kafka's TransactionCoordinator with its TransactionStateManager);
- :mod:`~ferrokafka.txn.markers` -- WriteTxnMarkers to the partitions' leaders (Kafka's
  TransactionMarkerChannelManager);
- :mod:`~ferrokafka.txn.verifier` -- the :class:`TxnPartitionVerifier` the produce path gets
  (Kafka's AddPartitionsToTxnManager);
- :mod:`~ferrokafka.txn.serde` and ``records/`` (generated) -- ``__transaction_state``'s
  records in Kafka's format.

The server registers the handlers and makes the coordinator and the verifier
(``ferrokafka.server.handlers.txn``); the Broker runs the coordinator.
"""

from ferrokafka.txn.verification import TxnPartitionVerifier

__all__ = ["TxnPartitionVerifier"]
