"""Request bytes of a follower's fetch with and without incremental fetch sessions (KIP-227):
``python -m bench.fetch_session_bytes [--partitions 100 500 1000] [--topics 10]``.

Sans-io and deterministic: the replica fetcher's own request builder
(:mod:`ferrokafka.partition.fetch_session_handler` and ``follower_fetch.fetch_request``)
encoded with the protocol codec at Fetch v18, for a follower of N partitions spread over
``--topics`` topics. "full" is every fetch before sessions (and the first one with them);
"incremental" a steady fetch in which none, 1% or 10% of the partitions moved since the
previous one. Not a test: no assertion (``test_fetch_session_bytes_smoke.py`` runs it small).
"""

from __future__ import annotations

import argparse
import dataclasses
import uuid

from ferrokafka.partition.fetch_session_handler import FetchSessionHandler, SessionFetch
from ferrokafka.partition.follower_fetch import FetcherConfig, FetchPosition, fetch_request
from ferrokafka.protocol import RequestHeader, encode_request
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse

FETCH_V = 18
SESSION_ID = 123_456_789
CLIENT_ID = "ferrokafka-replica-fetcher-2"
CHANGED_SHARES = (0.0, 0.01, 0.10)


def _positions(partitions: int, topics: int) -> list[FetchPosition]:
    ids = [uuid.UUID(int=t + 1) for t in range(topics)]
    return [
        FetchPosition(f"topic-{i % topics}", ids[i % topics], i // topics, 7, 1_000_000 + i, 7, 0)
        for i in range(partitions)
    ]


def _bytes(fetch: SessionFetch, config: FetcherConfig) -> int:
    request = fetch_request(
        2,
        40,
        fetch.to_send,
        config,
        FETCH_V,
        session_id=fetch.session_id,
        session_epoch=fetch.epoch,
        forgotten=fetch.to_forget,
    )
    header = RequestHeader(
        request_api_key=FetchRequest.API_KEY,
        request_api_version=FETCH_V,
        correlation_id=1,
        client_id=CLIENT_ID,
    )
    return len(encode_request(header, request))


def _full_answer(fetch: SessionFetch) -> FetchResponse:
    topics: dict[uuid.UUID, FetchResponse.FetchableTopicResponse] = {}
    for p in fetch.to_send:
        topic = topics.setdefault(
            p.topic_id, FetchResponse.FetchableTopicResponse(topic=p.topic, topic_id=p.topic_id)
        )
        topic.partitions.append(FetchResponse.PartitionData(partition_index=p.partition))
    return FetchResponse(session_id=SESSION_ID, responses=list(topics.values()))


def measure(partitions: int, topics: int) -> dict[str, int]:
    """Bytes of one fetch: full, then incremental with each share of partitions moved."""
    config = FetcherConfig()
    positions = _positions(partitions, topics)
    handler = FetchSessionHandler(1)
    full = handler.build(positions)
    assert full is not None
    sizes = {"full": _bytes(full, config)}
    assert handler.handle_response(full, _full_answer(full))
    for share in CHANGED_SHARES:
        moved = int(partitions * share)
        positions = [
            dataclasses.replace(p, fetch_offset=p.fetch_offset + 1) if i < moved else p
            for i, p in enumerate(positions)
        ]
        fetch = handler.build(positions)
        assert fetch is not None and len(fetch.to_send) == moved
        sizes[f"incremental, {share:.0%} moved"] = _bytes(fetch, config)
        assert handler.handle_response(fetch, FetchResponse(session_id=SESSION_ID))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--topics", type=int, default=10)
    args = parser.parse_args()
    for partitions in args.partitions:
        sizes = measure(partitions, args.topics)
        shown = ", ".join(f"{name} {size} B" for name, size in sizes.items())
        print(f"{partitions} partitions / {args.topics} topics: {shown}")


if __name__ == "__main__":
    main()
