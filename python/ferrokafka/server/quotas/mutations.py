"""``controller_mutation_rate``: partitions created or deleted per second (KIP-599, Kafka's
``ControllerMutationQuotaManager``).

Each client has a token bucket (Kafka's ``TokenBucket``): full at ``controller.quota.window.num
* controller.quota.window.size.seconds`` seconds of its quota, refilled at the quota per second.
CreateTopics (v6+), CreatePartitions (v3+) and DeleteTopics (v5+) are *strict*: a topic asked
for while the bucket is below zero is refused with THROTTLING_QUOTA_EXCEEDED (checked before
each topic; a topic admitted may take it below zero), and the response carries the time to
refill it. Older versions are *permissive*: everything is done, and the
partitions counted afterwards give the throttle time. A topic the controller then refuses for
another reason gives its partitions back.

Kafka enforces this on the controller, with the principal its broker forwarded; here the broker
that received the request does, before forwarding (the same for a single node).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ferrokafka.cluster.client_quotas import CONTROLLER_MUTATION_RATE, QuotaImage
from ferrokafka.protocol.principal import KafkaPrincipal
from ferrokafka.server.quotas.client_quotas import SENSORS_MAX, MetricTags, resolve
from ferrokafka.server.quotas.rate import RateConfig, TokenBucket, token_throttle_ms
from ferrokafka.server.quotas.throttle import clock_ms, quota_user

# The first version of each API that refuses what is over the quota (Kafka's strictSinceVersion).
CREATE_TOPICS_STRICT_VERSION = 6
CREATE_PARTITIONS_STRICT_VERSION = 3
DELETE_TOPICS_STRICT_VERSION = 5


class MutationQuota:
    """One node's controller mutation token buckets, one per client as the quota resolves it."""

    def __init__(
        self,
        quotas: Callable[[], QuotaImage],
        config: RateConfig,
        clock: Callable[[], int] = clock_ms,
    ) -> None:
        self._quotas = quotas
        self._clock = clock
        self.config = config
        self._buckets: OrderedDict[MetricTags, TokenBucket] = OrderedDict()

    def applies(self, principal: KafkaPrincipal, client_id: str | None) -> bool:
        return self._bucket(principal, client_id) is not None

    def admit(self, principal: KafkaPrincipal, client_id: str | None, permits: int) -> int:
        """Strict: 0, and ``permits`` taken, when the bucket is not below zero now; else the
        throttle time (ms), nothing taken."""
        found = self._bucket(principal, client_id)
        if found is None:
            return 0
        bucket, bound = found
        now = self._clock()
        tokens = bucket.measure(bound, now)
        if tokens < 0:
            return max(1, token_throttle_ms(tokens, bound))
        bucket.record(bound, float(permits), now)
        return 0

    def record(self, principal: KafkaPrincipal, client_id: str | None, permits: int) -> int:
        """Permissive: take ``permits``; the throttle time (ms) if that left the bucket below
        zero."""
        found = self._bucket(principal, client_id)
        if found is None:
            return 0
        bucket, bound = found
        now = self._clock()
        bucket.record(bound, float(permits), now)
        tokens = bucket.measure(bound, now)
        return token_throttle_ms(tokens, bound) if tokens < 0 else 0

    def give_back(self, principal: KafkaPrincipal, client_id: str | None, permits: int) -> None:
        found = self._bucket(principal, client_id)
        if found is not None:
            found[0].record(found[1], -float(permits), self._clock())

    def _bucket(
        self, principal: KafkaPrincipal, client_id: str | None
    ) -> tuple[TokenBucket, float] | None:
        found = resolve(
            self._quotas(), CONTROLLER_MUTATION_RATE, quota_user(principal), client_id or ""
        )
        if found is None:
            return None
        tags, bound = found
        bucket = self._buckets.get(tags)
        if bucket is None:
            bucket = self._buckets[tags] = TokenBucket(self.config)
            if len(self._buckets) > SENSORS_MAX:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(tags)
        return bucket, bound


_QUOTAS: weakref.WeakKeyDictionary[Any, MutationQuota] = weakref.WeakKeyDictionary()


def mutation_quota(node: Any) -> MutationQuota:
    """The node's mutation quota, made on first use from its image and config."""
    quota = _QUOTAS.get(node)
    if quota is None:
        config = RateConfig(
            samples=int(node.config["controller.quota.window.num"]),
            window_ms=int(node.config["controller.quota.window.size.seconds"]) * 1000,
        )
        quota = _QUOTAS[node] = MutationQuota(lambda: node.image.client_quotas, config)
    return quota


async def guard_mutations(
    quota: MutationQuota,
    ctx: Any,
    request: Any,
    *,
    entries_attr: str,
    results_attr: str,
    permits: Callable[[Any], int],
    key: Callable[[Any], Any],
    result_key: Callable[[Any], Any],
    refused: Callable[[Any], Any],
    strict_since: int,
    forward: Callable[[Any], Awaitable[Any]],
) -> Any:
    """Forward ``request`` with what its client's mutation quota admits, and answer for all of
        it: refused entries (strict versions) get THROTTLING_QUOTA_EXCEEDED (with no message, as
    Kafka's ApiError leaves out an error's own message) in the request's order,
        and the response carries the throttle time."""
    if not quota.applies(ctx.principal, ctx.client_id):
        return await forward(request)
    strict = ctx.api_version >= strict_since
    entries = list(getattr(request, entries_attr))
    admitted: list[Any] = []
    throttle = 0
    for entry in entries:
        wait = quota.admit(ctx.principal, ctx.client_id, permits(entry)) if strict else 0
        if wait:
            throttle = max(throttle, wait)
        else:
            admitted.append(entry)
    response = await forward(replace(request, **{entries_attr: admitted}))
    answers = {result_key(r): r for r in getattr(response, results_attr)}
    done = 0
    for entry in admitted:
        answer = answers.get(key(entry))
        if answer is not None and answer.error_code:
            if strict:
                quota.give_back(ctx.principal, ctx.client_id, permits(entry))
        else:
            done += permits(entry)
    if not strict:
        throttle = quota.record(ctx.principal, ctx.client_id, done)
    chosen = {id(e) for e in admitted}
    setattr(
        response,
        results_attr,
        [answers.get(key(e)) or refused(e) if id(e) in chosen else refused(e) for e in entries],
    )
    response.throttle_time_ms = max(response.throttle_time_ms, throttle)
    return response
