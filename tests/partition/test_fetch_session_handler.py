"""The follower side of incremental fetch sessions (KIP-227, Kafka's FetchSessionHandler), sans
I/O: what each fetch names and forgets, and how the leader's answers move the session."""

from __future__ import annotations

import dataclasses
import uuid

from ferrokafka.partition.fetch_session_handler import FetchSessionHandler, SessionFetch
from ferrokafka.partition.follower_fetch import FetcherConfig, FetchPosition, fetch_request
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse

TOPIC_ID = uuid.UUID(int=7)
SESSION = 4242


def position(partition: int, offset: int = 0) -> FetchPosition:
    return FetchPosition("t", TOPIC_ID, partition, 3, offset, 2, 0, offset)


def answer(partitions: list[int], session_id: int = SESSION, error: int = ec.NONE) -> FetchResponse:
    data = [FetchResponse.PartitionData(partition_index=p) for p in partitions]
    topics = [FetchResponse.FetchableTopicResponse(topic="t", topic_id=TOPIC_ID, partitions=data)]
    return FetchResponse(error_code=error, session_id=session_id, responses=topics if data else [])


def sent(fetch: SessionFetch) -> list[int]:
    return [p.partition for p in fetch.to_send]


def opened(handler: FetchSessionHandler, partitions: list[FetchPosition]) -> None:
    fetch = handler.build(partitions)
    assert fetch is not None and fetch.full
    assert handler.handle_response(fetch, answer([p.partition for p in partitions]))
    assert (handler.session_id, handler.epoch) == (SESSION, 1)


def test_a_full_fetch_opens_a_session_then_only_changes_are_sent() -> None:
    handler = FetchSessionHandler(1)
    first = handler.build([position(0), position(1), position(2)])
    assert first is not None
    assert (first.session_id, first.epoch, sent(first), first.to_forget) == (0, 0, [0, 1, 2], [])
    assert handler.handle_response(first, answer([0, 1, 2]))
    # Nothing changed: an incremental fetch naming no partition (the leader long-polls them).
    quiet = handler.build([position(0), position(1), position(2)])
    assert quiet is not None and (quiet.session_id, quiet.epoch, sent(quiet)) == (SESSION, 1, [])
    assert handler.handle_response(quiet, answer([]))
    # Partition 1 moved, 2 left the fetch (backing off), 3 joined.
    moved = handler.build([position(0), position(1, 10), position(3)])
    assert moved is not None and moved.epoch == 2
    assert sent(moved) == [1, 3] and [p.partition for p in moved.to_forget] == [2]
    assert handler.handle_response(moved, answer([1]))
    assert handler.epoch == 3 and sorted(k[1] for k in handler.partitions) == [0, 1, 3]


def test_a_known_high_watermark_change_is_sent() -> None:
    handler = FetchSessionHandler(1)
    opened(handler, [position(0, 5)])
    fetch = handler.build([dataclasses.replace(position(0, 5), high_watermark=6)])
    assert fetch is not None and sent(fetch) == [0]


def test_session_errors_restart_or_reopen() -> None:
    handler = FetchSessionHandler(1)
    opened(handler, [position(0)])
    fetch = handler.build([position(0)])
    assert fetch is not None
    assert not handler.handle_response(fetch, answer([], 0, ec.INVALID_FETCH_SESSION_EPOCH))
    # Close the session and open another: a full fetch with the old id and epoch 0.
    again = handler.build([position(0)])
    assert again is not None and (again.session_id, again.epoch, sent(again)) == (SESSION, 0, [0])
    assert not handler.handle_response(again, answer([], 0, ec.FETCH_SESSION_ID_NOT_FOUND))
    fresh = handler.build([position(0)])
    assert fresh is not None and (fresh.session_id, fresh.epoch) == (0, 0)
    # A transport error: close and reopen.
    handler.handle_error()
    assert (handler.session_id, handler.epoch) == (0, 0)


def test_answers_that_do_not_match_the_session_are_not_used() -> None:
    handler = FetchSessionHandler(1)
    full = handler.build([position(0), position(1)])
    assert full is not None
    assert not handler.handle_response(full, answer([0]))  # partition 1 omitted
    assert (handler.session_id, handler.epoch) == (0, 0)
    opened(handler, [position(0), position(1)])
    inc = handler.build([position(0)])  # 1 forgotten
    assert inc is not None
    assert not handler.handle_response(inc, answer([1]))  # outside the session now
    assert handler.epoch == 0 and handler.session_id == SESSION


def test_the_leader_closing_the_session_and_a_full_cache() -> None:
    handler = FetchSessionHandler(1)
    full = handler.build([position(0)])
    assert full is not None
    assert handler.handle_response(full, answer([0], session_id=0))  # no room: no session
    assert handler.build([position(0)]) == SessionFetch(0, 0, [position(0)], [])
    opened(handler, [position(0)])
    gone = handler.build([])  # everything forgotten
    assert gone is not None and sent(gone) == [] and len(gone.to_forget) == 1
    assert handler.handle_response(gone, answer([], session_id=0))
    assert handler.build([]) is None


def test_the_request_carries_the_session_and_forgotten_partitions() -> None:
    config = FetcherConfig()
    request = fetch_request(
        2,
        9,
        [position(1, 7)],
        config,
        18,
        session_id=SESSION,
        session_epoch=5,
        forgotten=[position(4)],
    )
    assert (request.session_id, request.session_epoch) == (SESSION, 5)
    assert [(t.topic_id, t.partitions) for t in request.forgotten_topics_data] == [(TOPIC_ID, [4])]
    assert request.topics[0].partitions[0].high_watermark == 7
    old = fetch_request(2, 9, [position(1)], config, 12, forgotten=[position(4)])
    assert old.forgotten_topics_data[0].topic == "t"
    assert (
        old.topics[0].partitions[0].high_watermark == FetchRequest.FetchPartition().high_watermark
    )
