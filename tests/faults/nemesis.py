"""The nemesis: a thread that plays a schedule (:mod:`.schedule`) against the nodes and
records each fault in the history (``fault`` ops: invoked when it began, completed when it
ended, so recovery is measured from the end).

With several nodes, an event's target (a node, a partition's leader, the active controller)
is resolved when the fault begins by the ``resolve`` callable the run gives, and network
faults go to its :class:`Network` (namespaces and routes, :mod:`.cluster`).

It also watches for a node that died on its own (a crash, e.g. SIGBUS): that is recorded as
a ``crash`` fault (an anomaly for the checkers) and the node is started again so the run goes
on. :meth:`Nemesis.stop` ends whatever fault is under way and records the ``heal``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from .checkers import CRASH
from .history import FAULT, HEAL, History, Op
from .nodes import FerrokafkaNode, NodeError
from .schedule import (
    BRIDGE,
    FILL,
    FILL_KILL,
    KILL,
    LINK_DOWN,
    NETWORK_FAULTS,
    ONE_WAY,
    PARTITION,
    PAUSE,
    POWER_LOSS,
    RESTART,
    Event,
)

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 0.1
JOIN_TIMEOUT_S = 120.0


class Network(Protocol):
    """The network faults of a cluster, by node index; :meth:`heal` undoes every one."""

    def partition(self, node: int) -> None: ...
    def one_way(self, node: int) -> None: ...
    def bridge(self, node: int) -> None: ...
    def link_down(self, node: int) -> None: ...
    def heal(self) -> None: ...


# An event -> (node index, what it was resolved from, for the history).
Resolver = Callable[[Event], tuple[int, str]]


def _by_node(event: Event) -> tuple[int, str]:
    return event.node, ""


class Nemesis:
    def __init__(
        self,
        history: History,
        nodes: Sequence[FerrokafkaNode],
        events: list[Event],
        *,
        network: Network | None = None,
        resolve: Resolver = _by_node,
    ):
        self.history = history
        self.nodes = list(nodes)
        self.events = list(events)
        self.network = network
        self.resolve = resolve
        self.injected: dict[str, int] = {}
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._guarded, name="nemesis", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop playing, end every fault (resume, free the disk, start what is down) and
        record the heal."""
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            raise TimeoutError(f"the nemesis did not stop within {JOIN_TIMEOUT_S}s")
        invoked = self.history.now()
        if self.network is not None:
            self.network.heal()
        for node in self.nodes:
            self._watch(node)
            node.resume()
            node.free_disk()
            if not node.running:
                node.start()
        self.history.add(Op(FAULT, "nemesis", invoked, self.history.now(), True, HEAL))

    def halt(self) -> None:
        """Stop playing, leaving the nodes as they are (for a run being abandoned)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(JOIN_TIMEOUT_S)

    def _guarded(self) -> None:
        try:
            self._play()
        except BaseException as exc:
            log.exception("nemesis failed")
            self.failure = exc

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` watching the nodes; False once stopped."""
        end = self.history.now() + seconds
        while not self._stop.is_set():
            left = end - self.history.now()
            if left <= 0:
                return True
            self._stop.wait(min(left, WATCH_INTERVAL_S))
            for node in self.nodes:
                self._watch(node)
        return False

    def _watch(self, node: FerrokafkaNode) -> None:
        """A node that exited on its own: record the crash and start it again."""
        code = node.exited()
        if code is None:
            return
        at = self.history.now()
        log.error("node %d exited on its own with %s", node.config.node_id, code)
        node.kill()  # reap, forget the process
        node.free_disk()  # so that it can start
        self.history.add(
            Op(FAULT, "nemesis", at, self.history.now(), True, CRASH, error=f"exit code {code}")
        )
        try:
            node.start()
        except NodeError:
            log.exception(
                "node %d does not start again; the heal tries once more", node.config.node_id
            )
            node.kill()

    def _play(self) -> None:
        for event in self.events:
            if not self._wait(event.at_s - self.history.now()):
                return
            invoked = self.history.now()
            index, resolved = self.resolve(event)
            node = self.nodes[index]
            interrupted = not self._inject(node, event, index)
            self.injected[event.kind] = self.injected.get(event.kind, 0) + 1
            self.history.add(
                Op(
                    FAULT,
                    "nemesis",
                    invoked,
                    self.history.now(),
                    True,
                    event.kind,
                    error=f"node {node.config.node_id}{resolved} hold {event.hold_s}s",
                )
            )
            if interrupted:
                return

    def _start_on_full_disk(self, node: FerrokafkaNode) -> None:
        """Refusing to start on a full disk (exit code 1, a line saying why) is fine; dying
        of a signal is a crash."""
        at = self.history.now()
        try:
            node.start()
        except NodeError:
            code = node.exited()
            node.kill()
            if code is None or code < 0:
                self.history.add(
                    Op(
                        FAULT,
                        "nemesis",
                        at,
                        self.history.now(),
                        True,
                        CRASH,
                        error=f"start on a full disk: exit code {code}",
                    )
                )

    def _cut(self, index: int, event: Event) -> bool:
        if self.network is None:
            raise ValueError(f"{event.kind} needs a network of namespaces")
        cut = {
            PARTITION: self.network.partition,
            ONE_WAY: self.network.one_way,
            BRIDGE: self.network.bridge,
            LINK_DOWN: self.network.link_down,
        }[event.kind]
        try:
            cut(index)
            return self._wait(event.hold_s)
        finally:
            self.network.heal()

    def _inject(self, node: FerrokafkaNode, event: Event, index: int = 0) -> bool:
        """Do one fault and end it; False if stopped while holding it (it is ended anyway)."""
        if event.kind in NETWORK_FAULTS:
            held = self._cut(index, event)
        elif event.kind == KILL:
            node.kill()
            held = self._wait(event.hold_s)
            node.start()
        elif event.kind == POWER_LOSS:
            node.lose_power()
            held = self._wait(event.hold_s)
            node.start()
        elif event.kind == PAUSE:
            node.pause()
            held = self._wait(event.hold_s)
            node.resume()
        elif event.kind == RESTART:
            at = self.history.now()
            code = node.stop()
            if code is not None and code not in node.CLEAN_EXIT_CODES:
                self.history.add(
                    Op(
                        FAULT,
                        "nemesis",
                        at,
                        self.history.now(),
                        True,
                        CRASH,
                        error=f"clean stop exited with code {code}",
                    )
                )
            node.start()
            held = True
        elif event.kind == FILL:
            node.fill_disk()
            held = self._wait(event.hold_s)
            node.free_disk()
        elif event.kind == FILL_KILL:
            node.fill_disk()
            node.kill()
            self._start_on_full_disk(node)
            held = self._wait(event.hold_s)
            node.free_disk()
            if not node.running:
                node.start()
        else:
            raise ValueError(f"unknown fault {event.kind}")
        return held
