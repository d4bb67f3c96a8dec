"""Streams groups of the KIP-1071 protocol (``group.protocol=streams`` in Kafka Streams).

Layout:

- :mod:`.topology`: the topology members declare, resolved against the cluster's topics (task
  counts, internal topics to create, statuses), sans-io.
- :mod:`.assignor`: the sticky task assignor, a pure function (active tasks balanced and
  sticky, standbys on other processes).
- :mod:`.group`: the group, sans-io: StreamsGroupHeartbeat's rules, epochs, revoke-before-
  assign reconciliation, deadlines, and the :class:`~ferrokafka.groups.base.Group` interface.
- :mod:`.records`: the group's StreamsGroup* records on ``__consumer_offsets`` and their replay.
- :mod:`.service`: the group inside the coordinator (trio): write-then-adopt, timers, and the
  creation of missing internal topics through the controller.

Not implemented: warm-up tasks (an active task moves at once), rack/client-tag-aware standby
placement, ``streams.initial.rebalance.delay.ms`` (the first assignment is made at once),
topology updates while the group has members, the topology description of KIP-1331
(StreamsGroupTopologyDescriptionUpdate), task offsets and lags, conversion from or to a
classic group that has members, Kafka's metadata hash in StreamsGroupMetadata (0 here).
"""
