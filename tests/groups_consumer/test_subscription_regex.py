"""Subscription regexes: what RE2/J (Kafka's engine) cannot compile is refused, and so is the
nested unbounded repetition that would make Python's backtracking matcher exponential; the
rest matches topic names in full, internal topics included (as Kafka's coordinator resolves a
regex against every topic of its metadata image)."""

from __future__ import annotations

import uuid

import pytest

from ferrokafka.groups.consumer.group import ConsumerGroup, GroupConfig, Heartbeat, HeartbeatError
from ferrokafka.groups.consumer.regex import InvalidRegexError, compile_subscription
from ferrokafka.protocol import error_codes as ec


@pytest.mark.parametrize("regex", ["(^rx-.*)", "t.*", "orders|payments", "(?:ab)+c.*", "[a-z]+"])
def test_accepted(regex: str) -> None:
    compile_subscription(regex)


@pytest.mark.parametrize(
    "regex", ["(a+)+$", "(x*)*", "((a|b)+)+", "(?=x)a", "(?<!x)a", r"(a)\1", "(a)?(?(1)b|c)", "["]
)
def test_refused(regex: str) -> None:
    with pytest.raises(InvalidRegexError):
        compile_subscription(regex)


TOPICS = {
    "orders": (uuid.UUID(int=1), 1),
    "orders-eu": (uuid.UUID(int=2), 1),
    "xorders": (uuid.UUID(int=3), 1),
    "__consumer_offsets": (uuid.UUID(int=4), 50),
    "__transaction_state": (uuid.UUID(int=5), 50),
}


def join(group: ConsumerGroup, member_id: str, regex: str):
    return group.heartbeat(
        Heartbeat(
            member_id=member_id,
            member_epoch=0,
            rebalance_timeout_ms=1,
            subscribed_topic_regex=regex,
            owned={},
        ),
        TOPICS,
        0,
    )


def test_group_matches_in_full_and_includes_internal_topics() -> None:
    group = ConsumerGroup("g", GroupConfig())
    result = join(group, "m", "orders.*|__consumer_offsets")
    # "xorders" contains a match but is not one in full; __transaction_state is not named.
    assert set(result.assignment) == {uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=4)}
    assert set(result.assignment[uuid.UUID(int=4)]) == set(range(50))
    assert set(group.subscribed_metadata) == {"orders", "orders-eu", "__consumer_offsets"}
    with pytest.raises(HeartbeatError) as caught:
        join(group, "n", "(a+)+$")
    assert caught.value.code == ec.INVALID_REGULAR_EXPRESSION


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        ("__.*", {"__consumer_offsets", "__transaction_state"}),
        (".*", set(TOPICS)),
        ("^__consumer_offsets$", {"__consumer_offsets"}),
        ("(^__consumer_offsets$)", {"__consumer_offsets"}),  # as librdkafka wraps it
        ("_.*offsets", {"__consumer_offsets"}),
    ],
)
def test_regex_matches_internal_topics_like_any_other(regex: str, expected: set[str]) -> None:
    group = ConsumerGroup("g", GroupConfig())
    result = join(group, "m", regex)
    assert set(group.subscribed_metadata) == expected
    assert set(result.assignment) == {TOPICS[name][0] for name in expected}
