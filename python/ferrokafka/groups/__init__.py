"""Groups and committed offsets on ``__consumer_offsets``.

Layout:

- :mod:`~ferrokafka.groups.coordinator` -- the coordinator: the group map, the offsets store,
  writes to and the load of ``__consumer_offsets``, timers, offset expiry (its docstring says
  how a group kind plugs in);
- :mod:`~ferrokafka.groups.base` -- the interface every group kind offers;
- :mod:`~ferrokafka.groups.classic` -- the classic protocol (JoinGroup/SyncGroup/Heartbeat/
  LeaveGroup, KIP-345 static members);
- ``consumer/`` -- KIP-848 consumer groups (ConsumerGroupHeartbeat); ``streams/`` -- KIP-1071
  streams groups (StreamsGroupHeartbeat); what both are made of:
  :mod:`~ferrokafka.groups.epoch_group` (the group, sans-io),
  :mod:`~ferrokafka.groups.member_records` (its records) and
  :mod:`~ferrokafka.groups.heartbeat_service` (the group inside the coordinator);
- :mod:`~ferrokafka.groups.records` (generated) and :mod:`~ferrokafka.groups.serde` -- the
  records of ``__consumer_offsets`` in Kafka's format;
- :mod:`~ferrokafka.groups.offsets` -- the offsets store; :mod:`~ferrokafka.groups.txn_offsets`
  -- the offsets transactions committed (TxnOffsetCommit), pending until their markers. Timers
  are the coordinator runtime's (:mod:`ferrokafka.coordinator.timers`).
"""
