"""Fault injection against ``ferrokafka serve`` processes, and checkers over the history.

Run it with ``python -m tests.faults --seeds 1,2,3 --duration 60`` (see ``--help``; ``--nodes
3`` for a cluster, ``--broker kafka|both`` for the Apache Kafka baseline); the CI forms are
``tests/faults/test_single_node.py`` and ``tests/faults/test_cluster.py``.

- :mod:`.nodes`: a node is a ``ferrokafka serve`` process (own data dir, port, stderr file;
  optionally a tmpfs log dir), faulted by PID: SIGKILL, SIGSTOP/SIGCONT, clean restart, disk
  full, and a kill on a full disk.
- :mod:`.netns`: a network namespace per node behind a bridge (the multi-node placement),
  blackhole routes and links for the network faults.
- :mod:`.cluster`: a KRaft cluster of such nodes, its network faults, and the targets of a
  fault (a partition's leader, the active controller); :mod:`.kafka_node`, Apache Kafka's.
- :mod:`.schedule`: the nemesis schedule drawn from a seed; :mod:`.nemesis` plays it.
- :mod:`.workloads`: idempotent producers (confluent-kafka, Kafka's VerifiableProducer) and
  group consumers, every operation recorded in a :mod:`.history`; :mod:`.java_consumer`:
  Kafka's VerifiableConsumer as a group member (used by tests/cluster/test_bounce_processes.py).
- :mod:`.txn_workload`: transactional copiers (confluent-kafka, consume-transform-produce
  with ``send_offsets_to_transaction``, some aborted on purpose) and a read_committed
  reader, on a history of their own (``--workload txn``).
- :mod:`.checkers`: pure functions from a history to its anomalies; :mod:`.txn_checkers`,
  the transactional ones (G1a, G1b, lost committed records, exactly-once copy).
- :mod:`.runner`: one run per seed and the summary table.
"""
