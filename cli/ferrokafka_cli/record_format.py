"""How `ferrokafka consume` prints a record: kcat's ``-f`` format strings, JSON lines, or the
plain console-consumer layout (value, optionally preceded by headers and key).

Format tokens, as kcat's (``%v`` is an alias of kcat's ``%s``, the value):
``%t`` topic, ``%p`` partition, ``%o`` offset, ``%k`` key, ``%K`` key length (-1 for null),
``%v``/``%s`` value, ``%S`` value length (-1 for null), ``%T`` timestamp (ms), ``%h`` headers
as ``name=value`` separated by commas, ``%%`` a percent sign; escapes ``\\n \\t \\r \\\\``.
A null key or value prints as nothing, as in kcat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import click

FORMAT_TOKENS = "tpokKvsSTh%"
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


@dataclass(frozen=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: str  # "CreateTime" or "LogAppendTime"
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def text(value: bytes | None, null: str = "") -> str:
    return null if value is None else value.decode("utf-8", errors="backslashreplace")


def _length(value: bytes | None) -> str:
    return "-1" if value is None else str(len(value))


def parse_format(spec: str) -> list[str]:
    """The format split into literal text and ``%x`` tokens; a bad token is a usage error."""
    parts: list[str] = []
    literal: list[str] = []
    i = 0
    while i < len(spec):
        ch = spec[i]
        nxt = spec[i + 1] if i + 1 < len(spec) else ""
        if ch == "\\" and nxt in ESCAPES:
            literal.append(ESCAPES[nxt])
            i += 2
        elif ch == "%":
            if nxt not in FORMAT_TOKENS or not nxt:
                raise click.BadParameter(
                    f"unknown token %{nxt} (known: "
                    + " ".join("%" + t for t in FORMAT_TOKENS)
                    + ")",
                    param_hint="--format",
                )
            if nxt == "%":
                literal.append("%")
            else:
                if literal:
                    parts.append("".join(literal))
                    literal = []
                parts.append("%" + nxt)
            i += 2
        else:
            literal.append(ch)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def render(parts: list[str], r: ConsumedRecord) -> str:
    out = []
    for part in parts:
        if len(part) != 2 or part[0] != "%":
            out.append(part)
            continue
        token = part[1]
        if token == "t":
            out.append(r.topic)
        elif token == "p":
            out.append(str(r.partition))
        elif token == "o":
            out.append(str(r.offset))
        elif token == "k":
            out.append(text(r.key))
        elif token == "K":
            out.append(_length(r.key))
        elif token in "vs":
            out.append(text(r.value))
        elif token == "S":
            out.append(_length(r.value))
        elif token == "T":
            out.append(str(r.timestamp))
        else:  # "h"
            out.append(",".join(f"{k}={text(v)}" for k, v in r.headers))
    return "".join(out)


def to_json(r: ConsumedRecord) -> str:
    """One JSON object a line; bytes that are not UTF-8 keep backslash escapes."""
    return json.dumps(
        {
            "topic": r.topic,
            "partition": r.partition,
            "offset": r.offset,
            "timestamp": r.timestamp,
            "timestamp_type": r.timestamp_type,
            "key": None if r.key is None else text(r.key),
            "value": None if r.value is None else text(r.value),
            "headers": [[k, None if v is None else text(v)] for k, v in r.headers],
        },
        ensure_ascii=False,
    )


def plain(r: ConsumedRecord, print_key: bool, print_headers: bool) -> str:
    """kafka-console-consumer's layout: [headers<TAB>][key<TAB>]value, null as "null"."""
    fields = []
    if print_headers:
        fields.append(",".join(f"{k}:{text(v, 'null')}" for k, v in r.headers) or "NO_HEADERS")
    if print_key:
        fields.append(text(r.key, "null"))
    fields.append(text(r.value, "null"))
    return "\t".join(fields)
