"""Share groups (KIP-932): Kafka's queues on a log.

- :mod:`.persister`: the contract between the share-partition leaders (which hold each
  share-partition's in-flight records) and the share coordinator (which keeps their durable
  state on ``__share_group_state``): :class:`~.persister.Persister` and its value types, plus
  :class:`~.persister.InMemoryPersister` for tests and until the coordinator is wired.
- :mod:`.partition`: one share-partition's in-flight records, sans-io (acquire, acknowledge,
  lock expiry, the delivery count limit, the start offset).
- :mod:`.manager`: the share-partition leaders of a broker: loading from and writing to the
  persister, ShareFetch reads, lock timers.
- :mod:`.sessions`: share sessions (ShareFetch/ShareAcknowledge epochs, the cache limit).
"""
