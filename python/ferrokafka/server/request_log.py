"""Rejected requests at INFO: one line per (client id, API, error), rate-limited.

A response is "rejected" when one of its error codes (top level or per topic/partition/group)
is an error the client did not expect as part of the protocol's normal flow: a produce over
``message.max.bytes``, a CreateTopics of an existing topic, a fenced producer, an unknown
topic. Routine answers a client retries through by design (NOT_LEADER_OR_FOLLOWER while
leadership moves, REBALANCE_IN_PROGRESS, MEMBER_ID_REQUIRED, a fetch session to renew, a
coordinator still loading) are in :data:`ROUTINE_ERRORS` and not logged: every client in a
healthy cluster sees them.

A misbehaving client can be rejected thousands of times a second, so each (client id, API,
error) logs at most once per :data:`REJECTED_LOG_INTERVAL_S`; the next line it logs says how
many were suppressed meanwhile. The connection calls :func:`note_response` with every
response, before encoding it; the scan is skipped when INFO is off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ferrokafka.config.redact import HIDDEN, is_secret_key
from ferrokafka.protocol import APIS
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.schema import Struct
from ferrokafka.server.dispatcher import RequestContext

log = logging.getLogger(__name__)

# At most one line per (client id, API, error) in this many seconds.
REJECTED_LOG_INTERVAL_S = 10.0
# Keys remembered for the rate limit; past this the least recently logged is forgotten (its
# suppressed count with it), so a storm of distinct client ids cannot grow the map.
REJECTED_KEYS_MAX = 4096
# Structs visited in one response, at most: a huge Metadata or Fetch answer is not walked whole.
RESPONSE_SCAN_STRUCTS_MAX = 512
# Distinct errors reported from one response, at most.
ERRORS_PER_RESPONSE_MAX = 4

ROUTINE_ERRORS = frozenset(
    {
        ec.NONE,
        ec.LEADER_NOT_AVAILABLE,  # a topic being created (auto-create answers it)
        ec.NOT_LEADER_OR_FOLLOWER,
        ec.REPLICA_NOT_AVAILABLE,
        ec.COORDINATOR_LOAD_IN_PROGRESS,
        ec.COORDINATOR_NOT_AVAILABLE,
        ec.NOT_COORDINATOR,
        ec.NOT_CONTROLLER,
        ec.REBALANCE_IN_PROGRESS,
        ec.MEMBER_ID_REQUIRED,
        ec.UNKNOWN_MEMBER_ID,
        ec.ILLEGAL_GENERATION,
        ec.FENCED_MEMBER_EPOCH,
        ec.STALE_MEMBER_EPOCH,
        ec.FETCH_SESSION_ID_NOT_FOUND,
        ec.INVALID_FETCH_SESSION_EPOCH,
        ec.FENCED_LEADER_EPOCH,
        ec.UNKNOWN_LEADER_EPOCH,
        ec.OFFSET_NOT_AVAILABLE,
        ec.CONCURRENT_TRANSACTIONS,
        ec.UNSTABLE_OFFSET_COMMIT,
        ec.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ec.ELECTION_NOT_NEEDED,
        ec.NO_REASSIGNMENT_IN_PROGRESS,
        ec.NEW_LEADER_ELECTED,
    }
)


# Per API, more errors that are routine there: a Metadata request for a topic that does not
# exist (yet) is how clients wait for one (and how an auto-creating Metadata is answered).
ROUTINE_ERRORS_BY_API: dict[int, frozenset[int]] = {
    3: frozenset({ec.UNKNOWN_TOPIC_OR_PARTITION}),  # Metadata
}


@dataclass
class _Window:
    logged_at: float
    suppressed: int = 0


class RejectedRequestLog:
    """The rate limit's state: when each key last logged and what it suppressed since."""

    def __init__(
        self,
        *,
        interval_s: float = REJECTED_LOG_INTERVAL_S,
        keys_max: int = REJECTED_KEYS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self.keys_max = keys_max
        self._clock = clock
        self._windows: dict[tuple[str, int, int], _Window] = {}

    def note(self, context: RequestContext, response: Any) -> None:
        if response is None or not log.isEnabledFor(logging.INFO):
            return
        for code, message in rejected_errors(response, context.api_key):
            self._log(context, code, message)

    def _log(self, context: RequestContext, code: int, message: str | None) -> None:
        client_id = context.client_id or ""
        key = (client_id, context.api_key, code)
        now = self._clock()
        window = self._windows.get(key)
        if window is not None and now - window.logged_at < self.interval_s:
            window.suppressed += 1
            return
        suppressed = window.suppressed if window is not None else 0
        self._windows.pop(key, None)
        while len(self._windows) >= self.keys_max:
            del self._windows[next(iter(self._windows))]
        self._windows[key] = _Window(now)  # last: the least recently logged stay first
        api = APIS[context.api_key].name
        address = ":".join(map(str, context.client_address[:2]))
        name = ec.error_name(code)
        if message and is_secret_key(message):
            # "Invalid value 's3cret' for ssl.key.password": a message about a secret may
            # quote it.
            message = f"(message {HIDDEN}: it names a secret config)"
        tail = f": {message}" if message else ""
        if suppressed:
            tail += (
                f" ({suppressed} more like it in the last {self.interval_s:g} s not logged: "
                f"at most one line per client, API and error every {self.interval_s:g} s)"
            )
        log.info(
            "rejected %s v%d from client %r at %s: %s%s",
            api,
            context.api_version,
            client_id,
            address,
            name,
            tail,
            extra={
                "fields": {
                    "event": "request_rejected",
                    "api": api,
                    "api_version": context.api_version,
                    "client_id": client_id,
                    "client_address": address,
                    "listener": context.listener_name,
                    "error": name,
                    "error_code": code,
                    "suppressed": suppressed,
                }
            },
        )


def rejected_errors(response: Any, api_key: int | None = None) -> list[tuple[int, str | None]]:
    """The distinct non-routine error codes in ``response`` to a request of ``api_key`` (with
    the error message next to the first of each, if any), in the order found."""
    found: dict[int, str | None] = {}
    routine_here = ROUTINE_ERRORS_BY_API.get(api_key, frozenset()) if api_key is not None else ()
    fast = _FAST_SCANS.get(api_key) if api_key is not None else None
    for code, message in fast(response) if fast is not None else _error_codes(response):
        if code not in ROUTINE_ERRORS and code not in routine_here and code not in found:
            found[code] = message
            if len(found) >= ERRORS_PER_RESPONSE_MAX:
                break
    return list(found.items())


def _produce_errors(response: Any) -> list[tuple[int, str | None]]:
    """Produce's error codes, read directly: every answered Produce passes here, and the
    generic walk costs some 3 us where this costs well under one."""
    return [
        (p.error_code, p.error_message)
        for t in response.responses
        for p in t.partition_responses
        if p.error_code
    ]


def _fetch_errors(response: Any) -> list[tuple[int, str | None]]:
    """Fetch's error codes (top level and per partition), read directly, as for Produce."""
    found: list[tuple[int, str | None]] = (
        [(response.error_code, None)] if response.error_code else []
    )
    found += [
        (p.error_code, None) for t in response.responses for p in t.partitions if p.error_code
    ]
    return found


# Hot APIs scanned by hand instead of by the generic walk (API key -> scan).
_FAST_SCANS = {0: _produce_errors, 1: _fetch_errors}

_VISIT: dict[type, tuple[tuple[str, ...], bool]] = {}


def _visit_plan(cls: type) -> tuple[tuple[str, ...], bool]:
    """The struct-valued fields of ``cls`` worth descending into, and whether it has an
    ``error_code`` field (cached: one look at SCHEMA per class)."""
    plan = _VISIT.get(cls)
    if plan is None:
        schema = getattr(cls, "SCHEMA", ())
        nested = tuple(
            f.name
            for f in schema
            if f.type.removeprefix("[]")[:1].isupper() and f.name != "records"
        )
        plan = (nested, any(f.name == "error_code" for f in schema))
        _VISIT[cls] = plan
    return plan


def _error_codes(response: Any) -> Iterator[tuple[int, str | None]]:
    stack: list[Any] = [response]
    visited = 0
    while stack and visited < RESPONSE_SCAN_STRUCTS_MAX:
        node = stack.pop()
        visited += 1
        nested, has_code = _visit_plan(type(node))
        if has_code:
            code = node.error_code
            if code:
                yield code, getattr(node, "error_message", None)
        for name in reversed(nested):
            value = getattr(node, name, None)
            if isinstance(value, Struct):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(reversed(value))


_REJECTED = RejectedRequestLog()


def note_response(context: RequestContext, response: Any) -> None:
    """Log ``response`` if it rejects the request (rate-limited; see the module doc)."""
    _REJECTED.note(context, response)


def log_auto_created(
    context: RequestContext, topic: str, partitions: int, replication_factor: int
) -> None:
    """One INFO line for a topic a request created by naming it (``auto.create.topics.enable``),
    saying which request of which client did."""
    api = APIS[context.api_key].name
    address = ":".join(map(str, context.client_address[:2]))
    client_id = context.client_id or ""
    log.info(
        "auto-created topic %s (%d partitions, replication factor %d) for %s v%d from client "
        "%r at %s",
        topic,
        partitions,
        replication_factor,
        api,
        context.api_version,
        client_id,
        address,
        extra={
            "fields": {
                "event": "topic_auto_created",
                "topic": topic,
                "partitions": partitions,
                "replication_factor": replication_factor,
                "api": api,
                "client_id": client_id,
                "client_address": address,
            }
        },
    )
