"""Incremental fetch sessions (KIP-227): the broker remembers which partitions a client
fetches, so the client sends only changes and the broker answers only partitions with news.

Kafka's rules (FetchManager.newContext), by the request's session id and epoch:
- epoch -1 (final): close the given session, if any; answer this request without a session.
- epoch 0 (initial): close the given session, if any; a full fetch that opens a new session
  when the cache has room.
- epoch > 0: an incremental fetch of an existing session; an unknown id is
  FETCH_SESSION_ID_NOT_FOUND, a different epoch INVALID_FETCH_SESSION_EPOCH, a session opened
  with topic names used with topic ids (or the reverse) FETCH_SESSION_TOPIC_ID_ERROR.

Followers' sessions (replica fetches) are privileged, as Kafka's: when the cache is full a
follower's new session may evict a consumer's; a follower also tells the high watermark it
knows (Fetch v18, KIP-1166), kept with its position.

Sessions are shared by all connections (a client may reconnect and go on), and touched from
the trio thread only, so they need no lock.
"""

from __future__ import annotations

import random
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

import trio

from ferrokafka.server import errors

INITIAL_EPOCH = 0
FINAL_EPOCH = -1
INVALID_SESSION_ID = 0
# Kafka's max.incremental.fetch.session.cache.slots default.
FETCH_SESSION_CACHE_SLOTS = 1000
# Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS: an idle session may be evicted after this.
FETCH_SESSION_EVICTION_S = 120.0
# Session ids are positive int32 values.
_SESSION_ID_MAX = 2**31 - 1
# FetchPartition.high_watermark's default: the fetcher does not tell it (Kafka's followers and
# consumers); -1 is a fetcher that does not know it yet.
HIGH_WATERMARK_UNSET = 2**63 - 1

# A topic is keyed by its id when the session uses topic ids (Fetch v13+), else by its name.
TopicKey = str | uuid.UUID
PartitionKey = tuple[TopicKey, int]


@dataclass(slots=True)
class CachedPartition:
    """What a session knows of one partition: the client's position and limits (from its
    last request that named the partition) and what it was last told."""

    topic: str
    topic_id: uuid.UUID
    partition: int
    fetch_offset: int
    max_bytes: int
    current_leader_epoch: int
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    # A follower's own position (replica fetches): the epoch of its last fetched batch and
    # its log start offset, as its latest request said.
    last_fetched_epoch: int = -1
    replica_log_start_offset: int = -1
    # The high watermark the follower knows (KIP-1166), HIGH_WATERMARK_UNSET when not told.
    replica_high_watermark: int = HIGH_WATERMARK_UNSET

    def must_respond(
        self,
        error: int,
        record_bytes: int,
        hw: int,
        lso: int,
        start: int,
        preferred_read_replica: int = -1,
        diverging: bool = False,
        hw_news: bool = False,
    ) -> bool:
        """Whether an incremental response must include the partition (Kafka's
        CachedPartition.maybeUpdateResponseData), remembering what it reports. A diverging
        epoch is always answered (the fetcher truncates on it), and so is a high watermark
        above what the follower said it knows (an answer sent early for it must carry it)."""
        changed = (hw, lso, start) != (
            self.high_watermark,
            self.last_stable_offset,
            self.log_start_offset,
        )
        self.high_watermark, self.last_stable_offset, self.log_start_offset = hw, lso, start
        return (
            changed
            or record_bytes > 0
            or error != errors.NONE
            or preferred_read_replica >= 0
            or diverging
            or hw_news
        )


@dataclass(eq=False)
class FetchSession:
    id: int
    uses_topic_ids: bool
    partitions: OrderedDict[PartitionKey, CachedPartition]
    # the epoch the next incremental request must carry
    epoch: int = 1
    last_used: float = field(default_factory=trio.current_time)
    # A follower's session (Kafka's privileged sessions).
    privileged: bool = False
    created: float = field(default_factory=trio.current_time)

    def evictable_key(self) -> tuple[bool, int, int]:
        """Kafka's EvictableKey: the less valuable session sorts first."""
        return (self.privileged, len(self.partitions), self.id)

    def rotate(self, keys: list[PartitionKey]) -> None:
        """Move partitions that just returned records to the end, so the next answer starts
        with the others (Kafka's incremental context does, for fairness under max_bytes)."""
        for key in keys:
            self.partitions.move_to_end(key)

    def update(
        self, requested: list[CachedPartition], forgotten: list[PartitionKey], key_of_id: bool
    ) -> None:
        """Apply an incremental request: add or update the partitions it names, drop the
        forgotten ones. What the client was last told is kept for updated partitions."""
        for part in requested:
            key = partition_key(part, key_of_id)
            cached = self.partitions.get(key)
            if cached is None:
                self.partitions[key] = part
            else:
                cached.fetch_offset = part.fetch_offset
                cached.max_bytes = part.max_bytes
                cached.current_leader_epoch = part.current_leader_epoch
                cached.last_fetched_epoch = part.last_fetched_epoch
                cached.replica_log_start_offset = part.replica_log_start_offset
                cached.replica_high_watermark = part.replica_high_watermark
        for key in forgotten:
            self.partitions.pop(key, None)


def partition_key(part: CachedPartition, by_id: bool) -> PartitionKey:
    return (part.topic_id if by_id else part.topic, part.partition)


def next_epoch(epoch: int) -> int:
    """Kafka's FetchMetadata.nextEpoch: epochs wrap from int32 max back to 1."""
    return 1 if epoch >= _SESSION_ID_MAX else epoch + 1


class FetchSessionCache:
    """At most ``slots`` sessions. When full, a new session evicts (Kafka's
    FetchSessionCache.tryEvict) the least recently used one if it has been idle for
    ``eviction_s``; else the least valuable of the others (privileged last, then fewest
    partitions) if it is less valuable than the new one: a follower's evicts any consumer's
    and a follower's created over ``eviction_s`` ago, a consumer's only another consumer's
    with fewer partitions created over ``eviction_s`` ago. Else the new full fetch gets no
    session (session id 0), which clients handle by sending full fetches."""

    def __init__(
        self, slots: int = FETCH_SESSION_CACHE_SLOTS, eviction_s: float = FETCH_SESSION_EVICTION_S
    ) -> None:
        self.slots = slots
        self.eviction_s = eviction_s
        # least recently used first
        self._sessions: OrderedDict[int, FetchSession] = OrderedDict()
        self._random = random.SystemRandom()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: int) -> FetchSession | None:
        return self._sessions.get(session_id)

    def remove(self, session_id: int) -> None:
        self._sessions.pop(session_id, None)

    def touch(self, session: FetchSession) -> None:
        session.last_used = trio.current_time()
        self._sessions.move_to_end(session.id)

    def create(
        self,
        partitions: OrderedDict[PartitionKey, CachedPartition],
        uses_topic_ids: bool,
        privileged: bool = False,
    ) -> FetchSession | None:
        if len(self._sessions) >= self.slots and not self._evict_one(privileged, len(partitions)):
            return None
        session_id = self._new_id()
        session = FetchSession(session_id, uses_topic_ids, partitions, privileged=privileged)
        self._sessions[session_id] = session
        return session

    def _evict_one(self, privileged: bool, size: int) -> bool:
        if not self._sessions:
            return False
        now = trio.current_time()
        oldest_id, oldest = next(iter(self._sessions.items()))
        if now - oldest.last_used > self.eviction_s:
            del self._sessions[oldest_id]
            return True
        # O(sessions), at most ``slots``, and only when the cache is full.
        settled = {s.id: s for s in self._sessions.values() if now - s.created > self.eviction_s}
        if privileged:
            settled.update({s.id: s for s in self._sessions.values() if not s.privileged})
        if not settled:
            return False
        victim = min(settled.values(), key=FetchSession.evictable_key)
        if (privileged, size, 0) < victim.evictable_key():
            return False
        del self._sessions[victim.id]
        return True

    def _new_id(self) -> int:
        while True:
            session_id = self._random.randint(1, _SESSION_ID_MAX)
            if session_id not in self._sessions:
                return session_id
