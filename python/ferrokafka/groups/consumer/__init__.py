"""Consumer groups of the KIP-848 protocol (``group.protocol=consumer``).

Layout:

- :mod:`.assignors`: the server-side assignors "uniform" (default) and "range", pure functions.
- :mod:`.member`: a member and its reconciliation toward the target assignment (revoke first).
- :mod:`.group`: the group, sans-io: ConsumerGroupHeartbeat's rules, epochs, deadlines, and
  the :class:`~ferrokafka.groups.base.Group` interface (offset commit/fetch validation).
- :mod:`.records`: the group's records on ``__consumer_offsets`` and their replay at load.
- :mod:`.service`: the group inside the coordinator (trio): write-then-adopt, timers.

Not implemented: online migration of a classic group that has members (answered
GROUP_ID_NOT_FOUND, Kafka's answer under group.consumer.migration.policy=disabled; Kafka's
default, bidirectional, converts it), classic-protocol members inside a consumer group, the
group.consumer.assignors and migration policy configs, per-group configs
(``consumer.session.timeout.ms`` as a GROUP config resource), client-side assignors,
rack-aware assignment, Kafka's per-partition assignment epochs (offset commits must name the
member's current epoch). Regular expressions are Python's ``re`` (full match), not RE2/J; the
metadata hash in ConsumerGroupMetadata is ours.
"""
