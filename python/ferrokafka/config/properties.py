"""Reader for Java ``.properties`` files, the format of Kafka's ``server.properties``.

Follows ``java.util.Properties.load``: ``key=value``, ``key: value`` or ``key value``;
``#`` and ``!`` comment lines; a line ending in an odd number of backslashes continues on the
next line (whose leading whitespace is dropped); escapes ``\\t \\n \\r \\f \\uXXXX`` and
``\\<any>`` for the character itself; a later duplicate key wins. Files are decoded as
ISO-8859-1 because that is what Kafka's ``Utils.loadProps`` does, so a file means the same
thing to both brokers (non-Latin-1 text must be written as ``\\uXXXX``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping

from ferrokafka.config.definitions import ConfigError

_WHITESPACE = " \t\f"
_SEPARATORS = "=:"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
# A .properties file is a human-written config; anything this large is a mistake (a wrong path
# to a log segment, say), and reading it whole would only waste memory.
PROPERTIES_FILE_BYTES_MAX = 16 << 20


def read_properties(path: str | os.PathLike[str]) -> dict[str, str]:
    """Keys and raw values of the ``.properties`` file at ``path``."""
    with open(path, "rb") as f:
        data = f.read(PROPERTIES_FILE_BYTES_MAX + 1)
    if len(data) > PROPERTIES_FILE_BYTES_MAX:
        raise ConfigError(None, None, f"{os.fspath(path)}: larger than a properties file can be")
    return parse_properties(data.decode("iso-8859-1"))


def parse_properties(text: str) -> dict[str, str]:
    """Keys and raw (untrimmed) values of ``.properties`` text, in file order."""
    props: dict[str, str] = {}
    for line_no, line in _logical_lines(text):
        key, value = _split_key_value(line, line_no)
        props[key] = value
    return props


def parse_override(arg: str) -> tuple[str, str]:
    """One ``key=value`` override, as Kafka's ``--override`` flag takes it (split at the first
    ``=``; the value may itself contain ``=``)."""
    key, sep, value = arg.partition("=")
    if not sep or not key.strip():
        raise ConfigError(None, arg, f"Invalid override {arg!r}: expected key=value")
    return key.strip(), value


def merge_overrides(
    base: Mapping[str, str], overrides: Mapping[str, object] | Iterable[str] = ()
) -> dict[str, object]:
    """``base`` with ``overrides`` applied on top; overrides are a mapping or ``key=value``
    strings (CLI flags). Later overrides win, as in Kafka."""
    merged: dict[str, object] = dict(base)
    if isinstance(overrides, Mapping):
        merged.update(overrides)
    else:
        for arg in overrides:
            key, value = parse_override(arg)
            merged[key] = value
    return merged


def _natural_lines(text: str) -> Iterator[tuple[int, str]]:
    # \n, \r and \r\n all end a line, as in Java; str.splitlines would also split on \x0b,
    # \x1c... which Java treats as ordinary characters.
    line_no = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "\r\n":
            line_no += 1
            yield line_no, text[start:i]
            if ch == "\r" and i + 1 < n and text[i + 1] == "\n":
                i += 1
            start = i + 1
        i += 1
    if start < n:
        yield line_no + 1, text[start:]


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank, non-comment lines with continuations joined; yields the first line number."""
    pending: str | None = None
    pending_no = 0
    for line_no, raw in _natural_lines(text):
        stripped = raw.lstrip(_WHITESPACE)
        if pending is None:
            # A comment line never continues, even when it ends in a backslash (Java's rule).
            if not stripped or stripped[0] in "#!":
                continue
            pending_no = line_no
            pending = ""
        if _ends_with_continuation(stripped):
            pending += stripped[:-1]
            continue
        yield pending_no, pending + stripped
        pending = None
    if pending is not None and pending != "":
        yield pending_no, pending  # a continuation at end of file just ends the line


def _ends_with_continuation(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split_key_value(line: str, line_no: int) -> tuple[str, str]:
    # The key ends at the first unescaped separator or whitespace.
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch in _SEPARATORS or ch in _WHITESPACE:
            break
        i += 1
    key_raw = line[: min(i, n)]
    # Then: whitespace, at most one separator, whitespace; the rest is the value.
    while i < n and line[i] in _WHITESPACE:
        i += 1
    if i < n and line[i] in _SEPARATORS:
        i += 1
    while i < n and line[i] in _WHITESPACE:
        i += 1
    return _unescape(key_raw, line_no), _unescape(line[i:], line_no)


def _unescape(text: str, line_no: int) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "\\" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ConfigError(
                    None, text, f"line {line_no}: malformed \\uxxxx encoding in {text!r}"
                )
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    # Java strings are UTF-16: "\\uD83D\\uDE00" is one character, which Python only sees
    # once the surrogate pair is joined.
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
