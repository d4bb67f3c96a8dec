"""Client quotas and connection limits, sans-io: Kafka's sampled rate and throttle time on a fake
clock, the quota resolution order and who shares a sensor, principals other than ANONYMOUS,
AlterClientQuotas validation with Kafka's messages, DescribeClientQuotas filters, the image's
replay and snapshot records, and the per-IP connection count."""

from __future__ import annotations

import pytest

from ferrokafka.cluster import client_quotas as cq
from ferrokafka.cluster.delta import MetadataDelta
from ferrokafka.cluster.image import EMPTY_IMAGE
from ferrokafka.cluster.image_records import image_from_records, image_records
from ferrokafka.protocol.error_codes import INVALID_REQUEST, NONE, UNSUPPORTED_VERSION
from ferrokafka.protocol.messages.alter_client_quotas import AlterClientQuotasRequest as ACQ
from ferrokafka.protocol.messages.describe_client_quotas import DescribeClientQuotasRequest as DCQ
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse
from ferrokafka.protocol.principal import ANONYMOUS, KafkaPrincipal
from ferrokafka.server.quotas.client_quotas import ClientQuotaManager, resolve
from ferrokafka.server.quotas.connections import (
    ConnectionLimitConfigError,
    ConnectionsPerIp,
    normalized,
    parse_overrides,
)
from ferrokafka.server.quotas.mutations import MutationQuota
from ferrokafka.server.quotas.rate import RateConfig, SampledRate, TokenBucket, record_and_throttle
from ferrokafka.server.quotas.throttle import BrokerQuotas, throttled_fetch_response

P = cq.PRODUCER_BYTE_RATE
C = cq.CONSUMER_BYTE_RATE


# -- the sampled rate -------------------------------------------------------------------------


def test_rate_counts_at_least_samples_minus_one_windows() -> None:
    rate = SampledRate(RateConfig(samples=11, window_ms=1000))
    rate.record(12_000, 0)
    # Kafka's Rate.windowSize: 0 ms elapsed counts as 10 full windows.
    assert rate.window_ms(0) == 10_000
    assert rate.measure(0) == pytest.approx(1200.0)
    # 11 samples x 1000 ms after the last event the sample is reset: nothing measured.
    assert rate.measure(11_000) == 0.0


def test_throttle_time_is_kafkas() -> None:
    rate = SampledRate(RateConfig(samples=11, window_ms=1000))
    # 12000 bytes at t=0 over a bound of 1000 B/s: (1200 - 1000) / 1000 * 10000 ms.
    assert record_and_throttle(rate, 1000.0, 12_000, 0) == 2000
    fresh = SampledRate(RateConfig(samples=11, window_ms=1000))
    assert record_and_throttle(fresh, 1000.0, 9_000, 0) == 0


def test_samples_expire_after_the_whole_window() -> None:
    rate = SampledRate(RateConfig(samples=2, window_ms=1000))
    rate.record(5000, 0)
    assert rate.measure(500) > 0
    assert rate.measure(2000) == 0.0  # 2 samples x 1000 ms since the last event: reset


@pytest.mark.parametrize("quota", [10_000.0, 50_000.0])
def test_a_client_that_waits_its_throttle_gets_its_quota(quota: float) -> None:
    """A producer sending 4 KB requests as fast as allowed (waiting out each throttle, as a
    KIP-219 client and the muted channel make it) gets within 10 % of its quota."""
    quotas = {cq.entity_of([(cq.CLIENT_ID, "slow")]): {P: quota}}
    manager = ClientQuotaManager(P, lambda: quotas, RateConfig(samples=11, window_ms=1000))
    now, sent, request = 0, 0, 4096
    end_ms = 120_000
    while now < end_ms:
        throttle = manager.record("ANONYMOUS", "slow", request, now)
        sent += request
        now += max(throttle, 1)
    assert sent / (now / 1000) == pytest.approx(quota, rel=0.10)


def test_token_bucket_starts_full_and_refills_at_the_quota() -> None:
    bucket = TokenBucket(RateConfig(samples=11, window_ms=1000))
    assert bucket.measure(2.0, 5_000) == 22.0  # 11 s of 2 per second
    bucket.record(2.0, 30.0, 5_000)
    assert bucket.measure(2.0, 5_000) == -8.0
    assert bucket.measure(2.0, 7_000) == -4.0
    assert bucket.measure(2.0, 60_000) == 22.0  # never above the burst


def test_mutation_quota_strict_and_permissive() -> None:
    quotas = {entity(client="m"): {cq.CONTROLLER_MUTATION_RATE: 1.0}}
    now = [1_000]
    quota = MutationQuota(lambda: quotas, RateConfig(), clock=lambda: now[0])
    # Strict: 11 permits of burst; checked before each topic, so the third still passes.
    assert [quota.admit(ANONYMOUS, "m", 5) for _ in range(4)] == [0, 0, 0, 4000]
    now[0] += 4000  # back to zero
    assert quota.admit(ANONYMOUS, "m", 5) == 0
    quota.give_back(ANONYMOUS, "m", 5)  # the controller refused it: its permits come back
    assert quota.record(ANONYMOUS, "m", 3) == 3000  # permissive: done, then throttled
    assert quota.admit(ANONYMOUS, "other", 100) == 0  # no quota for this client
    assert not quota.applies(ANONYMOUS, "other")


# -- resolution and sensors ---------------------------------------------------------------------


def entity(**parts: str | None) -> cq.QuotaEntity:
    names = {"user": cq.USER, "client": cq.CLIENT_ID}
    return cq.entity_of((names[k], v) for k, v in parts.items())


def test_resolution_order() -> None:
    quotas = {
        entity(client=None): {P: 8.0},
        entity(client="c"): {P: 7.0},
        entity(user=None): {P: 6.0},
        entity(user=None, client=None): {P: 5.0},
        entity(user=None, client="c"): {P: 4.0},
        entity(user="u"): {P: 3.0},
        entity(user="u", client=None): {P: 2.0},
        entity(user="u", client="c"): {P: 1.0},
    }
    order = [
        (entity(user="u", client="c"), ("u", "c")),
        (entity(user="u", client=None), ("u", "c")),
        (entity(user="u"), ("u", "")),
        (entity(user=None, client="c"), ("u", "c")),
        (entity(user=None, client=None), ("u", "c")),
        (entity(user=None), ("u", "")),
        (entity(client="c"), ("", "c")),
        (entity(client=None), ("", "c")),
    ]
    for bound, (ent, tags) in enumerate(order, start=1):
        assert resolve(quotas, P, "u", "c") == (tags, float(bound))
        del quotas[ent]
    assert resolve(quotas, P, "u", "c") is None


def test_resolution_is_per_key() -> None:
    quotas = {entity(user="u"): {C: 9.0}, entity(client="c"): {P: 7.0}}
    assert resolve(quotas, P, "u", "c") == (("", "c"), 7.0)
    assert resolve(quotas, C, "u", "c") == (("u", ""), 9.0)


def test_a_user_quota_is_shared_by_its_client_ids_and_defaults_are_per_client() -> None:
    quotas = {entity(user="alice"): {P: 1000.0}, entity(client=None): {P: 1000.0}}
    manager = ClientQuotaManager(P, lambda: quotas)
    assert manager.record("alice", "a1", 9000, 0) == 0
    assert manager.record("alice", "a2", 3000, 0) > 0  # the same sensor: 12000 over 10 s
    assert manager.record("bob", "b1", 9000, 0) == 0  # default client-id: per client id
    assert manager.record("bob", "b2", 9000, 0) == 0


def test_user_quotas_read_the_principal() -> None:
    quotas = {entity(user="alice"): {P: 100.0}, entity(user="ANONYMOUS"): {P: 200.0}}
    broker = BrokerQuotas(lambda: quotas, clock=lambda: 0)
    alice = KafkaPrincipal("User", "alice")
    bob = KafkaPrincipal("User", "bob")
    assert broker.on_produce(alice, "x", 1100) == 1000  # (110 - 100) / 100 * 10000 ms
    assert broker.on_produce(bob, "x", 1_000_000) == 0  # no quota for bob
    assert broker.on_produce(ANONYMOUS, "x", 2000) == 0  # ANONYMOUS's own 200 B/s, just met
    assert broker.on_produce(ANONYMOUS, "x", 100) > 0


def test_no_quota_set_means_inactive() -> None:
    assert not BrokerQuotas(lambda: {}).active()


# -- AlterClientQuotas / DescribeClientQuotas ---------------------------------------------------


def alter(quotas: cq.QuotaImage, *entries: tuple[list[tuple[str, str | None]], list[tuple]]):
    request = ACQ(
        entries=[
            ACQ.EntryData(
                entity=[ACQ.EntityData(entity_type=t, entity_name=n) for t, n in ent],
                ops=[ACQ.OpData(key=k, value=v, remove=r) for k, v, r in ops],
            )
            for ent, ops in entries
        ]
    )
    records, response = cq.alter_client_quotas(quotas, request)
    return records, [(e.error_code, e.error_message) for e in response.entries]


FRACTION = f"{P} cannot be a fractional value."
NOT_POSITIVE = f"Quota {P} must be greater than 0"
UNKNOWN_FOO = "Invalid configuration key foo"
TOO_LARGE = f"Proposed value for {P} is too large for a LONG."
IP_MIX = "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"
UNHANDLED = "Unhandled client quota entity type: group"


@pytest.mark.parametrize(
    ("ent", "ops", "answer"),
    [
        ([("client-id", "c")], [(P, 1024.0, False)], (NONE, None)),
        ([("client-id", "c")], [(P, 1.5, False)], (INVALID_REQUEST, FRACTION)),
        ([("client-id", "c")], [(P, 0.0, False)], (INVALID_REQUEST, NOT_POSITIVE)),
        ([("client-id", "c")], [("foo", 1.0, False)], (INVALID_REQUEST, UNKNOWN_FOO)),
        ([("client-id", "c")], [(cq.REQUEST_PERCENTAGE, 12.5, False)], (NONE, None)),
        ([("client-id", "c")], [(P, 1e19, False)], (INVALID_REQUEST, TOO_LARGE)),
        ([("ip", "1.2.3.4")], [(cq.CONNECTION_CREATION_RATE, 5.0, False)], (NONE, None)),
        ([("ip", "1.2.3.4")], [(P, 5.0, False)], (INVALID_REQUEST, f"{UNKNOWN_FOO[:-3]}{P}")),
        ([("ip", "1.2.3.4"), ("user", "u")], [(P, 5.0, False)], (INVALID_REQUEST, IP_MIX)),
        ([("user", "")], [(P, 5.0, False)], (INVALID_REQUEST, "Empty user not supported")),
        ([("group", "g")], [(P, 5.0, False)], (INVALID_REQUEST, UNHANDLED)),
        ([], [(P, 5.0, False)], (INVALID_REQUEST, "Invalid empty client quota entity")),
    ],
)  # fmt: skip
def test_alter_validation(ent: list, ops: list, answer: tuple) -> None:
    records, answers = alter({}, (ent, ops))
    assert answers == [answer]
    assert bool(records) == (answer[0] == NONE)


def test_alter_duplicates_and_noops() -> None:
    current = {entity(client="c"): {P: 10.0}}
    records, answers = alter(current, ([("client-id", "c")], [(P, 10.0, False)]))
    assert answers == [(NONE, None)] and records == []  # unchanged: nothing written
    records, answers = alter(current, ([("client-id", "c")], [(C, 1.0, True)]))
    assert answers == [(NONE, None)] and records == []  # removing what is not set
    _, answers = alter({}, ([("client-id", "c")], [(P, 1.0, False), (P, 2.0, False)]))
    assert answers[0][0] == INVALID_REQUEST and answers[0][1].startswith("Duplicate quota key")


def test_records_replay_into_the_image_and_its_snapshot() -> None:
    records, _ = alter(
        {},
        ([("user", None)], [(P, 100.0, False)]),
        ([("user", "alice"), ("client-id", None)], [(C, 200.0, False)]),
    )
    delta = MetadataDelta(EMPTY_IMAGE)
    delta.replay_all(records, 10)
    image = delta.apply()
    assert image.client_quotas == {
        entity(user=None): {P: 100.0},
        entity(user="alice", client=None): {C: 200.0},
    }
    again, _ = image_from_records(image_records(image), 10)
    assert again.client_quotas == image.client_quotas
    removal, _ = alter(image.client_quotas, ([("user", None)], [(P, 0.0, True)]))
    delta = MetadataDelta(image)
    delta.replay_all(removal, 11)
    assert entity(user=None) not in delta.apply().client_quotas


def describe(quotas: cq.QuotaImage, components: list[tuple[str, int, str | None]], strict=False):
    parts = [DCQ.ComponentData(entity_type=t, match_type=m, match=v) for t, m, v in components]
    request = DCQ(components=parts, strict=strict)
    response = cq.describe_client_quotas(quotas, request)
    if response.error_code:
        return response.error_code, response.error_message
    return sorted(
        tuple(sorted((e.entity_type, e.entity_name or "") for e in x.entity))
        for x in response.entries
    )


def test_describe_filters() -> None:
    quotas = {
        entity(user="u"): {P: 1.0},
        entity(user=None): {P: 1.0},
        entity(user="u", client="c"): {P: 1.0},
        entity(client="c"): {P: 1.0},
    }
    assert describe(quotas, [("user", 0, "u")]) == [
        (("client-id", "c"), ("user", "u")),
        (("user", "u"),),
    ]
    assert describe(quotas, [("user", 0, "u")], strict=True) == [(("user", "u"),)]
    assert describe(quotas, [("user", 1, None)]) == [(("user", ""),)]
    assert len(describe(quotas, [("user", 2, None)])) == 3
    assert len(describe(quotas, [])) == 4
    assert describe(quotas, [("user", 0, None)])[0] == INVALID_REQUEST
    assert describe(quotas, [("user", 2, None), ("user", 1, None)]) == (
        INVALID_REQUEST,
        "Entity type user cannot appear more than once in the filter.",
    )
    assert describe(quotas, [("group", 2, None)])[0] == UNSUPPORTED_VERSION
    assert describe(quotas, [("ip", 2, None), ("user", 2, None)])[0] == INVALID_REQUEST


# -- connections per IP -------------------------------------------------------------------------


def test_connections_per_ip() -> None:
    limits = ConnectionsPerIp(2, parse_overrides("127.0.0.2:0, 10.0.0.1:5"))
    assert limits.try_open("127.0.0.1") and limits.try_open("127.0.0.1")
    assert not limits.try_open("127.0.0.1")
    assert not limits.try_open("127.0.0.2")
    limits.closed("127.0.0.1")
    assert limits.try_open("127.0.0.1")
    assert limits.limit("10.0.0.1") == 5 and limits.count("127.0.0.1") == 2
    assert ConnectionsPerIp().unlimited
    assert normalized("::ffff:127.0.0.1") == "127.0.0.1"
    with pytest.raises(ConnectionLimitConfigError):
        parse_overrides("127.0.0.1")


# (request session epoch, response error, response session id) -> throttled (error, session id)
@pytest.mark.parametrize(
    ("epoch", "error", "session", "answer"),
    [
        (0, NONE, 7, (NONE, 0)),  # a full fetch that made session 7: never told
        (-1, NONE, 0, (NONE, 0)),  # sessionless
        (3, NONE, 7, (NONE, 7)),  # an incremental fetch keeps its session
        (3, 70, 0, (NONE, 0)),  # FETCH_SESSION_ID_NOT_FOUND: Kafka's default, no error
    ],
)
def test_throttled_fetch_response_is_kafkas(
    epoch: int, error: int, session: int, answer: tuple[int, int]
) -> None:
    """Kafka 4.4's FetchContext.getThrottledResponse per context: no partitions, no error,
    the session id of an incremental fetch only."""
    request = FetchRequest(session_id=7 if epoch > 0 else 0, session_epoch=epoch, topics=[])
    response = FetchResponse(error_code=error, session_id=session, responses=[])
    throttled = throttled_fetch_response(response, 250, request)
    assert (throttled.error_code, throttled.session_id) == answer
    assert (throttled.throttle_time_ms, throttled.responses) == (250, [])


def test_handler_time_counts_steps_not_waits() -> None:
    """A request's cost is its task's running time: a handler that sleeps 200 ms and
    computes for ~20 ms costs about the 20 ms (Kafka's thread time, not the wait)."""
    import time

    import trio

    from ferrokafka.server.quotas.request_time import handler_time_meter

    def busy(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    async def handler(spent: list[int]) -> None:
        meter = handler_time_meter()
        task = trio.lowlevel.current_task()
        meter.track(task)
        busy(0.01)
        await trio.sleep(0.2)
        busy(0.01)
        spent.append(meter.stop(task))

    async def main() -> list[int]:
        spent: list[int] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(handler, spent)
            nursery.start_soon(trio.to_thread.run_sync, busy, 0.05)  # others' steps
        return spent

    (spent_ns,) = trio.run(main)
    # At least its two busy steps, less than the sleep alone: the wait is not counted.
    assert 0.02 <= spent_ns / 1e9 < 0.2
