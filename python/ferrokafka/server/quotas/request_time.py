"""What a request costs the broker for ``request_percentage`` (Kafka's
``ClientRequestQuotaManager``): the time its handler runs, as Kafka measures a request
handler thread's time on it.

Kafka's handler threads each run one request at a time, so the thread time of a request is
the handler's running time, not its waits (a long-poll Fetch waits in purgatory, not on a
thread). Here every handler runs as a trio task that interleaves with others, so the time a
request costs is the sum of its task's steps — from the handler's start to its answer —
measured by :class:`HandlerTimeMeter`, a trio instrument, plus the time of the part a
handler answers at once (``answer_now``), measured around that call. The instrument is added
to the run only once a ``request_percentage`` quota exists (:func:`handler_time_meter`), so a
broker without one pays nothing for it.

Kafka's value per request is the time as a percentage of one second (``nanos * 100 / 1e9``),
so the sampled rate of those values is the percentage of a thread the client uses; over its
quota, the throttle time is Kafka's (``QuotaUtils.throttleTime``) bounded by one quota window
(``quota.window.size.seconds``, Kafka's ``boundedThrottleTime``).
"""

from __future__ import annotations

import time

import trio

# Kafka's ClientRequestQuotaManager.NanosToPercentagePerSecond.
NANOS_TO_PERCENTAGE_PER_SECOND = 100.0 / 1e9


def nanos_to_percentage(nanos: int) -> float:
    return nanos * NANOS_TO_PERCENTAGE_PER_SECOND


class HandlerTimeMeter(trio.abc.Instrument):
    """The running time of each tracked task: :meth:`track` when the handler starts,
    :meth:`stop` (from inside the task) when its answer is ready. One entry per request in
    flight, so bounded by the connections' in-flight limits."""

    def __init__(self) -> None:
        self._spent_ns: dict[trio.lowlevel.Task, int] = {}
        self._step_started_ns: dict[trio.lowlevel.Task, int] = {}

    def track(self, task: trio.lowlevel.Task) -> None:
        self._spent_ns[task] = 0
        # Called from inside the task's step: this step counts from now.
        self._step_started_ns[task] = time.perf_counter_ns()

    def stop(self, task: trio.lowlevel.Task) -> int:
        """The task's running time since :meth:`track` (this step's so far included), in ns;
        the task is no longer tracked."""
        started = self._step_started_ns.pop(task, None)
        spent = self._spent_ns.pop(task, 0)
        if started is not None:
            spent += time.perf_counter_ns() - started
        return spent

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task in self._spent_ns:
            self._step_started_ns[task] = time.perf_counter_ns()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        started = self._step_started_ns.pop(task, None)
        if started is not None and task in self._spent_ns:
            self._spent_ns[task] += time.perf_counter_ns() - started


_METER: trio.lowlevel.RunVar[HandlerTimeMeter] = trio.lowlevel.RunVar("handler_time_meter")


def handler_time_meter() -> HandlerTimeMeter:
    """This trio run's meter, added to the run as an instrument on first use."""
    try:
        return _METER.get()
    except LookupError:
        meter = HandlerTimeMeter()
        trio.lowlevel.add_instrument(meter)
        _METER.set(meter)
        return meter
