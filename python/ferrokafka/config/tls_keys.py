"""Broker keys of TLS listeners (server/tls/) (issue 18).

Rows here are *implemented* keys (config/known_keys.py): listing one lifts the start-up refusal
that protects a broker from silently running without the security its file asks for. A
listener-prefixed form (``listener.name.<l>.<key>``) of a key listed here is implemented too.
"""

from __future__ import annotations

from ferrokafka.config.definitions import ConfigKey

TLS_KEYS: tuple[ConfigKey, ...] = ()
