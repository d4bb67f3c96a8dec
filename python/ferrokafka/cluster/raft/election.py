"""What a voter persists about elections, and how a nominee counts votes.

:class:`ElectionState` is the content of Kafka's ``quorum-state`` file (``ElectionState``): the
epoch, the leader if one is known, the candidate this node voted for in that epoch, and the
voter set it was written under. It must be on disk before the node says anything that depends
on it (a granted vote, a leader's first request), or a restarted node could vote twice in one
epoch; the state machine returns it as a ``PersistElection`` effect ahead of its sends.

:class:`EpochElection` is Kafka's ``EpochElection``: the tally of granted and rejected votes a
Prospective (pre-vote) or Candidate keeps, counted against the voter set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ElectionState:
    epoch: int
    leader_id: int | None = None
    voted_id: int | None = None
    voters: frozenset[int] = frozenset()

    def is_leader(self, node_id: int) -> bool:
        return self.leader_id == node_id

    def is_voted_candidate(self, node_id: int) -> bool:
        return self.voted_id == node_id


class EpochElection:
    """Votes in one election. The nominee records its own vote first."""

    __slots__ = ("_votes", "_majority")

    def __init__(self, voters: frozenset[int]) -> None:
        self._votes: dict[int, bool | None] = dict.fromkeys(voters)
        self._majority = len(voters) // 2 + 1

    def record_vote(self, voter_id: int, granted: bool) -> bool:
        """Record a voter's answer; True if it was not recorded before. A voter never changes
        its answer within one election (responses are matched to requests), so a change is a
        bug and raises."""
        if voter_id not in self._votes:
            raise ValueError(f"vote from non-voter {voter_id}")
        previous = self._votes[voter_id]
        if previous is not None and previous != granted:
            raise ValueError(f"voter {voter_id} changed its vote to {granted}")
        self._votes[voter_id] = granted
        return previous is None

    @property
    def granting_voters(self) -> frozenset[int]:
        return frozenset(v for v, g in self._votes.items() if g is True)

    @property
    def unrecorded_voters(self) -> tuple[int, ...]:
        return tuple(sorted(v for v, g in self._votes.items() if g is None))

    @property
    def is_vote_granted(self) -> bool:
        return sum(1 for g in self._votes.values() if g is True) >= self._majority

    @property
    def is_vote_rejected(self) -> bool:
        """Too many rejections left for a majority to be possible."""
        possible = sum(1 for g in self._votes.values() if g is not False)
        return possible < self._majority

    def __repr__(self) -> str:
        granted = sorted(self.granting_voters)
        rejected = sorted(v for v, g in self._votes.items() if g is False)
        return f"EpochElection(granted={granted}, rejected={rejected})"
