"""The follower fetcher's decisions (partition/follower_fetch.py, sans-io) and the ISR rules
(partition/isr.py), as Kafka's AbstractFetcherThread, Replica and Partition decide them."""

from __future__ import annotations

import struct
import uuid

from ferrokafka.partition import isr as rules
from ferrokafka.partition.follower_fetch import (
    FetcherConfig,
    FetchPosition,
    Step,
    decide,
    fetch_request,
    out_of_range_step,
    truncation_offset,
    whole_batches,
)
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.fetch import FetchResponse

TOPIC_ID = uuid.UUID(int=7)
POSITION = FetchPosition("t", TOPIC_ID, 0, 5, 100, 4, 0)


def epochs(entries: dict[int, int], log_end: int):  # epoch -> start offset
    def end_offset_for(epoch: int) -> tuple[int, int]:
        known = sorted(entries)
        below = [e for e in known if e <= epoch]
        if not below:
            return -1, -1
        after = [e for e in known if e > below[-1]]
        return below[-1], entries[after[0]] if after else log_end

    return end_offset_for


def data(**fields: object) -> FetchResponse.PartitionData:
    return FetchResponse.PartitionData(partition_index=0, **fields)  # type: ignore[arg-type]


def test_the_request_carries_the_replica_state_from_v15_and_replica_id_before() -> None:
    config = FetcherConfig(max_wait_ms=250, min_bytes=1, partition_max_bytes=4096)
    new = fetch_request(3, 42, [POSITION], config, version=17)
    assert (new.replica_id, new.replica_state.replica_id, new.replica_state.replica_epoch) == (
        -1,
        3,
        42,
    )
    old = fetch_request(3, 42, [POSITION], config, version=14)
    assert (old.replica_id, old.replica_state.replica_id) == (3, -1)
    part = new.topics[0].partitions[0]
    assert (part.fetch_offset, part.last_fetched_epoch, part.current_leader_epoch) == (100, 4, 5)
    # A full fetch asking for a session (KIP-227): session 0, epoch 0.
    assert (part.partition_max_bytes, new.max_wait_ms) == (4096, 250)
    assert (new.session_id, new.session_epoch) == (0, 0)


def batch(base_offset: int, body: bytes) -> bytes:
    return struct.pack(">qi", base_offset, len(body)) + body


def test_records_are_appended_with_the_leaders_high_watermark() -> None:
    records = batch(100, b"a" * 50) + batch(101, b"b" * 20)
    decision = decide(POSITION, data(high_watermark=90, records=records), 100, 80, epochs({}, 100))
    assert (decision.step, decision.records, decision.high_watermark) == (Step.APPEND, records, 90)


def test_a_batch_cut_at_the_byte_limit_is_left_for_the_next_fetch() -> None:
    whole = batch(100, b"a" * 50)
    assert whole_batches(whole + batch(101, b"b" * 20)[:-3]) == whole
    assert whole_batches(whole + b"\x00" * 5) == whole
    assert whole_batches(b"\x00" * 5) == b""


def test_errors_back_off_and_out_of_range_asks_the_leader() -> None:
    for code in (ec.FENCED_LEADER_EPOCH, ec.NOT_LEADER_OR_FOLLOWER, ec.UNKNOWN_LEADER_EPOCH):
        assert decide(POSITION, data(error_code=code), 100, 80, epochs({}, 100)).step is (
            Step.BACK_OFF
        )
    out = decide(POSITION, data(error_code=ec.OFFSET_OUT_OF_RANGE), 100, 80, epochs({}, 100))
    assert out.step is Step.OUT_OF_RANGE
    assert out_of_range_step(100, 0, 90) == ("truncate", 90)  # longer than the leader's log
    assert out_of_range_step(100, 150, 200) == ("restart", 150)  # below the leader's start
    assert out_of_range_step(100, 0, 200) == ("retry", -1)


def test_a_diverging_epoch_truncates_where_the_logs_agree() -> None:
    # This log: epoch 2 from 0, epoch 4 from 60, ends at 100. The leader says epoch 2 ended at
    # 50 (it never had our epoch 4): cut to 50.
    own = epochs({2: 0, 4: 60}, 100)
    diverging = FetchResponse.EpochEndOffset(epoch=2, end_offset=50)
    decision = decide(POSITION, data(diverging_epoch=diverging), 100, 40, own)
    assert (decision.step, decision.offset) == (Step.TRUNCATE, 50)
    # Our own end of the leader's epoch is smaller than the leader's: cut to ours.
    assert truncation_offset(2, 70, 100, 40, own) == 60
    # An epoch we do not know: at most the leader's end; an unknown leader end: our HW.
    assert truncation_offset(1, 30, 100, 40, epochs({2: 0}, 100)) == 30
    assert truncation_offset(-1, -1, 100, 40, own) == 40


def test_caught_up_follows_kafkas_last_caught_up_rule() -> None:
    progress = rules.FollowerProgress()
    progress.fetched(10, 0, now_ms=1000, leader_end_offset=10, broker_epoch=7)
    assert progress.last_caught_up_ms == 1000  # fetched from the leader's log end
    progress.fetched(10, 0, now_ms=2000, leader_end_offset=20, broker_epoch=7)
    # Behind the leader now, but as far as the leader's end at the previous fetch: caught up
    # as of that fetch's time.
    assert progress.last_caught_up_ms == 1000
    progress.fetched(20, 0, now_ms=3000, leader_end_offset=25, broker_epoch=7)
    assert progress.last_caught_up_ms == 2000
    assert progress.is_caught_up(25, now_ms=3500, lag_max_ms=1000) is False
    assert progress.is_caught_up(20, now_ms=9999, lag_max_ms=1000) is True  # at the log end
    followers = {2: progress, 3: rules.FollowerProgress(last_caught_up_ms=3400)}
    assert rules.out_of_sync((1, 2, 3), 1, followers, 25, 3500, 1000) == [2]
    assert rules.shrunk((1, 2, 3), [2]) == (1, 3) and rules.expanded((1, 3), 2) == (1, 3, 2)


def test_a_follower_joins_at_the_high_watermark_and_the_epoch_start() -> None:
    progress = rules.FollowerProgress(log_end_offset=50)
    assert rules.may_join(progress, high_watermark=50, leader_epoch_start_offset=40)
    assert not rules.may_join(progress, high_watermark=51, leader_epoch_start_offset=40)
    assert not rules.may_join(progress, high_watermark=50, leader_epoch_start_offset=60)
    assert not rules.may_join(rules.FollowerProgress(), 0, 0)  # never fetched
    assert rules.stale_broker_epoch(5, 6) and not rules.stale_broker_epoch(-1, 6)
    assert not rules.stale_broker_epoch(6, 6)
