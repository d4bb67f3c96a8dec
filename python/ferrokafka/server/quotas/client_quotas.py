"""Which client quota applies to a request, and the sensors that measure it (Kafka's
``ClientQuotaManager`` with its default quota callback).

For one quota key (``producer_byte_rate``, ...), the first entity of this order that sets the
key applies: (user, client-id), (user, default client-id), (user), (default user, client-id),
(default user, default client-id), (default user), (client-id), (default client-id). The entity
found also decides who shares a sensor: a user's quota is shared by all of the user's client
ids, a client-id quota by every user with that client id, and a default's entity is measured
per actual user / client id (Kafka's metric tags). ``User:ANONYMOUS`` (PLAINTEXT) is the user
``ANONYMOUS``, as Kafka's session user name.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping

from ferrokafka.cluster.client_quotas import CLIENT_ID, USER, QuotaEntity, QuotaImage
from ferrokafka.server.quotas.rate import (
    DEFAULT_RATE_CONFIG,
    RateConfig,
    SampledRate,
    record_and_throttle,
)

# Sensors kept at most per quota key: the least recently used beyond it are dropped (Kafka
# expires a sensor idle for an hour; a bound is what keeps a client-id flood from growing it).
SENSORS_MAX = 10_000

# (user tag, client-id tag): "" where the matched entity has no such component.
MetricTags = tuple[str, str]


def _candidates(user: str, client_id: str) -> list[tuple[QuotaEntity, MetricTags]]:
    """The entities to look up, in Kafka's order, with the tags of each."""
    both = (user, client_id)
    return [
        (((CLIENT_ID, client_id), (USER, user)), both),
        (((CLIENT_ID, None), (USER, user)), both),
        (((USER, user),), (user, "")),
        (((CLIENT_ID, client_id), (USER, None)), both),
        (((CLIENT_ID, None), (USER, None)), both),
        (((USER, None),), (user, "")),
        (((CLIENT_ID, client_id),), ("", client_id)),
        (((CLIENT_ID, None),), ("", client_id)),
    ]


def resolve(
    quotas: QuotaImage, key: str, user: str, client_id: str
) -> tuple[MetricTags, float] | None:
    """The tags and bound of the quota ``key`` for this user and client id, or None."""
    if not quotas:
        return None
    for entity, tags in _candidates(user, client_id):
        values: Mapping[str, float] | None = quotas.get(entity)
        if values is not None and key in values:
            return tags, values[key]
    return None


class ClientQuotaManager:
    """One quota key's sensors: ``record`` measures a request's value and gives its throttle
    time. ``quotas`` gives the current image's quotas (read on every call, so an alter applies
    to the next request)."""

    def __init__(
        self, key: str, quotas: Callable[[], QuotaImage], config: RateConfig = DEFAULT_RATE_CONFIG
    ) -> None:
        self.key = key
        self._quotas = quotas
        self.config = config
        self._sensors: OrderedDict[MetricTags, SampledRate] = OrderedDict()

    def bound(self, user: str, client_id: str) -> float | None:
        found = resolve(self._quotas(), self.key, user, client_id)
        return None if found is None else found[1]

    def max_value_in_window(self, user: str, client_id: str) -> float | None:
        """The most one request may count (Kafka's ``getMaxValueInQuotaWindow``): the bound
        over the window's full samples; None without a quota."""
        bound = self.bound(user, client_id)
        if bound is None:
            return None
        return bound * (self.config.samples - 1) * self.config.window_ms / 1000

    def add(self, user: str, client_id: str, value: float, now_ms: int) -> None:
        """Record ``value`` without checking the quota (a negative one takes back: Kafka's
        ``unrecordQuotaSensor``, for a throttled fetch that sends no data)."""
        found = resolve(self._quotas(), self.key, user, client_id)
        if found is not None:
            self.sensor(found[0]).record(value, now_ms)

    def sensor(self, tags: MetricTags) -> SampledRate:
        """The sensor of ``tags`` (made when new)."""
        sensor = self._sensors.get(tags)
        if sensor is None:
            sensor = self._sensors[tags] = SampledRate(self.config)
            if len(self._sensors) > SENSORS_MAX:
                self._sensors.popitem(last=False)
        else:
            self._sensors.move_to_end(tags)
        return sensor

    def record(self, user: str, client_id: str, value: float, now_ms: int) -> int:
        """Record ``value`` for this client; the throttle time in ms (0: within its quota, or
        no quota applies)."""
        found = resolve(self._quotas(), self.key, user, client_id)
        if found is None:
            return 0
        tags, bound = found
        return record_and_throttle(self.sensor(tags), bound, value, now_ms)
