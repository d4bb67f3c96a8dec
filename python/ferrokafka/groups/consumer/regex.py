"""Regular expressions of consumer group subscriptions (KIP-848 SubscribedTopicRegex).

Kafka compiles them with RE2/J, which matches in linear time and has no lookaround, no
backreference and no conditional group; Python's ``re`` backtracks. So a subscription is parsed
first and refused (INVALID_REGULAR_EXPRESSION, as Kafka refuses what RE2/J cannot compile)
when it uses what RE2 lacks, and also when it nests one unbounded repetition inside another
(``(a+)+``), the shape that makes a backtracking matcher take exponential time on a topic name
(at most 249 characters). What is left matches like RE2 for the patterns consumers use.
"""

from __future__ import annotations

import functools
import re
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]

REGEX_CHARS_MAX = 1000
# Distinct patterns compiled and kept; one per subscription in use is plenty.
CACHE_MAX = 1024

_RE2_LACKS = {
    c.ASSERT: "lookahead/lookbehind",
    c.ASSERT_NOT: "negative lookahead/lookbehind",
    c.GROUPREF: "backreference",
    c.GROUPREF_EXISTS: "conditional group",
}
_REPEATS = {c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)}


class InvalidRegexError(ValueError):
    pass


@functools.lru_cache(maxsize=CACHE_MAX)
def compile_subscription(regex: str) -> re.Pattern[str]:
    """The compiled pattern; raises :class:`InvalidRegexError` saying why it is refused."""
    if len(regex) > REGEX_CHARS_MAX:
        raise InvalidRegexError(f"longer than {REGEX_CHARS_MAX} characters")
    try:
        parsed = _parser.parse(regex)
    except re.error as exc:
        raise InvalidRegexError(str(exc)) from None
    _check(list(parsed), inside_unbounded=False)
    return re.compile(regex)


def _check(items: list, inside_unbounded: bool) -> None:
    for op, arg in items:
        if op in _RE2_LACKS:
            raise InvalidRegexError(f"{_RE2_LACKS[op]} is not supported (RE2 syntax)")
        if op in _REPEATS:
            low, high, body = arg
            unbounded = high == c.MAXREPEAT
            if unbounded and inside_unbounded:
                raise InvalidRegexError("nested unbounded repetition")
            _check(list(body), inside_unbounded or unbounded)
        elif op is c.SUBPATTERN:
            _check(list(arg[-1]), inside_unbounded)
        elif op is c.BRANCH:
            for branch in arg[1]:
                _check(list(branch), inside_unbounded)
        elif op is getattr(c, "ATOMIC_GROUP", None):
            _check(list(arg), inside_unbounded)
