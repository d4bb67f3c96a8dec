"""Config keys as Kafka's ``ConfigDef`` defines them: a type, a default, a validator, a doc.

A :class:`ConfigTable` turns raw strings (from a ``.properties`` file, a CLI flag, an
AlterConfigs request) into typed values exactly the way Kafka's ``ConfigDef.parse`` does, so a
value Kafka accepts is accepted here and a value Kafka rejects is rejected with a
:class:`ConfigError` naming the key, the value and the reason.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Java's Integer/Short/Long bounds: Kafka parses INT as a 32-bit int, LONG as a 64-bit one, and
# a value outside the range is "not a number of type INT", not a silent wrap.
INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
_INT_RANGES = {
    "SHORT": (-(2**15), 2**15 - 1),
    "INT": (-(2**31), INT_MAX),
    "LONG": (-(2**63), LONG_MAX),
}
# Java's parseInt/parseLong accept an optional sign and ASCII digits only; Python's int() would
# also take "1_000" and non-ASCII digits, which Kafka rejects.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# ConfigDef splits lists on commas with any whitespace around them (COMMA_WITH_WHITESPACE).
_LIST_SPLIT = re.compile(r"\s*,\s*")


class ConfigError(ValueError):
    """A configuration Kafka would refuse: an unknown key, a bad value, or conflicting keys.

    ``key`` and ``value`` name what was rejected (``value`` is the raw string when there was
    one); ``reason`` says why; ``suggestion`` is the nearest known key for an unknown one.
    """

    def __init__(
        self,
        key: str | None,
        value: object,
        reason: str,
        *,
        suggestion: str | None = None,
    ) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        self.suggestion = suggestion
        if key is None:
            message = reason
        else:
            message = f"Invalid value {value!r} for configuration {key}: {reason}"
        super().__init__(message)


class UnknownConfigError(ConfigError):
    """A key no table knows. Kafka itself only logs these; ferrokafka refuses them so a typo
    in ``server.properties`` cannot silently fall back to a default."""

    def __init__(self, key: str, value: object, suggestion: str | None) -> None:
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(key, value, "unknown configuration" + hint, suggestion=suggestion)
        self.args = (f"Unknown configuration {key!r} (value {value!r}){hint}",)


class ConfigType(enum.Enum):
    """Kafka's ``ConfigDef.Type``; the value is the DescribeConfigs ``ConfigType`` id."""

    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9


Validator = Callable[[Any], "str | None"]
"""Returns None when the typed value is valid, else the reason (Kafka's wording)."""


def at_least(minimum: int | float) -> Validator:
    def check(value: Any) -> str | None:
        if value is not None and value < minimum:
            return f"Value must be at least {minimum}"
        return None

    check.__doc__ = f"[{minimum},...]"
    return check


def between(low: int | float, high: int | float) -> Validator:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if value < low:
            return f"Value must be no less than {low}"
        if value > high:
            return f"Value must be no more than {high}"
        return None

    check.__doc__ = f"[{low},...,{high}]"
    return check


def one_of(*choices: str) -> Validator:
    """Kafka's ``ValidString.in``: case-sensitive, like Kafka."""

    def check(value: Any) -> str | None:
        if value is not None and value not in choices:
            return f"String must be one of: {', '.join(choices)}"
        return None

    check.__doc__ = "[" + ", ".join(choices) + "]"
    return check


def list_of(*choices: str, allow_empty: bool = True) -> Validator:
    """Kafka's ``ValidList.in``: every element one of ``choices``."""

    def check(value: Any) -> str | None:
        if value is None:
            return None
        if not value and not allow_empty:
            return "Empty list is not allowed"
        for item in value:
            if item not in choices:
                return f"Invalid value {item} in list; must be one of: {', '.join(choices)}"
        return None

    check.__doc__ = "[" + ", ".join(choices) + "]"
    return check


def non_empty_distinct_list(value: Any) -> str | None:
    """Kafka's ``ValidList.anyNonDuplicateValues(false, ...)`` for directory lists."""
    if value is None:
        return None
    if not value or any(item == "" for item in value):
        return "Empty list or empty entries are not allowed"
    if len(set(value)) != len(value):
        return "Values must not be duplicated"
    return None


_NO_DEFAULT = object()
NO_DEFAULT: Any = _NO_DEFAULT
"""A required key (Kafka's ``NO_DEFAULT_VALUE``)."""


@dataclass(frozen=True)
class ConfigKey:
    """One key: Kafka's name, type, default (typed; None = null), validator and doc string.

    ``dynamic`` marks keys Kafka lets AlterConfigs change on a running broker (DescribeConfigs
    reports the others as read-only); ``applies`` is False for keys ferrokafka accepts for
    compatibility but whose value does not change its behaviour (the doc says why).
    """

    name: str
    type: ConfigType
    default: Any
    doc: str
    validator: Validator | None = None
    dynamic: bool = False
    applies: bool = True

    @property
    def is_sensitive(self) -> bool:
        # KafkaConfig.maybeSensitive: passwords (and keys of unknown type) are never echoed.
        return self.type is ConfigType.PASSWORD

    @property
    def required(self) -> bool:
        return self.default is NO_DEFAULT

    def parse(self, raw: object) -> Any:
        """Typed and validated value of ``raw`` (a string, or an already typed value)."""
        value = parse_typed(self.name, self.type, raw)
        if self.validator is not None:
            reason = self.validator(value)
            if reason is not None:
                raise ConfigError(self.name, raw, reason)
        return value


def parse_typed(key: str, config_type: ConfigType, raw: object) -> Any:
    """Kafka's ``ConfigDef.parseType``: trim, then parse as the type; None stays None."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        return _check_typed(key, config_type, raw)
    trimmed = raw.strip()
    if config_type is ConfigType.BOOLEAN:
        if trimmed.lower() in ("true", "false"):
            return trimmed.lower() == "true"
        raise ConfigError(key, raw, "Expected value to be either true or false")
    if config_type in (ConfigType.STRING, ConfigType.CLASS):
        return trimmed
    if config_type is ConfigType.PASSWORD:
        return raw  # Kafka does not trim passwords: whitespace may be part of the secret.
    if config_type.name in _INT_RANGES:
        low, high = _INT_RANGES[config_type.name]
        if not _INTEGER.fullmatch(trimmed) or not low <= int(trimmed) <= high:
            raise ConfigError(key, raw, f"Not a number of type {config_type.name}")
        return int(trimmed)
    if config_type is ConfigType.DOUBLE:
        try:
            if "_" in trimmed:
                raise ValueError(trimmed)
            return float(trimmed)
        except ValueError:
            raise ConfigError(key, raw, "Not a number of type DOUBLE") from None
    if config_type is ConfigType.LIST:
        return [] if trimmed == "" else _LIST_SPLIT.split(trimmed)
    raise AssertionError(f"unhandled config type {config_type}")


def _check_typed(key: str, config_type: ConfigType, value: object) -> Any:
    """A value given already typed (a dict override from code) must match the key's type."""
    ok: bool
    if config_type is ConfigType.BOOLEAN:
        ok = isinstance(value, bool)
    elif config_type.name in _INT_RANGES:
        low, high = _INT_RANGES[config_type.name]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    elif config_type is ConfigType.DOUBLE:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value  # type: ignore[arg-type]
    elif config_type is ConfigType.LIST:
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        value = list(value) if ok else value  # type: ignore[call-overload]
    else:
        ok = False  # strings arrive as str and were handled by the caller
    if not ok:
        raise ConfigError(key, value, f"Expected a value of type {config_type.name}")
    return value


def to_kafka_string(config_type: ConfigType, value: Any) -> str | None:
    """Kafka's ``ConfigDef.convertToString``: how DescribeConfigs prints a typed value."""
    if value is None:
        return None
    if config_type is ConfigType.BOOLEAN:
        return "true" if value else "false"
    if config_type is ConfigType.LIST:
        return ",".join(value)
    if config_type is ConfigType.DOUBLE:
        return _java_double(value)
    return str(value)


def _java_double(value: float) -> str:
    """Java's ``Double.toString``: plain decimals for 1e-3 <= |x| < 1e7 ("0.5", "1.0"), else
    computerized scientific notation with the same shortest digits ("1.7976931348623157E308")."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        if value == int(value):
            return f"{int(value)}.0"
        return repr(value)
    import decimal  # only for the rare huge or tiny double: kept off the start-up path

    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{exponent + len(text) - 1}"


class ConfigTable(Mapping[str, ConfigKey]):
    """An ordered, read-only table of keys with Kafka's parse semantics."""

    def __init__(self, keys: Iterable[ConfigKey]) -> None:
        self._keys: dict[str, ConfigKey] = {}
        for key in keys:
            assert key.name not in self._keys, f"duplicate config key {key.name}"
            self._keys[key.name] = key

    def __getitem__(self, name: str) -> ConfigKey:
        return self._keys[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def suggest(self, name: str) -> str | None:
        """The nearest known key, for an error message."""
        matches = difflib.get_close_matches(name, self._keys, n=1, cutoff=0.6)
        return matches[0] if matches else None

    def check_known(self, props: Mapping[str, object]) -> None:
        for name, raw in props.items():
            if name not in self._keys:
                raise UnknownConfigError(name, raw, self.suggest(name))

    def parse(self, props: Mapping[str, object]) -> dict[str, Any]:
        """Typed value of every key: the given one, else the default. Unknown keys, bad values
        and missing required keys raise :class:`ConfigError`."""
        self.check_known(props)
        values: dict[str, Any] = {}
        for name, key in self._keys.items():
            if name in props:
                values[name] = key.parse(props[name])
            elif key.required:
                raise ConfigError(name, None, "Missing required configuration with no default")
            else:
                values[name] = key.default
        return values
