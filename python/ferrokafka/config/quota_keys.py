"""Broker keys of client quotas and connection limits (issue 18).

Rows here are *implemented* keys (config/known_keys.py): listing one lifts the start-up refusal
that protects a broker from silently running without the security its file asks for. A
listener-prefixed form (``listener.name.<l>.<key>``) of a key listed here is implemented too.

``max.connections``, ``max.connections.per.ip``, ``max.connections.per.ip.overrides`` and
``max.connection.creation.rate`` are in broker_keys.py (the server's own limits);
server/quotas/connections.py enforces the per-IP ones.
"""

from __future__ import annotations

from ferrokafka.config.definitions import ConfigKey, ConfigType, at_least

QUOTA_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("quota.window.num", ConfigType.INT, 11,
              "Samples kept in memory for client quotas.", at_least(1)),
    ConfigKey("quota.window.size.seconds", ConfigType.INT, 1,
              "Time span of each sample of client quotas.", at_least(1)),
    ConfigKey("controller.quota.window.num", ConfigType.INT, 11,
              "Samples kept in memory for controller mutation quotas.", at_least(1)),
    ConfigKey("controller.quota.window.size.seconds", ConfigType.INT, 1,
              "Time span of each sample of controller mutation quotas.", at_least(1)),
)  # fmt: skip
