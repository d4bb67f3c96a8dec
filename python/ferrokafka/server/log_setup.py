"""How ``ferrokafka serve`` writes its log: text for people, JSON lines for log shippers.

Text: ``2026-12-06 21:17:01,535 INFO ferrokafka.server.broker: message``, as before.
JSON (``--log-format json``): one object per line with ``ts`` (ISO 8601, UTC, milliseconds),
``level``, ``logger``, ``message``, and the structured fields a call site passed as
``extra={"fields": {...}}`` (topic, partitions, client_id, ...) merged in at the top level.

An exception attached to a record (``log.exception``: a handler that crashed, a bug) keeps
its traceback in both formats (text: below the line; JSON: ``error``, one line, and
``traceback``): it is what a bug report needs, and the fault tests count tracebacks in the
broker's stderr. ``--debug`` means the DEBUG level here; start-up failures, which are not
bugs, are one line without a traceback unless ``--debug`` (``ferrokafka serve`` does that).
The library itself never configures logging: the process does, here (``ferrokafka.testing``
runs inside a user's process and leaves its logging alone).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any, Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A JSON line's longest field value kept whole; a longer one (a huge repr) is cut and marked.
JSON_VALUE_CHARS_MAX = 16 * 1024
# The attributes every LogRecord has: anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "fields",
}


def _exception_line(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    exc = record.exc_info[1]
    return f"{type(exc).__name__}: {exc}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(str(key), value)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES:
                entry.setdefault(key, value)
        line = _exception_line(record)
        if line is not None:
            entry["error"] = line
            entry["traceback"] = self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, default=_json_default, ensure_ascii=False)


def _iso_utc(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _json_default(value: object) -> object:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    text = str(value)
    if len(text) > JSON_VALUE_CHARS_MAX:
        return text[:JSON_VALUE_CHARS_MAX] + "...[cut]"
    return text


def configure_logging(
    level: str, log_format: LogFormat, *, debug: bool, stream: IO[str] | None = None
) -> logging.Handler:
    """Send the root logger's records to ``stream`` (stderr) in ``log_format``; ``debug``
    means the DEBUG level. Returns the handler (replacing any earlier one)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else level)
    # Python's warnings too (else printed raw to stderr, breaking one-JSON-object-per-line).
    logging.captureWarnings(True)
    return handler
