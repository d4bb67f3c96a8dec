"""Outgoing requests per destination: Kafka's ``RequestManager``.

At most one request is in flight to a node. A response is handled only if it answers the
request in flight to its sender (same correlation id): a late, duplicated or superseded
response is dropped, which is what lets the state machine ignore most staleness. A failed
request (an error the replica could not use, or no answer within the request timeout) puts the
destination in backoff for ``retry_backoff_ms``. Every state transition forgets all of it
(Kafka's ``resetConnections``), so answers to requests of an earlier state are dropped too.

The "bootstrap servers" are the voters: a replica that knows no leader (an observer, or a
voter still Unattached) sends Fetch to a random ready one to discover who leads, one at a time.
"""

from __future__ import annotations

from random import Random

READY = 0
AWAITING = 1
BACKING_OFF = 2


class _Connection:
    __slots__ = ("state", "last_send_ms", "last_fail_ms", "correlation_id")

    def __init__(self) -> None:
        self.state = READY
        self.last_send_ms = 0
        self.last_fail_ms = 0
        self.correlation_id: int | None = None


class RequestManager:
    def __init__(
        self,
        bootstrap_servers: tuple[int, ...],
        retry_backoff_ms: int,
        request_timeout_ms: int,
        random: Random,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.retry_backoff_ms = retry_backoff_ms
        self.request_timeout_ms = request_timeout_ms
        self.random = random
        self._connections: dict[int, _Connection] = {}

    # --- per-connection timing ----------------------------------------------------------------

    def _timed_out(self, c: _Connection, now_ms: int) -> bool:
        return c.state == AWAITING and now_ms >= c.last_send_ms + self.request_timeout_ms

    def _backoff_done(self, c: _Connection, now_ms: int) -> bool:
        return c.state == BACKING_OFF and now_ms >= c.last_fail_ms + self.retry_backoff_ms

    def is_ready(self, node: int, now_ms: int) -> bool:
        c = self._connections.get(node)
        if c is None:
            return True
        if self._timed_out(c, now_ms) or self._backoff_done(c, now_ms):
            del self._connections[node]
            return True
        return c.state == READY

    def is_backing_off(self, node: int, now_ms: int) -> bool:
        c = self._connections.get(node)
        return c is not None and c.state == BACKING_OFF and not self._backoff_done(c, now_ms)

    def has_request_timed_out(self, node: int, now_ms: int) -> bool:
        c = self._connections.get(node)
        return c is not None and self._timed_out(c, now_ms)

    def remaining_ms(self, node: int, now_ms: int) -> float:
        """How long until ``node`` may be sent to again (0 if ready now)."""
        c = self._connections.get(node)
        if c is None:
            return 0
        if c.state == AWAITING:
            return max(0, c.last_send_ms + self.request_timeout_ms - now_ms)
        if c.state == BACKING_OFF:
            return max(0, c.last_fail_ms + self.retry_backoff_ms - now_ms)
        return 0

    def has_any_inflight_request(self, now_ms: int) -> bool:
        for node in list(self._connections):
            c = self._connections[node]
            if self._timed_out(c, now_ms) or self._backoff_done(c, now_ms):
                del self._connections[node]
            elif c.state == AWAITING:
                return True
        return False

    # --- bootstrap servers ---------------------------------------------------------------------

    def find_ready_bootstrap_server(self, now_ms: int) -> int | None:
        if self.has_any_inflight_request(now_ms) or not self.bootstrap_servers:
            return None
        start = self.random.randrange(len(self.bootstrap_servers))
        for i in range(len(self.bootstrap_servers)):
            node = self.bootstrap_servers[(start + i) % len(self.bootstrap_servers)]
            if self.is_ready(node, now_ms):
                return node
        return None

    def backoff_before_available_bootstrap_server(self, now_ms: int) -> float:
        backoff: float = self.retry_backoff_ms
        for node in list(self._connections):
            c = self._connections[node]
            if self._timed_out(c, now_ms) or self._backoff_done(c, now_ms):
                del self._connections[node]
            elif c.state == AWAITING:
                return self.remaining_ms(node, now_ms)
            elif c.state == BACKING_OFF:
                backoff = min(backoff, self.remaining_ms(node, now_ms))
        if any(self.is_ready(node, now_ms) for node in self.bootstrap_servers):
            return 0
        return backoff

    # --- requests and responses ----------------------------------------------------------------

    def is_response_expected(self, node: int, correlation_id: int) -> bool:
        c = self._connections.get(node)
        return c is not None and c.correlation_id == correlation_id

    def on_request_sent(self, node: int, correlation_id: int, now_ms: int) -> None:
        c = self._connections.setdefault(node, _Connection())
        c.state = AWAITING
        c.last_send_ms = now_ms
        c.correlation_id = correlation_id

    def on_response_result(
        self, node: int, correlation_id: int, success: bool, now_ms: int
    ) -> None:
        if not self.is_response_expected(node, correlation_id):
            return
        if success:
            del self._connections[node]
        else:
            c = self._connections[node]
            c.state = BACKING_OFF
            c.last_fail_ms = now_ms
            c.correlation_id = None

    def reset(self, node: int) -> None:
        self._connections.pop(node, None)

    def reset_all(self) -> None:
        self._connections.clear()
