"""KRaft over real sockets: three RaftDrivers in one process, each behind its own Server on a
loopback port serving the controller dispatcher with the raft handlers; an observer without a
listener. Election, commits on every node with the same batches at the same offsets, a leader
crash (its scope cancelled) and a new leader keeping every committed record, the crashed node
restarted from its directories catching up, and an observer catching up without voting.
Every wait is bounded."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import trio

from ferrokafka.cluster.raft.driver import RaftDriver
from ferrokafka.cluster.raft.log import LeaderChange
from ferrokafka.cluster.raft.metadata_log import RaftMetadataLog
from ferrokafka.cluster.raft.native_log import StoredBatch
from ferrokafka.cluster.raft.quorum import QuorumConfig
from ferrokafka.cluster.raft.replica import NotLeaderError
from ferrokafka.cluster.raft.state import FollowerState
from ferrokafka.cluster.raft.wire import METADATA_TOPIC_ID
from ferrokafka.cluster.records import TopicRecord
from ferrokafka.cluster.records.partition_record import PartitionRecord
from ferrokafka.protocol.api import decode_response, encode_request
from ferrokafka.protocol.error_codes import INVALID_REQUEST
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.header import RequestHeader
from ferrokafka.protocol.messages.vote import VoteRequest
from ferrokafka.server.connection import ConnectionLimits
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.raft import register_raft_handlers
from ferrokafka.server.server import ListenerSpec, Server, ServerLimits
from ferrokafka.storage import decode_batches

INCONSISTENT_CLUSTER_ID = 104

# Kafka's defaults scaled down 3x, so a test spans several elections in a few seconds.
CONFIG = QuorumConfig(
    election_timeout_ms=300,
    fetch_timeout_ms=600,
    election_backoff_max_ms=300,
    request_timeout_ms=600,
    retry_backoff_ms=20,
    fetch_max_wait_ms=150,
)
ELECTION_WAIT_S = 10 * CONFIG.election_timeout_ms / 1000 * 2  # a few election timeouts
CATCH_UP_WAIT_S = 10.0
POLL_S = 0.02
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Member:
    """A driver, its Server on the controller listener, and what it saw commit."""

    def __init__(self, node_id: int, voters: dict[int, tuple[str, int]], root: Path) -> None:
        self.node_id = node_id
        self.voters = voters
        self.dir = root / f"node-{node_id}"
        self.scope: trio.CancelScope | None = None
        self.driver: RaftDriver | None = None
        self.committed: list[StoredBatch] = []

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.committed = []
        self.driver = RaftDriver(
            node_id=self.node_id,
            voters=self.voters,
            cluster_id=CLUSTER_ID,
            metadata_dir=self.dir,
            config=CONFIG,
        )
        self.driver.add_committed_listener(self.committed.append)
        with trio.CancelScope() as self.scope:
            async with trio.open_nursery() as nursery:
                if self.node_id in self.voters:
                    dispatcher = Dispatcher()
                    register_raft_handlers(dispatcher, self.driver)
                    host, port = self.voters[self.node_id]
                    server = Server(
                        [ListenerSpec("CONTROLLER", host, port, dispatcher)],
                        ServerLimits(connection=ConnectionLimits(frame_bytes_max=16 << 20)),
                    )
                    await nursery.start(server.serve)
                await nursery.start(self.driver.run)
                task_status.started()

    def crash(self) -> None:
        assert self.scope is not None
        self.scope.cancel()

    def records(self) -> list[tuple[int, int, object, bytes | None]]:
        assert self.driver is not None and self.driver.log is not None
        return [
            (r.offset, r.epoch, r.value, r.batch.data if r.batch else None)
            for r in self.driver.log.read(0, 1 << 30)
        ]


STATES: list[Member] = []


async def wait_for(condition, timeout_s: float, what: str) -> None:
    with trio.move_on_after(timeout_s):
        while not condition():
            await trio.sleep(POLL_S)
        return
    states = {m.node_id: m.driver and m.driver.replica and m.driver.replica.state for m in STATES}
    raise AssertionError(f"not within {timeout_s} s: {what}; states {states}")


def leaders(members: list[Member]) -> list[Member]:
    return [m for m in members if m.driver is not None and m.driver.is_leader]


def stable_leader(members: list[Member]) -> Member | None:
    """The one leader, if every member knows it."""
    found = leaders(members)
    if len(found) != 1 or not all(m.driver.leader_id == found[0].node_id for m in members):
        return None
    return found[0]


async def append_retrying(members: list[Member], payloads: list[bytes]) -> tuple[Member, int]:
    """Append through whoever leads; a leadership change in between is retried."""
    with trio.fail_after(CATCH_UP_WAIT_S):
        while True:
            await wait_for(lambda: leaders(members), ELECTION_WAIT_S, "a leader")
            leader = leaders(members)[0]
            try:
                return leader, await leader.driver.append(payloads)
            except NotLeaderError:
                await trio.sleep(POLL_S)


def data_batches(member: Member) -> list[tuple[int, int, tuple]]:
    return [(b.base_offset, b.last_offset, b.values) for b in member.committed if not b.is_control]


def test_three_voters_and_an_observer(tmp_path: Path) -> None:
    voters = {i: ("127.0.0.1", free_port()) for i in (1, 2, 3)}
    members = [Member(i, voters, tmp_path) for i in (1, 2, 3)]
    STATES[:] = members

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for m in members:
                await nursery.start(m.run)

            # A leader within a few election timeouts, that every voter follows. (A second
            # election right after the start is legal: a voter that has not fetched from the
            # first leader yet may grant another's pre-vote.)
            await wait_for(lambda: stable_leader(members), ELECTION_WAIT_S, "a leader")
            first = stable_leader(members)
            epoch = first.driver.epoch

            # Appends commit on all three: the same batches at the same offsets.
            offsets = []
            for i in range(5):
                _, offset = await append_retrying(members, [b"op%d-a" % i, b"op%d-b" % i])
                offsets.append(offset)
            hw = offsets[-1] + 1
            await wait_for(
                lambda: all(
                    m.driver.committed_offset >= hw and len(data_batches(m)) >= 5 for m in members
                ),
                CATCH_UP_WAIT_S,
                "the appends commit on every voter (and reach its listener)",
            )
            reference = first.records()
            assert reference[0][2] == LeaderChange(
                first.node_id, (1, 2, 3), reference[0][2].granting_voters
            )
            for m in members:
                assert m.records()[:hw] == reference[:hw], m.node_id
                assert [b[2] for b in data_batches(m)][:5] == [
                    (b"op%d-a" % i, b"op%d-b" % i) for i in range(5)
                ]
            # One batch per append: each append's two records share a batch.
            assert all(b[1] == b[0] + 1 for b in data_batches(first))
            stored = first.driver.stored_election()
            assert (
                stored is not None and stored.leader_id == first.node_id and stored.epoch == epoch
            )
            # Where Kafka keeps it, as Kafka writes it (data_version 0: static voters).
            state_file = first.dir / "__cluster_metadata-0" / "quorum-state"
            assert f'"leaderId":{first.node_id},"leaderEpoch":{epoch},' in state_file.read_text()

            # The leader crashes: a new one is elected and keeps every committed record.
            committed_before = first.records()[:hw]
            first.crash()
            rest = [m for m in members if m is not first]
            await wait_for(
                lambda: any(m.driver.is_leader for m in rest), ELECTION_WAIT_S, "a new leader"
            )
            second = leaders(rest)[0]
            assert second.driver.epoch > epoch
            for i in range(5, 8):
                _, offset = await append_retrying(rest, [b"op%d" % i])
            hw2 = offset + 1
            await wait_for(
                lambda: all(m.driver.committed_offset >= hw2 for m in rest),
                CATCH_UP_WAIT_S,
                "the new leader's appends commit",
            )
            for m in rest:
                assert m.records()[:hw] == committed_before, m.node_id

            # The crashed node restarts from its directories, follows, and catches up.
            await nursery.start(first.run)
            await wait_for(
                lambda: (
                    stable_leader(members) is not None
                    and first.driver.committed_offset >= hw2
                    and all(len(data_batches(m)) >= 8 for m in members)
                ),
                CATCH_UP_WAIT_S,
                "the restarted node catches up",
            )
            second = stable_leader(members)
            assert second is not first and isinstance(first.driver.replica.state, FollowerState)
            assert first.records()[:hw2] == second.records()[:hw2]
            assert data_batches(first)[:8] == data_batches(second)[:8]
            assert [b[2] for b in data_batches(first)[5:8]] == [(b"op%d" % i,) for i in (5, 6, 7)]

            # An observer (a broker: not a voter) catches up without voting.
            observer = Member(4, voters, tmp_path)
            await nursery.start(observer.run)
            await wait_for(
                lambda: (
                    observer.driver.committed_offset >= hw2 and len(data_batches(observer)) >= 8
                ),
                CATCH_UP_WAIT_S,
                "the observer catches up",
            )
            assert observer.records()[:hw2] == second.records()[:hw2]
            assert data_batches(observer)[:8] == data_batches(second)[:8]
            assert not observer.driver.is_voter
            assert observer.driver.replica.state.voted_id is None
            leader_state = second.driver.replica.state
            assert 4 not in leader_state.voters and 4 in leader_state.observer_states
            stored = observer.driver.stored_election()
            assert stored is None or stored.voted_id is None

            for m in [*members, observer]:
                m.crash()

    trio.run(main)


def test_graceful_shutdown_hands_leadership_over(tmp_path: Path) -> None:
    voters = {i: ("127.0.0.1", free_port()) for i in (1, 2, 3)}
    members = [Member(i, voters, tmp_path) for i in (1, 2, 3)]
    STATES[:] = members

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for m in members:
                await nursery.start(m.run)
            await wait_for(lambda: stable_leader(members), ELECTION_WAIT_S, "a leader")
            first = stable_leader(members)
            epoch = first.driver.epoch
            _, offset = await append_retrying(members, [b"before"])
            rest = [m for m in members if m is not first]
            # The leader resigns (EndQuorumEpoch): the preferred successor starts an election
            # at once instead of waiting for its fetch timeout.
            with trio.fail_after(CONFIG.fetch_timeout_ms / 1000 * 3):
                await first.driver.shutdown()
            await wait_for(
                lambda: stable_leader(rest), CONFIG.fetch_timeout_ms / 1000, "a successor"
            )
            second = stable_leader(rest)
            assert second.driver.epoch > epoch
            assert [r[2] for r in second.records()][offset] == b"before"
            # Its shutdown waited for the successor: it stopped knowing (and having stored) it.
            stored = first.driver.stored_election()
            assert stored is not None and (stored.leader_id, stored.epoch) == (
                second.node_id,
                second.driver.epoch,
            )
            # A follower's shutdown is done at once: another node leads.
            follower = next(m for m in rest if m is not second)
            with trio.fail_after(1.0):
                await follower.driver.shutdown()
            for m in members:
                m.crash()

    trio.run(main)


async def _exchange(port: int, api_key: int, version: int, message) -> object:
    header = RequestHeader(
        request_api_key=api_key, request_api_version=version, correlation_id=5, client_id="t"
    )
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(encode_request(header, message))
        data = b""
        with trio.fail_after(5):
            while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
                chunk = await stream.receive_some(1 << 16)
                assert chunk, "connection closed"
                data += chunk
    reply, response = decode_response(data[4:], api_key, version)
    assert reply.correlation_id == 5
    return response


def test_controller_listener_on_the_wire(tmp_path: Path) -> None:
    """One voter behind its listener, asked by hand: Fetch of the metadata log, of another
    topic, and a Vote with another cluster id."""
    port = free_port()
    member = Member(1, {1: ("127.0.0.1", port)}, tmp_path)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(member.run)
            await wait_for(lambda: member.driver.committed_offset >= 1, 5, "the LeaderChange")
            fetch = FetchRequest(
                cluster_id=CLUSTER_ID,
                replica_state=FetchRequest.ReplicaState(replica_id=7),
                max_wait_ms=0,
                max_bytes=1 << 20,
                topics=[
                    FetchRequest.FetchTopic(
                        topic_id=METADATA_TOPIC_ID,
                        partitions=[
                            FetchRequest.FetchPartition(
                                partition=0,
                                current_leader_epoch=1,
                                fetch_offset=0,
                                last_fetched_epoch=0,
                            )
                        ],
                    )
                ],
            )
            response = await _exchange(port, 1, 18, fetch)
            [topic] = response.responses
            [partition] = topic.partitions
            assert response.error_code == 0 and topic.topic_id == METADATA_TOPIC_ID
            assert partition.error_code == 0 and partition.high_watermark == 1
            assert (partition.current_leader.leader_id, partition.current_leader.leader_epoch) == (
                1,
                1,
            )
            [batch] = decode_batches(bytes(partition.records))
            assert batch.is_control and batch.partition_leader_epoch == 1
            assert [(e.node_id, e.host, e.port) for e in response.node_endpoints] == [
                (1, "127.0.0.1", port)
            ]

            fetch.topics[0].topic_id = uuid.uuid4()
            response = await _exchange(port, 1, 18, fetch)
            assert response.error_code == INVALID_REQUEST and response.responses == []

            vote = VoteRequest(
                cluster_id="another",
                voter_id=1,
                topics=[
                    VoteRequest.TopicData(
                        topic_name="__cluster_metadata",
                        partitions=[VoteRequest.PartitionData(replica_epoch=2, replica_id=9)],
                    )
                ],
            )
            # A Fetch at the log end waits (long poll, its max_wait) without holding up a Vote
            # from another connection.
            fetch.topics[0].topic_id = METADATA_TOPIC_ID
            fetch.max_wait_ms = 1500
            fetch.topics[0].partitions[0].fetch_offset = 1
            fetch.topics[0].partitions[0].last_fetched_epoch = 1
            parked: list[object] = []

            async def long_poll() -> None:
                parked.append(await _exchange(port, 1, 18, fetch))

            started = trio.current_time()
            nursery.start_soon(long_poll)
            await trio.sleep(0.1)
            response = await _exchange(port, 52, 2, vote)
            assert response.error_code == INCONSISTENT_CLUSTER_ID
            assert trio.current_time() - started < 1.0 and not parked
            await wait_for(lambda: parked, 5, "the long poll's answer")
            assert trio.current_time() - started >= 1.4
            [partition] = parked[0].responses[0].partitions
            assert partition.error_code == 0 and not partition.records
            member.crash()

    trio.run(main)


def test_the_controllers_metadata_log_over_the_driver(tmp_path: Path) -> None:
    """RaftMetadataLog: the controller's MetadataLog calls, from a worker thread."""
    member = Member(1, {1: ("127.0.0.1", free_port())}, tmp_path)
    topic_id = uuid.UUID(int=7)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(member.run)
            await wait_for(lambda: member.driver.is_leader, 5, "a leader")
            log = RaftMetadataLog(member.driver, trio.lowlevel.current_trio_token())
            records = [
                TopicRecord(name="orders", topic_id=topic_id),
                PartitionRecord(partition_id=0, topic_id=topic_id),
            ]
            committed = await trio.to_thread.run_sync(log.append, records)
            assert committed == log.committed_offset == 3  # LeaderChange at 0, then 1-2
            batches = await trio.to_thread.run_sync(lambda: list(log.read_committed(0)))
            assert [(b.base_offset, b.last_offset) for b in batches] == [(1, 2)]
            assert batches[0].messages() == records
            later = await trio.to_thread.run_sync(lambda: list(log.read_committed(2)))
            assert [b.messages() for b in later] == [records[1:]]
            member.crash()

    trio.run(main)


def test_a_disk_failure_under_an_append_ends_the_driver(tmp_path: Path) -> None:
    """The leader's metadata log fails under a controller operation (EIO from the append):
    the caller gets the error and the driver's run ends with it, so the node halts as Kafka's
    does, instead of serving on with a log it cannot write."""
    member = Member(1, {1: ("127.0.0.1", free_port())}, tmp_path)
    ended: list[BaseException] = []

    async def run_member(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await member.run(task_status=task_status)
        except BaseException as exc:  # the run's end is what the test checks
            ended.append(exc)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(run_member)
            await wait_for(lambda: member.driver.is_leader, 5, "a leader")
            driver = member.driver
            assert driver is not None and driver.log is not None

            def broken(*args: object, **kwargs: object) -> object:
                raise OSError(5, "Input/output error")

            driver.log.append_as_leader = broken  # type: ignore[method-assign]
            with trio.fail_after(10):
                try:
                    await driver.append([b"record"])
                except OSError as exc:
                    assert exc.errno == 5
                else:
                    raise AssertionError("the append succeeded on a failed disk")
                while not ended:
                    await trio.sleep(POLL_S)

    trio.run(main)
    assert ended, "the driver kept running"
    found = ended[0]
    while not isinstance(found, OSError):
        inner = getattr(found, "exceptions", None)  # an exception group
        assert inner, repr(ended[0])
        found = inner[0]
    assert found.errno == 5
