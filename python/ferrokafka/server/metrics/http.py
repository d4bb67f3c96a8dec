"""A tiny HTTP/1.1 server on trio for the metrics port: GET only, one request per connection.

Enough for Prometheus, curl and a Kubernetes probe, and no more: the request head is read up
to a blank line (bounded), the path picks a route, the answer goes out with ``Connection:
close`` and the connection closes. No threads: routes are plain functions run in the trio
thread (a scrape's ``generate_latest`` takes well under a millisecond per hundred series).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import trio

from ferrokafka.server.startup_errors import StartupError

log = logging.getLogger(__name__)

# A GET's request line and headers, at most: Prometheus sends ~250 bytes, curl less; 8 KiB is
# what most HTTP servers allow a head (nginx's large_client_header_buffers default).
REQUEST_HEAD_BYTES_MAX = 8192
# Concurrent connections to the metrics port, at most: a few scrapers and probes; more are
# closed at once (a scraper retries on its next interval).
CONNECTIONS_MAX = 32
# A client must send its request head within this time, and take the answer within it.
REQUEST_TIMEOUT_S = 10.0
RECEIVE_CHUNK_BYTES = 4096
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Route = Callable[[], HttpResponse]


def text(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, (message + "\n").encode())


def parse_request_line(head: bytes) -> tuple[str, str] | None:
    """(method, path without the query) of a request head, or None when it is not HTTP/1.x."""
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None
    try:
        method, target = parts[0].decode("ascii"), parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    return method, target.split("?", 1)[0]


def answer(head: bytes, routes: Mapping[str, Route]) -> HttpResponse:
    """The response to one request head."""
    request = parse_request_line(head)
    if request is None:
        return text(400, "bad request")
    method, path = request
    route = routes.get(path)
    if route is None:
        return text(404, f"not found: {path} (try /metrics, /healthz or /readyz)")
    if method != "GET":
        return text(405, f"method {method} not allowed: GET only")
    return route()


def encode(response: HttpResponse, *, allow_get: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 {response.status} {_REASONS.get(response.status, '')}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
        + ("Allow: GET\r\n" if allow_get else "")
        + "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + response.body


class HttpServer:
    """Serves ``routes`` (path -> function) on one TCP listener until cancelled."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self.host = host
        self.port = port
        self.routes = routes
        self.bound: list[tuple[str, int]] = []
        self._open = 0

    async def serve(
        self, *, task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        try:
            listeners = await trio.open_tcp_listeners(self.port, host=self.host or None)
        except OSError as exc:  # the one start-up line names this setting, not the listeners
            raise StartupError(
                f"ferrokafka.metrics.port: cannot listen on {self.host}:{self.port} "
                f"(ferrokafka.metrics.port / --metrics-port): {exc.strerror}: stop what holds "
                "the port, or pick another one"
            ) from exc
        try:
            self.bound = [tuple(lst.socket.getsockname()[:2]) for lst in listeners]  # type: ignore[misc]
            async with trio.open_nursery() as nursery:
                for listener in listeners:
                    nursery.start_soon(self._accept_loop, listener, nursery)
                task_status.started(self.bound)
        finally:
            for listener in listeners:
                await trio.aclose_forcefully(listener)

    async def _accept_loop(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # out of descriptors: wait for some to close
                log.warning("metrics: accept failed (%s); retrying", exc)
                await trio.sleep(0.1)
                continue
            if self._open >= CONNECTIONS_MAX:
                await trio.aclose_forcefully(stream)
                continue
            self._open += 1
            nursery.start_soon(self._serve_one, stream)

    async def _serve_one(self, stream: trio.SocketStream) -> None:
        try:
            with trio.move_on_after(REQUEST_TIMEOUT_S):
                head = await _read_head(stream)
                if head is None:
                    response = text(431, f"request head over {REQUEST_HEAD_BYTES_MAX} bytes")
                elif not head:
                    return  # the client left without asking
                else:
                    response = answer(head, self.routes)
                await stream.send_all(encode(response, allow_get=response.status == 405))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception:  # a failing route answers nothing but must not stop the port
            log.exception("metrics: request failed")
        finally:
            self._open -= 1
            await trio.aclose_forcefully(stream)


async def _read_head(stream: trio.SocketStream) -> bytes | None:
    """The request head up to its blank line; b"" at EOF first; None when it is too long."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > REQUEST_HEAD_BYTES_MAX:
            return None
        chunk = await stream.receive_some(RECEIVE_CHUNK_BYTES)
        if not chunk:
            return data if b"\r\n" in data else b""
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0]
    return head if len(head) <= REQUEST_HEAD_BYTES_MAX else None
