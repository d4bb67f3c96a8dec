"""KRaft, Kafka's pull-based Raft on ``__cluster_metadata`` (KIP-595, with KIP-996 pre-vote), as
a sans-io state machine: no sockets, files, clocks or tasks here. A driver feeds it requests,
responses and the time, and carries out the effects it returns (persist the quorum-state, flush
the log, send messages) in order. Tested by seeded deterministic simulation
(``tests/cluster/raft``).

Layout:

- ``messages``: the RPCs (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch, FetchSnapshot) with the
  fields of Kafka's codecs, and the effects (``PersistElection``, ``FlushLog``, ``Send``,
  ``Committed``).
- ``log``: records, the ``RaftLog`` seam (snapshots included), Kafka's offset/epoch validation
  (with its snapshot rules) and truncation rules; ``memory``: an in-memory log that can lose
  unflushed writes, with snapshots and prefix deletion (for the simulation).
- ``election``: the persisted ``ElectionState`` and the vote tally.
- ``state``: Unattached, Prospective, Candidate, Follower, Resigned; ``leader``: Leader (high
  watermark, check-quorum).
- ``quorum``: ``QuorumConfig`` and the transitions between states (Kafka's ``QuorumState``).
- ``requests``: in-flight requests, backoff and timeouts per node (``RequestManager``).
- ``replica``: ``RaftReplica`` (Kafka's ``KafkaRaftClient``), with its RPCs in ``election_rpc``
  and ``fetch_rpc``.
- ``voters``: the voter set (id, directory id, endpoints, kraft.version range) and its history
  by offset, from the static configuration or the bootstrap checkpoint and the log's
  VotersRecords (KIP-853); ``voter_changes``: AddRaftVoter, RemoveRaftVoter, UpdateRaftVoter
  (Kafka's Add/Remove/UpdateVoterHandler) and the follower's UpdateRaftVoter.

The I/O shell around it:

- ``records``: records as Kafka batches (a data batch per append; LeaderChange, KRaftVersion
  and Voters records in control batches); ``wire``: the RPCs to and from the generated protocol
  messages (Kafka 4.4's versions); ``voter_wire``: AddRaftVoter, RemoveRaftVoter,
  UpdateRaftVoter;
- ``native_log``: the ``RaftLog`` over the native Log in ``__cluster_metadata-0``, with Kafka's
  ``.checkpoint`` snapshots beside it, prefix deletion and retention (``maybe_clean``);
  ``quorum_state``: Kafka's ``quorum-state`` file;
- ``peer``: one outbound connection per peer; ``driver``: ``RaftDriver``, the trio driver
  (timers, effects in order, appends that wait for their commit, committed-batch listeners).
  ``server/handlers/raft.py`` puts it on a controller listener; ``metadata_log``:
  ``RaftMetadataLog``, the controller's ``MetadataLog`` over a driver.

Snapshots (KIP-630): a fetch below the leader's log start is answered with its snapshot id;
the follower downloads it with FetchSnapshot and installs it (``fetch_rpc``). Who writes them:
``cluster/snapshot_generator.py``; with a dynamic quorum (kraft.version 1) their header holds the
voter set at their end offset.

A static quorum upgrades to kraft.version 1 through the leader (``voter_changes``:
``upgrade_kraft_version``, asked by the controller's UpdateFeatures), as Kafka 4.4.
"""

from ferrokafka.cluster.raft.election import ElectionState
from ferrokafka.cluster.raft.log import LeaderChange, OffsetAndEpoch, RaftLog, Record
from ferrokafka.cluster.raft.memory import MemoryRaftLog
from ferrokafka.cluster.raft.messages import (
    BeginQuorumEpochRequest,
    BeginQuorumEpochResponse,
    Committed,
    EndQuorumEpochRequest,
    EndQuorumEpochResponse,
    FetchRequest,
    FetchResponse,
    FetchSnapshotRequest,
    FetchSnapshotResponse,
    FlushLog,
    Inbound,
    Outbound,
    PersistElection,
    Send,
    VoteRequest,
    VoteResponse,
)
from ferrokafka.cluster.raft.quorum import QuorumConfig
from ferrokafka.cluster.raft.replica import NotLeaderError, RaftReplica

__all__ = [
    "BeginQuorumEpochRequest",
    "BeginQuorumEpochResponse",
    "Committed",
    "ElectionState",
    "EndQuorumEpochRequest",
    "EndQuorumEpochResponse",
    "FetchRequest",
    "FetchResponse",
    "FetchSnapshotRequest",
    "FetchSnapshotResponse",
    "FlushLog",
    "Inbound",
    "LeaderChange",
    "MemoryRaftLog",
    "NotLeaderError",
    "OffsetAndEpoch",
    "Outbound",
    "PersistElection",
    "QuorumConfig",
    "RaftLog",
    "RaftReplica",
    "Record",
    "Send",
    "VoteRequest",
    "VoteResponse",
]
