"""Client quotas and connection limits, as Kafka's broker enforces them (issue 18).

- :mod:`.rate`: Kafka's sampled rate (``Rate`` over a ``WindowedSum``: ``quota.window.num``
  samples of ``quota.window.size.seconds``) and the throttle time of a violation
  (``QuotaUtils.throttleTime``); sans-io, every call takes the time in ms.
- :mod:`.client_quotas`: which quota applies to a (user, client-id) (Kafka's
  ``ClientQuotaManager`` resolution order) and the shared sensors that measure it.
- :mod:`.throttle`: what a connection asks after a Produce or a Fetch, and after any request
  under a ``request_percentage``: the throttle time to put in ``throttle_time_ms`` and to keep
  the channel muted for.
- :mod:`.request_time`: a request's handler time (Kafka's request handler thread time).
- :mod:`.mutations`: ``controller_mutation_rate`` (Kafka's token bucket, KIP-599) for
  CreateTopics, CreatePartitions and DeleteTopics.
- :mod:`.connections`: ``max.connections.per.ip`` and its overrides (the acceptor in
  server/server.py also applies ``max.connection.creation.rate``).
"""
