"""TLS listeners (issue 18): SSLContexts built from Kafka's ``ssl.*`` keys, the handshake of
each accepted connection, and the client certificate's principal.

- :mod:`.principal_mapping`: ``ssl.principal.mapping.rules`` (Kafka's SslPrincipalMapper).
- ``config/keystores.py``: key and trust material from PKCS12 and PEM stores (shared with
  the node's own TLS clients, cluster/connector/).
- :mod:`.context`: one listener's ``ssl.*`` values (``listener.name.<l>.`` first) and the
  server-side :class:`ssl.SSLContext` they describe (protocols, cipher suites, client auth).
- :mod:`.listener`: :class:`TlsListener`, the per-listener context (rebuilt when a dynamic
  config changes it) and the bounded handshake that yields the connection's principal.
"""
