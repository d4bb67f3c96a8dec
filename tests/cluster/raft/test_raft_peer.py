"""One outbound peer connection against hand-made servers: a refused connection, a peer that
hangs up, a full queue, and an answer matched to its request (correlation ids past int32)."""

from __future__ import annotations

from functools import partial

import trio

from ferrokafka.cluster.raft import messages as m
from ferrokafka.cluster.raft.peer import Peer, PeerLimits
from ferrokafka.cluster.raft.wire import response_to_wire
from ferrokafka.protocol.api import decode_request, encode_response

VOTE = m.VoteRequest("c", 2, 3, 1, 2, 10, True)
WAIT_S = 5.0


class Recorder:
    def __init__(self) -> None:
        self.failed: list[int] = []
        self.responses: list[tuple[int, m.RaftResponse]] = []
        self.changed = trio.Event()

    def on_failed(self, peer: int, correlation_id: int) -> None:
        self.failed.append(correlation_id)
        self.changed.set()

    def on_response(self, peer: int, correlation_id: int, response: m.RaftResponse) -> None:
        self.responses.append((correlation_id, response))
        self.changed.set()

    async def wait(self, condition) -> None:
        with trio.fail_after(WAIT_S):
            while not condition():
                self.changed = trio.Event()
                await self.changed.wait()


DEFAULT_LIMITS = PeerLimits()


def make_peer(port: int, recorder: Recorder, limits: PeerLimits = DEFAULT_LIMITS) -> Peer:
    return Peer(
        2,
        ("127.0.0.1", port),
        "raft-client-1",
        None,
        recorder.on_response,
        recorder.on_failed,
        limits,
    )


async def read_frame(stream: trio.SocketStream) -> bytes | None:
    data = b""
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        chunk = await stream.receive_some(1 << 16)
        if not chunk:
            return None
        data += chunk
    return data[4:]


def test_refused_connection_fails_the_request() -> None:
    async def main() -> None:
        listener = trio.socket.socket()
        await listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        listener.close()  # nothing listens there now
        recorder = Recorder()
        peer = make_peer(port, recorder)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.run)
            peer.send_nowait(7, VOTE)
            await recorder.wait(lambda: recorder.failed == [7])
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_hang_up_fails_in_flight_and_the_next_request_reconnects() -> None:
    async def main() -> None:
        async def hang_up(stream: trio.SocketStream) -> None:
            await read_frame(stream)
            await stream.aclose()

        recorder = Recorder()
        async with trio.open_nursery() as nursery:
            [listener] = await nursery.start(partial(trio.serve_tcp, hang_up, 0, host="127.0.0.1"))
            peer = make_peer(listener.socket.getsockname()[1], recorder)
            nursery.start_soon(peer.run)
            peer.send_nowait(1, VOTE)
            await recorder.wait(lambda: recorder.failed == [1])
            peer.send_nowait(2, VOTE)
            await recorder.wait(lambda: recorder.failed == [1, 2])
            assert peer.connects == 2
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_full_queue_fails_the_request_at_once() -> None:
    recorder = Recorder()

    async def main() -> None:
        peer = make_peer(9, recorder, PeerLimits(queue_max=1))  # not running: nothing drains
        peer.send_nowait(1, VOTE)
        peer.send_nowait(2, VOTE)
        assert recorder.failed == [2]

    trio.run(main)


def test_an_answer_is_matched_to_its_request() -> None:
    big_id = (1 << 33) + 5  # the replica's ids only grow: the header carries them masked

    async def main() -> None:
        async def answer(stream: trio.SocketStream) -> None:
            frame = await read_frame(stream)
            assert frame is not None
            header, _ = decode_request(frame)
            assert header.client_id == "raft-client-1" and header.correlation_id == 5
            response = response_to_wire(m.VoteResponse(0, -1, 3, True), 2, None)
            await stream.send_all(encode_response(header, response))
            await trio.sleep_forever()

        recorder = Recorder()
        async with trio.open_nursery() as nursery:
            [listener] = await nursery.start(partial(trio.serve_tcp, answer, 0, host="127.0.0.1"))
            peer = make_peer(listener.socket.getsockname()[1], recorder)
            nursery.start_soon(peer.run)
            peer.send_nowait(big_id, VOTE)
            await recorder.wait(lambda: recorder.responses)
            assert recorder.responses == [(big_id, m.VoteResponse(0, -1, 3, True))]
            assert recorder.failed == []
            nursery.cancel_scope.cancel()

    trio.run(main)


SILENT_TIMEOUT_S = 0.2  # the request timeout of a peer of a silent server


async def start_silent_peer(
    nursery: trio.Nursery, recorder: Recorder, connections: list[trio.SocketStream]
) -> Peer:
    """A server that reads every request and never answers (its connections collected in
    ``connections``), and a running peer to it with a request timeout of SILENT_TIMEOUT_S."""

    async def silent(stream: trio.SocketStream) -> None:
        connections.append(stream)
        while await read_frame(stream) is not None:
            pass  # read, never answer

    [listener] = await nursery.start(partial(trio.serve_tcp, silent, 0, host="127.0.0.1"))
    limits = PeerLimits(request_timeout_s=SILENT_TIMEOUT_S)
    peer = make_peer(listener.socket.getsockname()[1], recorder, limits)
    nursery.start_soon(peer.run)
    return peer


def test_an_overdue_answer_closes_the_connection_and_the_next_request_reconnects() -> None:
    """A peer that reads and never answers (a connection whose packets are lost, as after a
    link went down): the request fails once its answer is overdue, the connection is closed
    (Kafka's NetworkClient disconnects on a request timeout), and the next request goes out on
    a new connection instead of queueing behind the silent one."""

    async def main() -> None:
        connections: list[trio.SocketStream] = []

        recorder = Recorder()
        async with trio.open_nursery() as nursery:
            peer = await start_silent_peer(nursery, recorder, connections)
            started = trio.current_time()
            peer.send_nowait(1, VOTE)
            await recorder.wait(lambda: recorder.failed == [1])
            assert trio.current_time() - started >= SILENT_TIMEOUT_S
            assert peer.timeouts == 1
            peer.send_nowait(2, VOTE)
            await recorder.wait(lambda: recorder.failed == [1, 2])
            assert peer.connects == 2 and len(connections) == 2
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_fetch_may_wait_its_long_poll_before_it_is_overdue() -> None:
    """A Fetch the leader may park up to its ``max_wait_ms`` is overdue only once that wait
    and the request timeout have both passed."""
    fetch = m.FetchRequest("c", 1, 300, 2, 10, 1, 1024)

    async def main() -> None:
        recorder = Recorder()
        async with trio.open_nursery() as nursery:
            peer = await start_silent_peer(nursery, recorder, [])
            started = trio.current_time()
            peer.send_nowait(3, fetch)
            await trio.sleep(0.35)  # past the request timeout, within it plus the max wait
            assert recorder.failed == [] and peer.timeouts == 0
            await recorder.wait(lambda: recorder.failed == [3])
            assert trio.current_time() - started >= 0.5 and peer.timeouts == 1
            nursery.cancel_scope.cancel()

    trio.run(main)
