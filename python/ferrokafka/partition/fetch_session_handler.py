"""The follower side of incremental fetch sessions (KIP-227), as Kafka's ReplicaFetcherThread
uses its ``FetchSessionHandler`` (sans-io): one handler per source broker.

The first fetch is a full one (epoch 0) naming every partition; a leader with room in its
session cache answers it with a session id. From then on each fetch carries that id and the
next epoch, and names only the partitions whose position changed since the leader last heard
of them (fetch offset, log start, leader epoch, last fetched epoch, known high watermark) and
those that left the fetch (``forgotten_topics_data``: no longer followed from this broker,
backing off, throttled). The leader answers only partitions with news; a partition it leaves
out has nothing new.

Kafka's rules for the next fetch after each answer (FetchSessionHandler.handleResponse):

* FETCH_SESSION_ID_NOT_FOUND: a full fetch without a session (id 0, epoch 0);
* any other top-level error, a transport error, or an incremental answer naming a partition
  outside the session: a full fetch that closes this session and opens a new one (id, epoch 0);
* a full answer that does not name exactly the session's partitions: a full fetch (0, 0), and
  the answer is not used;
* a full answer with a session id: incremental fetches of it from epoch 1; with id 0 (the
  leader's cache is full): full fetches again;
* an incremental answer with session id 0 (the leader closed it): a full fetch (0, 0).

A partition is keyed by (topic id, index): a topic deleted and created again under its name is
another partition, forgotten and added as Kafka's "replaced" ones are.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from ferrokafka.partition.follower_fetch import FetchPosition
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.fetch import FetchResponse

INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0
# Session epochs are positive int32 values, wrapping from the maximum back to 1.
_EPOCH_MAX = 2**31 - 1

SessionKey = tuple[uuid.UUID, int]


@dataclass(frozen=True, slots=True)
class SessionFetch:
    """What one fetch carries: its session metadata, the partitions it names (all of the
    session's in a full fetch) and those it asks the leader to forget."""

    session_id: int
    epoch: int
    to_send: list[FetchPosition]
    to_forget: list[FetchPosition]

    @property
    def full(self) -> bool:
        return self.epoch == INITIAL_EPOCH


def next_epoch(epoch: int) -> int:
    return 1 if epoch >= _EPOCH_MAX else epoch + 1


def key_of(position: FetchPosition) -> SessionKey:
    return (position.topic_id, position.partition)


class FetchSessionHandler:
    """The session this follower holds with one leader, and what the leader was last told of
    each partition in it. Trio thread only."""

    def __init__(self, source_id: int) -> None:
        self.source_id = source_id
        # The metadata of the next fetch: (INVALID_SESSION_ID, INITIAL_EPOCH) is a full fetch
        # without a session, (id, INITIAL_EPOCH) a full fetch closing ``id`` for a new one.
        self.session_id = INVALID_SESSION_ID
        self.epoch = INITIAL_EPOCH
        self._partitions: dict[SessionKey, FetchPosition] = {}
        # Counters for tests and logs.
        self.full_fetches = 0
        self.incremental_fetches = 0
        self.sessions_opened = 0

    def __repr__(self) -> str:
        return (
            f"<FetchSessionHandler source={self.source_id} session={self.session_id} "
            f"epoch={self.epoch} {len(self._partitions)}p>"
        )

    @property
    def partitions(self) -> dict[SessionKey, FetchPosition]:
        return dict(self._partitions)

    def build(self, positions: Iterable[FetchPosition]) -> SessionFetch | None:
        """The next fetch for ``positions`` (the partitions ready to fetch now), or None when
        there is nothing to fetch and nothing to forget."""
        wanted = {key_of(p): p for p in positions}
        if self.epoch == INITIAL_EPOCH:
            self._partitions = wanted
            if not wanted:
                return None
            self.full_fetches += 1
            return SessionFetch(self.session_id, self.epoch, list(wanted.values()), [])
        to_send: list[FetchPosition] = []
        to_forget: list[FetchPosition] = []
        for key, previous in list(self._partitions.items()):
            position = wanted.pop(key, None)
            if position is None:
                del self._partitions[key]
                to_forget.append(previous)
            elif position != previous:
                self._partitions[key] = position
                to_send.append(position)
        for key, position in wanted.items():
            self._partitions[key] = position
            to_send.append(position)
        if not self._partitions and not to_forget:
            return None
        self.incremental_fetches += 1
        return SessionFetch(self.session_id, self.epoch, to_send, to_forget)

    def handle_response(self, fetch: SessionFetch, response: FetchResponse) -> bool:
        """Take the leader's answer to ``fetch``: whether its partitions may be used."""
        if response.error_code != ec.NONE:
            if response.error_code == ec.FETCH_SESSION_ID_NOT_FOUND:
                self._restart()
            else:
                self._close_and_reopen()
            return False
        answered = self._answered(response)
        if fetch.full:
            if answered != set(self._partitions):
                self._restart()  # omitted or extra partitions: not a valid full answer
                return False
            if response.session_id == INVALID_SESSION_ID:
                self._restart()
            else:
                self.session_id, self.epoch = response.session_id, next_epoch(INITIAL_EPOCH)
                self.sessions_opened += 1
            return True
        if not answered <= set(self._partitions):
            self._close_and_reopen()  # partitions outside the session
            return False
        if response.session_id == INVALID_SESSION_ID:
            self._restart()  # the leader closed the session
        else:
            self.epoch = next_epoch(self.epoch)
        return True

    def handle_error(self) -> None:
        """The fetch got no answer: the leader may or may not have taken it."""
        self._close_and_reopen()

    def _restart(self) -> None:
        self.session_id, self.epoch = INVALID_SESSION_ID, INITIAL_EPOCH

    def _close_and_reopen(self) -> None:
        self.epoch = INITIAL_EPOCH

    def _answered(self, response: FetchResponse) -> set[SessionKey]:
        by_name = {(p.topic, p.partition): k for k, p in self._partitions.items()}
        answered: set[SessionKey] = set()
        unknown = uuid.UUID(int=0)
        for topic in response.responses:
            for data in topic.partitions:
                if topic.topic_id != unknown:
                    answered.add((topic.topic_id, data.partition_index))
                else:
                    name_key = (topic.topic, data.partition_index)
                    answered.add(by_name.get(name_key, (unknown, data.partition_index)))
        return answered
