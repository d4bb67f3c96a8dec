"""A broker's channel to a controller in another process (RemoteControllerChannel over
NodeClient), against a node's controller listener: admin operations are decided there, an
Envelope (how Kafka brokers forward) is unwrapped and answered, an inactive controller answers
NOT_CONTROLLER and the channel moves on to the one the locator names next, and a controller
that cannot be reached becomes REQUEST_TIMED_OUT at the deadline; a forwarded DescribeQuorum
moves on from a node that does not lead."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from ferrokafka.cluster.node_client import NodeClient, NodeUnavailableError
from ferrokafka.cluster.remote_channel import RemoteControllerChannel
from ferrokafka.protocol import RequestHeader, decode_response, encode_request
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.broker_heartbeat import BrokerHeartbeatRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest, CreateTopicsResponse
from ferrokafka.protocol.messages.describe_quorum import DescribeQuorumRequest
from ferrokafka.protocol.messages.envelope import EnvelopeRequest
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.controller_admin import register_controller_admin_handlers
from ferrokafka.server.handlers.describe_quorum import DescribeQuorumHandler
from ferrokafka.server.server import ListenerSpec, Server, ServerLimits
from ferrokafka.testing import RunningBroker, open_broker

TEST_TIMEOUT_S = 60


def create(name: str, partitions: int = 2) -> CreateTopicsRequest:
    return CreateTopicsRequest(
        topics=[
            CreateTopicsRequest.CreatableTopic(
                name=name, num_partitions=partitions, replication_factor=1
            )
        ],
        timeout_ms=10_000,
    )


class _NoFeed:
    async def subscribe(self, publisher: object) -> None:
        raise AssertionError("not used here")

    def unsubscribe(self, publisher: object) -> None:
        raise AssertionError("not used here")


def controller_address(broker: RunningBroker) -> tuple[str, int]:
    return next((a.host, a.port) for a in broker.addresses if a.listener_name == "CONTROLLER")


def test_admin_operations_reach_the_controller_listener(tmp_path: Path) -> None:
    async def main() -> None:
        with trio.fail_after(TEST_TIMEOUT_S):
            async with open_broker(tmp_path) as broker:
                address = controller_address(broker)
                channel = RemoteControllerChannel(2, lambda: address, _NoFeed())
                response = await channel.create_topics(create("remote"))
                assert [(t.name, t.error_code) for t in response.topics] == [("remote", 0)]
                assert broker.image.topic("remote") is not None
                again = await channel.create_topics(create("remote"))
                assert again.topics[0].error_code == ec.TOPIC_ALREADY_EXISTS
                ids = await channel.allocate_producer_ids(1, -1)
                assert len(ids) > 0
                await channel.aclose()

    trio.run(main)


def test_an_envelope_is_unwrapped_and_its_answer_wrapped(tmp_path: Path) -> None:
    async def main() -> None:
        with trio.fail_after(TEST_TIMEOUT_S):
            async with open_broker(tmp_path) as broker:
                client = NodeClient(controller_address(broker), client_id="forwarding-broker")
                inner_header = RequestHeader(
                    request_api_key=CreateTopicsRequest.API_KEY,
                    request_api_version=7,
                    correlation_id=4242,
                    client_id="the-admin-client",
                )
                frame = encode_request(inner_header, create("enveloped"))[4:]
                answer = await client.call(
                    EnvelopeRequest(
                        request_data=memoryview(frame),
                        request_principal=b"",
                        client_host_address=bytes([127, 0, 0, 1]),
                    )
                )
                assert answer.error_code == ec.NONE
                header, inner = decode_response(bytes(answer.response_data), 19, 7)
                assert header.correlation_id == 4242
                assert isinstance(inner, CreateTopicsResponse)
                assert [(t.name, t.error_code) for t in inner.topics] == [("enveloped", 0)]
                # Garbage inside the envelope: INVALID_REQUEST, the connection stays up.
                bad = await client.call(EnvelopeRequest(request_data=memoryview(b"\x00\x13")))
                assert bad.error_code == ec.INVALID_REQUEST
                await client.aclose()

    trio.run(main)


def test_not_controller_sends_the_channel_to_the_next_one(tmp_path: Path) -> None:
    """Two controller listeners: one inactive (NOT_CONTROLLER everywhere), one the real
    node's. The locator names the inactive one first; the channel ends at the active one."""

    async def main() -> None:
        with trio.fail_after(TEST_TIMEOUT_S):
            async with open_broker(tmp_path) as broker, trio.open_nursery() as nursery:
                inactive = Dispatcher()
                node = broker.broker.node
                assert node is not None
                register_controller_admin_handlers(inactive, node.controller_channel, lambda: False)
                server = Server(
                    [ListenerSpec("CONTROLLER", "127.0.0.1", 0, inactive)],
                    ServerLimits.from_config(broker.config, shutdown_grace_s=1),
                )
                bound = await nursery.start(server.serve)
                standby = (bound[0].host, bound[0].port)
                named = [standby, standby, controller_address(broker)]
                asked: list[tuple[str, int]] = []

                def locate() -> tuple[str, int]:
                    asked.append(named[min(len(asked), len(named) - 1)])
                    return asked[-1]

                channel = RemoteControllerChannel(2, locate, _NoFeed(), retry_backoff_s=0.01)
                response = await channel.create_topics(create("moved"))
                assert response.topics[0].error_code == ec.NONE
                assert asked[:3] == named
                await channel.aclose()
                server.request_shutdown()

    trio.run(main)


def test_an_unreachable_controller_is_request_timed_out_at_the_deadline() -> None:
    async def main() -> None:
        listener = trio.socket.socket()
        await listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        listener.close()  # nothing listens there now: every connect is refused
        channel = RemoteControllerChannel(
            2, lambda: ("127.0.0.1", port), _NoFeed(), timeout_s=5, retry_backoff_s=0.5
        )
        start = trio.current_time()
        response = await channel.create_topics(create("nowhere"))
        assert response.topics[0].error_code == ec.REQUEST_TIMED_OUT
        assert 4.5 <= trio.current_time() - start <= 5
        client = NodeClient(("127.0.0.1", port), client_id="x", timeout_s=1)
        try:
            await client.call(create("nowhere"))
        except NodeUnavailableError as exc:
            assert str(port) in str(exc)
        else:
            raise AssertionError("a refused connection must raise")

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def metadata_quorum_request() -> DescribeQuorumRequest:
    return DescribeQuorumRequest(
        topics=[
            DescribeQuorumRequest.TopicData(
                topic_name="__cluster_metadata",
                partitions=[DescribeQuorumRequest.PartitionData(partition_index=0)],
            )
        ]
    )


def test_describe_quorum_moves_on_from_a_node_that_does_not_lead(tmp_path: Path) -> None:
    """A broker forwards DescribeQuorum: a node that answers NOT_LEADER_OR_FOLLOWER (it lost
    the lead since the locator named it) is left for the next one named."""

    async def main() -> None:
        with trio.fail_after(TEST_TIMEOUT_S):
            async with open_broker(tmp_path) as broker, trio.open_nursery() as nursery:
                follower = Dispatcher()
                follower.register(
                    DescribeQuorumRequest.API_KEY,
                    DescribeQuorumHandler(lambda: None, lambda voter_id: None),
                )
                server = Server(
                    [ListenerSpec("CONTROLLER", "127.0.0.1", 0, follower)],
                    ServerLimits.from_config(broker.config, shutdown_grace_s=1),
                )
                bound = await nursery.start(server.serve)
                named = [(bound[0].host, bound[0].port), controller_address(broker)]
                asked: list[tuple[str, int]] = []

                def locate() -> tuple[str, int]:
                    asked.append(named[min(len(asked), len(named) - 1)])
                    return asked[-1]

                channel = RemoteControllerChannel(2, locate, _NoFeed(), retry_backoff_s=0.01)
                response = await channel.describe_quorum(metadata_quorum_request())
                (partition,) = response.topics[0].partitions
                assert (partition.error_code, partition.leader_id) == (ec.NONE, 1)
                assert asked[:2] == named
                await channel.aclose()
                server.request_shutdown()

    trio.run(main)


def test_describe_quorum_without_a_leader_is_request_timed_out() -> None:
    async def main() -> None:
        channel = RemoteControllerChannel(2, lambda: None, _NoFeed(), timeout_s=5)
        response = await channel.describe_quorum(metadata_quorum_request())
        assert response.error_code == ec.REQUEST_TIMED_OUT

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def _black_hole(accepted: list[int], task_status: trio.TaskStatus[tuple[str, int]]) -> None:
    """A controller cut off from the network: connections are accepted (ApiVersions
    included; ``accepted`` counts them) and nothing is ever answered."""
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    task_status.started(listener.getsockname()[:2])
    held = []
    try:
        while True:
            connection, _ = await listener.accept()
            held.append(connection)  # kept open, never read
            accepted.append(1)
    finally:
        for connection in held:
            connection.close()
        listener.close()


def test_a_request_in_flight_moves_on_when_another_controller_is_named(tmp_path: Path) -> None:
    """The old controller never answers; once the locator names the new one (as a raft
    election would), the request goes there at once instead of waiting out a request
    timeout (Kafka's channel drops the old connection)."""

    async def main() -> None:
        with trio.fail_after(TEST_TIMEOUT_S):
            async with open_broker(tmp_path) as broker, trio.open_nursery() as nursery:
                silent = await nursery.start(_black_hole, [])
                named = {"now": silent}
                channel = RemoteControllerChannel(
                    2, lambda: named["now"], _NoFeed(), retry_backoff_s=0.05
                )

                async def elect() -> None:
                    await trio.sleep(1.0)
                    named["now"] = controller_address(broker)

                nursery.start_soon(elect)
                start = trio.current_time()
                response = await channel.create_topics(create("after-failover"))
                assert response.topics[0].error_code == ec.NONE
                # Well under the 30 s request timeout the silent controller would have cost.
                assert trio.current_time() - start < 10
                await channel.aclose()
                nursery.cancel_scope.cancel()

    trio.run(main)


def test_heartbeats_have_their_own_connection_and_a_half_session_timeout() -> None:
    """A lifecycle request stuck on a silent controller gives up after the lifecycle request
    timeout (half a broker session), and does not share a connection with admin requests."""

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            accepted: list[int] = []
            silent = await nursery.start(_black_hole, accepted)
            channel = RemoteControllerChannel(
                2, lambda: silent, _NoFeed(), timeout_s=20, lifecycle_request_timeout_s=1.5
            )
            start = trio.current_time()
            with trio.move_on_after(4):
                await channel.broker_heartbeat(BrokerHeartbeatRequest(broker_id=2))
            # Each attempt gave up after 1.5 s and the channel connected again: two or more
            # connections in 4 s (the 20 s operation bound alone would have kept one).
            assert trio.current_time() - start >= 4
            assert len(accepted) >= 2
            before = len(accepted)
            async with trio.open_nursery() as inner:
                inner.start_soon(channel.create_topics, create("x"))
                await trio.sleep(0.5)
                inner.cancel_scope.cancel()
            # The admin request opened its own connection, not queued behind the heartbeat's.
            assert len(accepted) == before + 1
            purposes = sorted({purpose for purpose, _ in channel._clients})
            assert purposes == ["forwarding", "heartbeat"]
            await channel.aclose()
            nursery.cancel_scope.cancel()

    trio.run(main)
