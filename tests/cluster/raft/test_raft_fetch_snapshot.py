"""FetchSnapshot, one rule each (Kafka's KafkaRaftClientSnapshotTest): the leader answers a
fetch below its log start (or an empty follower's) with its latest snapshot id, serves the
snapshot in chunks bounded by the request and its own limit, refuses an unknown snapshot (the
bootstrap checkpoint included) and a position outside it; a follower downloads chunk by chunk,
installs it when complete (its log restarts at the snapshot's end offset, the high watermark
moves there), starts over when the leader no longer has it, and drops a corrupt one."""

from __future__ import annotations

from dataclasses import replace

from test_raft_transitions import VOTERS, answer, fetch, leader_of, replica, sends

from ferrokafka.cluster.raft import (
    ElectionState,
    FetchResponse,
    FetchSnapshotRequest,
    FetchSnapshotResponse,
    Inbound,
    MemoryRaftLog,
    OffsetAndEpoch,
    Record,
)
from ferrokafka.cluster.raft.fetch_rpc import POSITION_OUT_OF_RANGE, SNAPSHOT_NOT_FOUND
from ferrokafka.cluster.raft.log import BOOTSTRAP_SNAPSHOT_ID
from ferrokafka.cluster.raft.memory import encode_snapshot
from ferrokafka.cluster.raft.state import FollowerState
from ferrokafka.protocol.error_codes import NONE

EPOCH = 5


def leader_with_snapshot(records: int = 30, snapshot_at: int = 20, delete: bool = True):
    log = MemoryRaftLog([Record(i, 3, b"value-%02d" % i) for i in range(records)])
    snapshot_id = log.create_snapshot(snapshot_at)
    if delete:
        assert log.delete_before_snapshot(snapshot_id)
    return leader_of(log, epoch=EPOCH), snapshot_id


def snapshot_request(snapshot_id, position: int, max_bytes: int = 1 << 20, epoch: int = EPOCH):
    request = FetchSnapshotRequest("c", 2, epoch, snapshot_id, position, max_bytes)
    return Inbound(2, 77, request)


def test_a_fetch_below_the_log_start_is_answered_with_the_snapshot_id() -> None:
    leader, snapshot_id = leader_with_snapshot()
    response = answer(leader.handle(fetch(EPOCH, 5, 3), 1), 55)
    assert response.error_code == NONE and response.snapshot_id == snapshot_id
    assert response.records == () and response.log_start_offset == 20


def test_an_empty_follower_gets_the_snapshot_even_if_the_log_is_all_there() -> None:
    leader, snapshot_id = leader_with_snapshot(delete=False)
    assert leader.log.start_offset() == 0
    assert answer(leader.handle(fetch(EPOCH, 0, 0), 1), 55).snapshot_id == snapshot_id
    # Past the start, the log is served as usual.
    assert answer(leader.handle(fetch(EPOCH, 5, 3), 1), 55).records[0].offset == 5


def test_the_snapshot_is_served_in_bounded_chunks() -> None:
    leader, snapshot_id = leader_with_snapshot()
    data = leader.log.snapshots[snapshot_id]
    chunks = []
    position = 0
    while position < len(data):
        response = answer(leader.handle(snapshot_request(snapshot_id, position, 50), 1), 77)
        assert response.error_code == NONE and response.size == len(data)
        assert response.position == position and 0 < len(response.unaligned_records) <= 50
        chunks.append(response.unaligned_records)
        position += len(response.unaligned_records)
    assert b"".join(chunks) == data and len(chunks) > 1


def test_the_leaders_own_chunk_limit_applies() -> None:
    leader, snapshot_id = leader_with_snapshot()
    leader.config = replace(leader.config, fetch_snapshot_max_bytes=16)
    response = answer(leader.handle(snapshot_request(snapshot_id, 0), 1), 77)
    assert len(response.unaligned_records) == 16


def test_unknown_or_bootstrap_snapshots_and_bad_positions_are_refused() -> None:
    leader, snapshot_id = leader_with_snapshot()
    size = len(leader.log.snapshots[snapshot_id])
    for unknown in (OffsetAndEpoch(21, 3), BOOTSTRAP_SNAPSHOT_ID):
        refused = answer(leader.handle(snapshot_request(unknown, 0), 1), 77)
        assert refused.error_code == SNAPSHOT_NOT_FOUND and refused.leader_id == 1
    for position in (-1, size):
        refused = answer(leader.handle(snapshot_request(snapshot_id, position), 1), 77)
        assert refused.error_code == POSITION_OUT_OF_RANGE


def follower(log: MemoryRaftLog | None = None):
    r = replica(2, log=log, election=ElectionState(EPOCH, 1, None, VOTERS))
    assert isinstance(r.state, FollowerState)
    return r


def request_to_leader(effects):
    [send] = [s for s in sends(effects) if s.destination == 1]
    return send


def test_a_follower_downloads_installs_and_fetches_after_the_snapshot() -> None:
    leader, snapshot_id = leader_with_snapshot()
    data = leader.log.snapshots[snapshot_id]
    r = follower()
    sent = request_to_leader(r.first_effects)
    told = FetchResponse(NONE, 25, 1, EPOCH, snapshot_id=snapshot_id, log_start_offset=20)
    effects = r.handle(Inbound(1, sent.correlation_id, told), 10)
    position = 0
    for _ in range(len(data)):  # bounded: a chunk is at least a byte
        sent = request_to_leader(effects)
        if not isinstance(sent.message, FetchSnapshotRequest):
            break
        assert sent.message.snapshot_id == snapshot_id and sent.message.position == position
        chunk = data[position : position + 40]
        reply = FetchSnapshotResponse(NONE, 1, EPOCH, snapshot_id, len(data), position, chunk)
        position += len(chunk)
        effects = r.handle(Inbound(1, sent.correlation_id, reply), 20)
    assert position == len(data)
    assert (r.log.start_offset(), r.log.end_offset(), r.log.last_fetched_epoch()) == (20, 20, 3)
    assert r.high_watermark == 20
    after = request_to_leader(effects).message
    assert (after.fetch_offset, after.last_fetched_epoch) == (20, 3)
    assert r.log.record_at(7) == Record(7, 3, b"value-07")


def test_a_follower_starts_over_when_the_leader_lost_the_snapshot() -> None:
    r = follower()
    sent = request_to_leader(r.first_effects)
    told = FetchResponse(NONE, 25, 1, EPOCH, snapshot_id=OffsetAndEpoch(20, 3))
    sent = request_to_leader(r.handle(Inbound(1, sent.correlation_id, told), 10))
    assert isinstance(sent.message, FetchSnapshotRequest)
    gone = FetchSnapshotResponse(SNAPSHOT_NOT_FOUND, 1, EPOCH, OffsetAndEpoch(20, 3))
    again = request_to_leader(r.handle(Inbound(1, sent.correlation_id, gone), 20))
    assert again.message.__class__.__name__ == "FetchRequest"
    assert r.state.fetching_snapshot is None


def test_a_corrupt_snapshot_is_dropped_and_the_log_kept() -> None:
    r = follower(MemoryRaftLog([Record(0, 1, b"a")]))
    sent = request_to_leader(r.first_effects)
    snapshot_id = OffsetAndEpoch(20, 3)
    told = FetchResponse(NONE, 25, 1, EPOCH, snapshot_id=snapshot_id)
    sent = request_to_leader(r.handle(Inbound(1, sent.correlation_id, told), 10))
    bad = encode_snapshot([Record(i, 3, b"x") for i in range(19)])  # one record short
    reply = FetchSnapshotResponse(NONE, 1, EPOCH, snapshot_id, len(bad), 0, bad)
    r.handle(Inbound(1, sent.correlation_id, reply), 20)
    assert r.log.end_offset() == 1 and r.log.snapshots == {}
    assert r.state.fetching_snapshot is None
