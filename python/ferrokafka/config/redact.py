"""Config values as logs may show them: a secret's value becomes ``[hidden]``, as Kafka prints
its PASSWORD-typed values (``AbstractConfig.logAll``, ``Password.toString``).

A key counts as secret by its name, not by a catalog, so a key this broker does not know (a
client's ``sasl.jaas.config`` passed through, a plugin's ``*.token``) is hidden too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

HIDDEN = "[hidden]"
# Parts of a key's name that make its value secret (lower case; matched anywhere in the key).
SECRET_KEY_PARTS = ("password", "secret", "sasl.jaas.config", "ssl.key", "token", "credentials")


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def redact_value(key: str, value: object) -> object:
    """``value``, or :data:`HIDDEN` when ``key`` names a secret (a None value stays None: an
    unset or deleted key hides nothing)."""
    if value is None or not is_secret_key(key):
        return value
    return HIDDEN


def redacted(config: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``config`` with every secret's value hidden."""
    return {key: redact_value(key, value) for key, value in config.items()}


def format_settings(settings: Iterable[tuple[str, object]]) -> str:
    """``key=value, key=value`` with secrets hidden: for a log line."""
    return ", ".join(f"{key}={redact_value(key, value)}" for key, value in settings)


def redacted_message(key: str | None, value: object, message: str) -> str:
    """``message`` (a ConfigError's, which quotes the rejected value) with the value hidden
    when ``key`` names a secret."""
    if key is None or value is None or not is_secret_key(key):
        return message
    return message.replace(repr(value), HIDDEN).replace(str(value), HIDDEN)
