"""Share groups (KIP-932): Kafka's queues on a log.

- :mod:`.persister`: the contract between the share-partition leaders (which hold each
  share-partition's in-flight records) and the share coordinator (which keeps their durable
  state on ``__share_group_state``): :class:`~.persister.Persister` and its value types, plus
  :class:`~.persister.InMemoryPersister` for tests and until the coordinator is wired.
- :mod:`.coordinator`: the share coordinator, share-partition state on ``__share_group_state``
  through the coordinator runtime (Kafka 4.4's ShareCoordinatorShard), with :mod:`.serde` and
  :mod:`.records` (its records, generated) and :mod:`.combiner` (4.4's batch combining).
- :mod:`.state_persister`: the durable :class:`~.persister.Persister` on that coordinator,
  in-process or over the state RPCs to the coordinator's node (``node.share_persister``).
- :mod:`.partition`: one share-partition's in-flight records, sans-io (acquire, acknowledge,
  lock expiry, the delivery count limit, the start offset).
- :mod:`.manager`: the share-partition leaders of a broker: loading from and writing to the
  persister, ShareFetch reads, lock timers.
- :mod:`.sessions`: share sessions (ShareFetch/ShareAcknowledge epochs, the cache limit).
"""
