"""Broker keys of client quotas and connection limits (issue 18).

Rows here are *implemented* keys (config/known_keys.py): listing one lifts the start-up refusal
that protects a broker from silently running without the security its file asks for. A
listener-prefixed form (``listener.name.<l>.<key>``) of a key listed here is implemented too.
"""

from __future__ import annotations

from ferrokafka.config.definitions import ConfigKey

QUOTA_KEYS: tuple[ConfigKey, ...] = ()
