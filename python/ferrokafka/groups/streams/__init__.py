"""Streams groups of the KIP-1071 protocol (``group.protocol=streams`` in Kafka Streams).

Layout:

- :mod:`.topology`: the topology members declare, resolved against the cluster's topics (task
  counts, internal topics to create, statuses), sans-io.
- :mod:`.assignor`: the sticky task assignor, a pure function (active tasks balanced and
  sticky, standbys on other processes).
- :mod:`.group`: the group, sans-io: StreamsGroupHeartbeat's rules and revoke-before-assign
  reconciliation; epochs, deadlines and the :class:`~ferrokafka.groups.base.Group` interface
  are :class:`~ferrokafka.groups.epoch_group.EpochGroup`'s (shared with consumer groups).
- :mod:`.records`: what the group's StreamsGroup* records on ``__consumer_offsets`` hold
  (:mod:`~ferrokafka.groups.member_records` writes and replays them).
- :mod:`.service`: the group's config and the creation of missing internal topics through the
  controller, for :class:`~ferrokafka.groups.heartbeat_service.HeartbeatService`
  (write-then-adopt, timers).

Not implemented: warm-up tasks (an active task moves at once), rack/client-tag-aware standby
placement, ``streams.initial.rebalance.delay.ms`` (the first assignment is made at once),
topology updates while the group has members, the topology description of KIP-1331
(StreamsGroupTopologyDescriptionUpdate), task offsets and lags, conversion from or to a
classic group that has members, Kafka's metadata hash in StreamsGroupMetadata (0 here).
"""
