"""Share sessions (KIP-932): the share-partitions a member fetches from one broker, kept
between its ShareFetch requests so that each request names only what changed, as Kafka's
``ShareSessionCache``.

A session is keyed by (group id, member id). Epoch 0 opens one (replacing the member's old
session), -1 closes it, any other epoch must be the session's next one
(INVALID_SHARE_SESSION_EPOCH) of a session that exists (SHARE_SESSION_NOT_FOUND); the cache
holds at most ``group.share.max.share.sessions`` sessions (SHARE_SESSION_LIMIT_REACHED).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ferrokafka.protocol import error_codes as ec

INITIAL_EPOCH = 0
FINAL_EPOCH = -1
_EPOCH_MAX = 2**31 - 1

# (topic id, partition)
TopicIdPartition = tuple[uuid.UUID, int]


def next_epoch(epoch: int) -> int:
    """Kafka's ShareRequestMetadata.nextEpoch: wraps to 1, never back to 0."""
    return 1 if epoch >= _EPOCH_MAX else epoch + 1


@dataclass
class ShareSession:
    group_id: str
    member_id: str
    connection_id: int = -1  # the connection that opened it: it dies with it
    epoch: int = 1  # the epoch the next request must carry
    partitions: dict[TopicIdPartition, None] = field(default_factory=dict)  # ordered set


class ShareSessionError(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ec.error_name(code))
        self.code = code
        self.message = message


class ShareSessionCache:
    """Every share session of this broker, bounded by ``max_sessions``."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self._sessions: dict[tuple[str, str], ShareSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, group_id: str, member_id: str) -> ShareSession | None:
        return self._sessions.get((group_id, member_id))

    def open(
        self, group_id: str, member_id: str, connection_id: int = -1
    ) -> tuple[ShareSession, ShareSession | None]:
        """A new session at epoch 0 (its next request carries 1), and the one it replaced."""
        key = (group_id, member_id)
        old = self._sessions.pop(key, None)
        if len(self._sessions) >= self.max_sessions:
            if old is not None:
                self._sessions[key] = old
            raise ShareSessionError(
                ec.SHARE_SESSION_LIMIT_REACHED,
                f"The share session cache is full ({self.max_sessions} sessions).",
            )
        session = self._sessions[key] = ShareSession(group_id, member_id, connection_id)
        return session, old

    def advance(self, group_id: str, member_id: str, epoch: int) -> ShareSession:
        """Check a request's epoch against the session's and move the session on."""
        session = self._sessions.get((group_id, member_id))
        if session is None:
            raise ShareSessionError(
                ec.SHARE_SESSION_NOT_FOUND, f"Share session for member {member_id} not found."
            )
        if epoch != session.epoch:
            raise ShareSessionError(
                ec.INVALID_SHARE_SESSION_EPOCH,
                f"Share session epoch {epoch} is not the expected {session.epoch}.",
            )
        session.epoch = next_epoch(session.epoch)
        return session

    def close(self, group_id: str, member_id: str) -> ShareSession:
        """Close (epoch -1) an existing session."""
        session = self._sessions.pop((group_id, member_id), None)
        if session is None:
            raise ShareSessionError(
                ec.SHARE_SESSION_NOT_FOUND, f"Share session for member {member_id} not found."
            )
        return session

    def remove(self, group_id: str, member_id: str) -> ShareSession | None:
        return self._sessions.pop((group_id, member_id), None)

    def has_group(self, group_id: str) -> bool:
        """Whether some member of ``group_id`` has a share session here."""
        return any(g == group_id for g, _ in self._sessions)

    def remove_connection(self, connection_id: int) -> list[ShareSession]:
        """Drop the sessions opened on a connection that closed."""
        gone = [s for s in self._sessions.values() if s.connection_id == connection_id]
        for session in gone:
            del self._sessions[(session.group_id, session.member_id)]
        return gone
