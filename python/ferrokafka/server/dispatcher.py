"""Request dispatch: which async handler answers which API key.

A handler is ``async def handler(ctx: RequestContext, request) -> response | None``. It gets
the decoded request (a message class from :mod:`ferrokafka.protocol.messages`) and returns the
response message; the connection encodes it under the request's header and writes it in
request order. ``None`` means "send nothing" (Produce with acks=0). Handlers are coroutines so
that delayed operations (acks=all, long-poll fetch, group barriers) can wait on trio events.

A handler may also have a plain method ``answer_now(ctx, request)`` for requests it can often
answer without waiting (Produce into the page cache, Fetch of data already there): it returns
the response (or None, as above) at once, or a :class:`Later`: ``LATER`` when it changed
nothing (the connection then runs the handler's coroutine), or ``Later(rest)`` with the
awaitable that finishes the request, when finding out it must wait took steps that must not
be taken twice (a fetch session's epoch). An answer given now costs the connection no task,
no event and no wake-up of another task, which is most of the per-request cost of a small
request.

Kafka handles a connection's requests one at a time. We let them run concurrently (a long-poll
Fetch must not hold up the connection), except those registered ``in_order`` (Produce,
OffsetCommit, OffsetFetch): of these, a connection's requests are handled one after another
in the order they arrived, so pipelined batches for a partition are appended in the order
they were sent, whatever waits one of them meets (a worker thread, a lock).

A handler that raises closes its connection (after logging the traceback): there is no generic
error response for every API, and a client reconnects and retries. Errors a client should see
(UNKNOWN_TOPIC_OR_PARTITION, ...) are returned in the response, not raised.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ferrokafka.protocol import APIS, Message, RequestHeader
from ferrokafka.protocol.principal import ANONYMOUS, KafkaPrincipal

log = logging.getLogger(__name__)


class Later:
    """answer_now's "not now": the rest of the request's work (an awaitable returning the
    response), or None for "call the handler"."""

    __slots__ = ("rest",)

    def __init__(self, rest: Awaitable[Message | None] | None = None) -> None:
        self.rest = rest

    def __repr__(self) -> str:
        return "LATER" if self.rest is None else f"Later({self.rest!r})"


class CloseConnection(Exception):
    """A handler's answer that is to close the connection, not a failure (Kafka closes it after
    a failed acks=0 produce: the producer's only way to learn of it). Logged as one INFO line
    with the exception's message, no traceback."""


# answer_now's "this one needs the coroutine": nothing was changed.
LATER = Later()


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What a handler knows about a request besides its body."""

    header: RequestHeader
    # (host, port) of the client, as the socket reports it
    client_address: tuple[Any, ...]
    # the listener the request came in on, upper case as in the config ("PLAINTEXT")
    listener_name: str
    # unique in this process, for logs and for per-connection state (fetch sessions)
    connection_id: int
    # who sent it: the connection's authenticated principal (User:ANONYMOUS until a listener
    # authenticates; a forwarded request's is the Envelope's)
    principal: KafkaPrincipal = ANONYMOUS

    @property
    def api_key(self) -> int:
        return self.header.request_api_key

    @property
    def api_version(self) -> int:
        return self.header.request_api_version

    @property
    def client_id(self) -> str | None:
        return self.header.client_id


Handler = Callable[[RequestContext, Any], Awaitable[Message | None]]


class Dispatcher:
    """API key → handler. One per kind of listener (broker, controller), built once at start."""

    def __init__(self) -> None:
        self._handlers: dict[int, Handler] = {}
        self._in_order: set[int] = set()
        # Told the id of each connection of this listener kind that closed (share sessions
        # die with their connection).
        self._close_listeners: list[Callable[[int], None]] = []

    def on_connection_closed(self, listener: Callable[[int], None]) -> None:
        self._close_listeners.append(listener)

    def connection_closed(self, connection_id: int) -> None:
        for listener in self._close_listeners:
            try:
                listener(connection_id)
            except Exception:  # one listener's bug must not keep the others from hearing
                log.exception("connection-close listener %r failed", listener)

    def register(self, api_key: int, handler: Handler, *, in_order: bool = False) -> None:
        """Answer ``api_key`` with ``handler``; each key once, and only keys the protocol has.
        ``in_order``: a connection's requests of such APIs are handled one at a time."""
        if api_key not in APIS:
            raise ValueError(f"API key {api_key} is not in the protocol table")
        if api_key in self._handlers:
            raise ValueError(f"API key {api_key} ({APIS[api_key].name}) already has a handler")
        self._handlers[api_key] = handler
        if in_order:
            self._in_order.add(api_key)

    def replace(self, api_key: int, handler: Handler) -> None:
        """Answer ``api_key``, registered already, with ``handler`` instead (the authorizer's
        gates wrap the registered handlers this way)."""
        if api_key not in self._handlers:
            raise ValueError(f"API key {api_key} has no handler to replace")
        self._handlers[api_key] = handler

    def handler_for(self, api_key: int) -> Handler | None:
        return self._handlers.get(api_key)

    def in_order(self, api_key: int) -> bool:
        return api_key in self._in_order

    def api_keys(self) -> frozenset[int]:
        """The API keys with a handler: what ApiVersions advertises."""
        return frozenset(self._handlers)
