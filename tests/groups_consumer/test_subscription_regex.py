"""Subscription regexes: what RE2/J (Kafka's engine) cannot compile is refused, and so is the
nested unbounded repetition that would make Python's backtracking matcher exponential; the
rest matches topic names in full, never internal topics."""

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


def test_group_matches_in_full_and_skips_internal_topics() -> None:
    topics = {
        "orders": (uuid.UUID(int=1), 1),
        "orders-eu": (uuid.UUID(int=2), 1),
        "xorders": (uuid.UUID(int=3), 1),
        "__consumer_offsets": (uuid.UUID(int=4), 50),
    }
    group = ConsumerGroup("g", GroupConfig())
    result = group.heartbeat(
        Heartbeat(
            member_id="m",
            member_epoch=0,
            rebalance_timeout_ms=1,
            subscribed_topic_regex="orders.*|__.*",
            owned={},
        ),
        topics,
        0,
    )
    assert set(result.assignment) == {uuid.UUID(int=1), uuid.UUID(int=2)}
    with pytest.raises(HeartbeatError) as caught:
        group.heartbeat(
            Heartbeat(
                member_id="n",
                member_epoch=0,
                rebalance_timeout_ms=1,
                subscribed_topic_regex="(a+)+$",
                owned={},
            ),
            topics,
            0,
        )
    assert caught.value.code == ec.INVALID_REGULAR_EXPRESSION
