"""Handlers whose module is imported on the API's first request, not at start-up.

Importing every handler module (and the generated message modules each one imports) is a
large part of ``ferrokafka serve``'s start-up; most APIs are not used in a broker's first
second, and many never. A :class:`LazyHandler` stands in the dispatcher for one handler: its
first call imports the module and builds the handler with the arguments given at
registration, later calls go straight to it. Only handlers whose constructor just stores its
arguments may be registered this way (state they keep starts on first use either way).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable
from typing import Any

from ferrokafka.protocol import APIS, Message
from ferrokafka.server.dispatcher import LATER, RequestContext

_KEYS_BY_NAME = {info.name: key for key, info in APIS.items()}


def api_key(name: str) -> int:
    """The API key of ``name`` as Kafka spells it ("Metadata"), from the protocol table, so
    registration needs no message module."""
    return _KEYS_BY_NAME[name]


class LazyHandler:
    """``module.attribute(*args)`` built on its first request."""

    __slots__ = ("_args", "_attribute", "_handler", "_module", "_now")

    def __init__(self, module: str, attribute: str, *args: Any) -> None:
        self._module = module
        self._attribute = attribute
        self._args = args
        self._handler: Any = None
        self._now: Any = None  # the handler's answer_now, or a stand-in returning LATER

    def __call__(self, ctx: RequestContext, request: Any) -> Awaitable[Message | None]:
        # Not async: returns the real handler's coroutine, so a request pays one extra call,
        # not an extra coroutine frame.
        handler = self._handler
        if handler is None:
            handler = self._load()
        return handler(ctx, request)

    def answer_now(self, ctx: RequestContext, request: Any) -> Any:
        now = self._now
        if now is None:
            self._load()
            now = self._now
        return now(ctx, request)

    def _load(self) -> Any:
        factory = getattr(importlib.import_module(self._module), self._attribute)
        handler = self._handler = factory(*self._args)
        self._args = ()
        self._now = getattr(handler, "answer_now", None) or _later
        return handler


def _later(ctx: RequestContext, request: Any) -> Any:
    return LATER
