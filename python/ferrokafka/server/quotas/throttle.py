"""The broker's client quotas as a connection applies them (Kafka's ``KafkaApis`` use of the
produce and fetch ``ClientQuotaManager``s).

- Produce: the request's size counts against ``producer_byte_rate`` when it arrives.
- Every request but a follower's Fetch and WriteTxnMarkers: its handler time counts against
  ``request_percentage`` when it is answered (:mod:`.request_time`).
- Fetch from a consumer (not a follower): its ``max_bytes`` and every partition's are first
  capped at what the quota allows in one window (Kafka's ``getMaxValueInQuotaWindow``, so one
  answer can fit the quota); the response's size then counts against ``consumer_byte_rate``,
  and a fetch that goes over is answered with no data and taken back from the rate (Kafka's
  ``getThrottledResponse`` and ``unrecordQuotaSensor``: the client fetches the records again
  after the throttle time).

Either way the throttle time goes into the response's ``throttle_time_ms`` and the connection
reads nothing more from the client until it has passed (Kafka mutes the channel). Clients that
know KIP-219 (Produce v6+, Fetch v8+) also wait themselves.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from ferrokafka.cluster.client_quotas import (
    CONSUMER_BYTE_RATE,
    PRODUCER_BYTE_RATE,
    REQUEST_PERCENTAGE,
    QuotaImage,
)
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.protocol.principal import KafkaPrincipal
from ferrokafka.server.quotas.client_quotas import ClientQuotaManager
from ferrokafka.server.quotas.rate import DEFAULT_RATE_CONFIG, RateConfig
from ferrokafka.server.quotas.request_time import nanos_to_percentage

PRODUCE_KEY = ProduceRequest.API_KEY
WRITE_TXN_MARKERS_KEY = 27
FETCH_KEY = FetchRequest.API_KEY
# A consumer's Fetch has replica id -1 (or -2/-3 for tools); followers' are their broker ids.
CONSUMER_REPLICA_ID_MAX = -1
INT32_MAX = 2**31 - 1


def clock_ms() -> int:
    return int(trio.current_time() * 1000)


def quota_user(principal: KafkaPrincipal) -> str:
    """The user name quotas of entity type ``user`` match (Kafka's session user name)."""
    return principal.name


class BrokerQuotas:
    """The produce and fetch byte-rate quotas of one broker, over the image's quotas."""

    def __init__(
        self,
        quotas: Callable[[], QuotaImage],
        config: RateConfig = DEFAULT_RATE_CONFIG,
        clock: Callable[[], int] = clock_ms,
    ) -> None:
        self._quotas = quotas
        self._clock = clock
        self.produce = ClientQuotaManager(PRODUCER_BYTE_RATE, quotas, config)
        self.fetch = ClientQuotaManager(CONSUMER_BYTE_RATE, quotas, config)
        self.request = ClientQuotaManager(REQUEST_PERCENTAGE, quotas, config)
        # Kafka bounds a request-time throttle at one quota window (boundedThrottleTime).
        self._request_throttle_max_ms = config.window_ms
        # The quotas last checked for a request_percentage, and the answer.
        self._request_checked: object = None
        self._request_active = False

    def active(self) -> bool:
        """Whether any quota is set at all (none: every request costs this one check)."""
        return bool(self._quotas())

    def request_active(self) -> bool:
        """Whether some entity has a ``request_percentage`` (Kafka's quotasEnabled of the
        request quota manager); checked again only when the image's quotas change."""
        quotas = self._quotas()
        if quotas is not self._request_checked:
            self._request_checked = quotas
            self._request_active = any(REQUEST_PERCENTAGE in v for v in quotas.values())
        return self._request_active

    def on_request_time(
        self, principal: KafkaPrincipal, client_id: str | None, handler_ns: int
    ) -> int:
        """Record a request's handler time against ``request_percentage``; the throttle time
        (ms, at most one window), 0 within the quota or without one."""
        throttle = self.request.record(
            quota_user(principal), client_id or "", nanos_to_percentage(handler_ns), self._clock()
        )
        return min(throttle, self._request_throttle_max_ms)

    @staticmethod
    def request_exempt(request: object) -> bool:
        """Kafka's exempt requests (``sendResponseExemptThrottle``): a follower's Fetch and
        WriteTxnMarkers, both the cluster's own traffic."""
        if isinstance(request, FetchRequest):
            return _replica_id(request) > CONSUMER_REPLICA_ID_MAX
        return getattr(request, "API_KEY", None) == WRITE_TXN_MARKERS_KEY

    def on_produce(
        self, principal: KafkaPrincipal, client_id: str | None, request_bytes: int
    ) -> int:
        return self.produce.record(
            quota_user(principal), client_id or "", float(request_bytes), self._clock()
        )

    def on_fetch(
        self, principal: KafkaPrincipal, client_id: str | None, request: FetchRequest,
        response_bytes: int,
    ) -> int:  # fmt: skip
        if _replica_id(request) > CONSUMER_REPLICA_ID_MAX:
            return 0  # a follower: replication quotas, not client quotas
        user, client, now = quota_user(principal), client_id or "", self._clock()
        throttle = self.fetch.record(user, client, float(response_bytes), now)
        if throttle > 0:
            self.fetch.add(user, client, -float(response_bytes), now)
        return throttle

    def cap_fetch(
        self, principal: KafkaPrincipal, client_id: str | None, request: FetchRequest
    ) -> None:
        """Cap a consumer's fetch sizes at what its quota allows in one window."""
        if _replica_id(request) > CONSUMER_REPLICA_ID_MAX:
            return
        most = self.fetch.max_value_in_window(quota_user(principal), client_id or "")
        if most is None:
            return
        cap = max(1, min(int(most), INT32_MAX))
        request.max_bytes = min(request.max_bytes, cap)
        for topic in request.topics:
            for partition in topic.partitions:
                partition.partition_max_bytes = min(partition.partition_max_bytes, cap)


def _replica_id(request: FetchRequest) -> int:
    state = getattr(request, "replica_state", None)
    if state is not None and state.replica_id != CONSUMER_REPLICA_ID_MAX:
        return state.replica_id
    return request.replica_id


# FetchMetadata's epochs of a full fetch: a new session (0) or none / closing one (-1).
_FULL_FETCH_EPOCHS = (0, -1)


def throttled_fetch_response(
    response: FetchResponse, throttle_ms: int, request: FetchRequest
) -> FetchResponse:
    """Kafka 4.4's ``FetchContext.getThrottledResponse``: no partitions and no error; an
    incremental fetch of a live session keeps its session id, any other fetch says session 0
    (a session a throttled full fetch made is never told to the client, and a session error
    is not repeated: the client's next full fetch starts over)."""
    incremental = request.session_epoch not in _FULL_FETCH_EPOCHS and response.error_code == 0
    return FetchResponse(
        throttle_time_ms=throttle_ms,
        error_code=0,
        session_id=response.session_id if incremental else 0,
        responses=[],
    )
