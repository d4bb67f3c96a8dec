"""Consumer groups of the KIP-848 protocol (``group.protocol=consumer``).

Layout:

- :mod:`.assignors`: the server-side assignors "uniform" (default) and "range", pure functions.
- :mod:`.member`: a member and its reconciliation toward the target assignment (revoke first).
- :mod:`.group`: the group, sans-io: ConsumerGroupHeartbeat's rules and the assignment; the
  epochs, deadlines and the :class:`~ferrokafka.groups.base.Group` interface are
  :class:`~ferrokafka.groups.epoch_group.EpochGroup`'s (shared with streams groups).
- :mod:`.records`: what the group's records on ``__consumer_offsets`` hold
  (:mod:`~ferrokafka.groups.member_records` writes and replays them).
- :mod:`.service`: the group's config and topics for
  :class:`~ferrokafka.groups.heartbeat_service.HeartbeatService` (write-then-adopt, timers).

Not implemented: online migration of a classic group that has members (answered
GROUP_ID_NOT_FOUND, Kafka's answer under group.consumer.migration.policy=disabled; Kafka's
default, bidirectional, converts it), classic-protocol members inside a consumer group, the
group.consumer.assignors and migration policy configs, per-group configs
(``consumer.session.timeout.ms`` as a GROUP config resource), client-side assignors,
rack-aware assignment, Kafka's per-partition assignment epochs (offset commits must name the
member's current epoch). Regular expressions are Python's ``re`` (full match), not RE2/J; the
metadata hash in ConsumerGroupMetadata is ours.
"""
