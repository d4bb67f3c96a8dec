"""Kafka's JAAS configuration text (``sasl.jaas.config``), as its JaasConfig parses it:
``<LoginModule class> <required|requisite|sufficient|optional> key=value ... ;``.

Values are bare words or double-quoted strings (a backslash escapes the next character); one
login module per ``sasl.jaas.config`` value, as Kafka requires of that property.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FLAGS = frozenset({"required", "requisite", "sufficient", "optional"})
# A token: a quoted string (with backslash escapes), '=', ';', or a bare word.
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(=)|(;)|([^\s=;"]+))', re.S)


class JaasConfigError(ValueError):
    """The text is not a JAAS login module entry (the message says where)."""


@dataclass(frozen=True)
class LoginModule:
    class_name: str
    flag: str
    options: dict[str, str] = field(default_factory=dict)


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs: kind is "quoted", "=", ";" or "word"; comments are not JAAS."""
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise JaasConfigError(f"unexpected character at position {pos}")
        quoted, equals, semicolon, word = match.groups()
        if quoted is not None:
            out.append(("quoted", re.sub(r"\\(.)", r"\1", quoted, flags=re.S)))
        elif equals:
            out.append(("=", "="))
        elif semicolon:
            out.append((";", ";"))
        else:
            out.append(("word", word))
        pos = match.end()
    return out


def parse_jaas_config(text: str) -> LoginModule:
    """The single login module of a ``sasl.jaas.config`` value; JaasConfigError otherwise.
    The error never quotes an option's value (it may be a password)."""
    tokens = _tokens(text)
    if len(tokens) < 3 or tokens[0][0] != "word" or tokens[1][0] != "word":
        raise JaasConfigError("expected '<LoginModule class> <flag> [key=value ...];'")
    class_name, flag = tokens[0][1], tokens[1][1].lower()
    if flag not in _FLAGS:
        raise JaasConfigError(f"invalid control flag {tokens[1][1]!r}")
    options: dict[str, str] = {}
    i = 2
    while i < len(tokens) and tokens[i][0] != ";":
        if i + 2 >= len(tokens) or tokens[i][0] != "word" or tokens[i + 1][0] != "=":
            raise JaasConfigError(f"expected key=value after {class_name}'s options so far")
        if tokens[i + 2][0] not in ("word", "quoted"):
            raise JaasConfigError(f"option {tokens[i][1]!r} has no value")
        options[tokens[i][1]] = tokens[i + 2][1]
        i += 3
    if i >= len(tokens):
        raise JaasConfigError("the login module entry does not end with ';'")
    if i + 1 != len(tokens):
        raise JaasConfigError("sasl.jaas.config holds exactly one login module")
    return LoginModule(class_name, flag, options)
