"""Python stream frameworks from PyPI, unchanged, against ferrokafka and Apache Kafka 4.4: a
stateful Quix Streams application (at-least-once and exactly-once), a faust-streaming agent with
a table, and a FastStream subscriber/publisher. Each app is killed (SIGKILL) mid-stream and
started again; the output must then be right (issue 20).

Every test runs on ferrokafka; the Apache Kafka 4.4 side runs with FERROKAFKA_ECOSYSTEM_FULL=1
(README, "Set-up"), which also adds faust-streaming (flaky after a kill: see its test).
Each test prints the app's start-up time (launch to first output) and peak memory.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serve_process import EPHEMERAL, serving

from ecosystem.pyfw_support import (
    App,
    OutputReader,
    committed_offsets,
    create_topics,
    expected_totals,
    expected_windows,
    last_per_key,
    list_topics,
    produce_inputs,
    quix_python,
    topic_configs,
)
from kafka_support import KafkaBroker, require_kafka

FULL_ENV = "FERROKAFKA_ECOSYSTEM_FULL"
FULL = os.environ.get(FULL_ENV, "") not in ("", "0")
FULL_ONLY = pytest.mark.skipif(not FULL, reason=f"opt-in: {FULL_ENV}=1")

PARTITIONS = 2
KEYS = 5
FIRST = range(0, 200)  # produced before the first start
SECOND = range(200, 400)  # produced while the app is down
ALL = range(FIRST.start, SECOND.stop)
# Per-record delay in the app: the first batch takes ~1 s, so the kill lands mid-stream.
DELAY_S = "0.005"
# Outputs read before the kill (of FIRST's 200): the app is then surely mid-stream.
KILL_AFTER_OUTPUTS = 40
OUTPUT_TIMEOUT_S = 120.0
QUIX_WINDOW_MS = 1000  # quix_app.py's WINDOW_MS

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def ferrokafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("ferrokafka")
    with serving(
        *EPHEMERAL,
        "--log-dirs",
        str(data),
        "--override",
        "group.initial.rebalance.delay.ms=0",
    ) as serve:
        yield serve.bootstrap


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_kafka()
    with KafkaBroker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker.bootstrap_servers


@pytest.fixture
def bootstrap(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_bootstrap"))


FERROKAFKA = pytest.param("ferrokafka", id="ferrokafka")
KAFKA_FULL = pytest.param("kafka", id="kafka", marks=[pytest.mark.kafka, FULL_ONLY])


def _report(name: str, bootstrap: str, app: App, first_output_s: float) -> None:
    sys.stdout.write(
        f"\n{name} on {bootstrap}: first output {first_output_s:.1f}s after launch, "
        f"peak RSS {app.peak_rss_mib():.0f} MiB\n"
    )


def _totals_reached(records: list[tuple[str, dict]]) -> bool:
    return last_per_key(records) == expected_totals(ALL, KEYS)


def _explain(records: list[tuple[str, dict]]) -> str:
    missing = sorted(set(ALL) - {value.get("n") for _, value in records})
    text = f"inputs without output: {missing[:20]} ({len(missing)})"
    if records and "count" in records[0][1]:
        text += f"; last per key {last_per_key(records)}, expected {expected_totals(ALL, KEYS)}"
    return text


@pytest.mark.parametrize("bootstrap", [FERROKAFKA, KAFKA_FULL], indirect=True)
def test_quix_stateful_at_least_once(bootstrap: str, tmp_path: Path) -> None:
    """Quix Streams 3.28.1: counts and sums per key in State; killed mid-stream, restarted,
    its state recovered from the changelog topic it created (compacted): right totals."""
    _quix(bootstrap, tmp_path, "at-least-once", group="quix-alo")


@pytest.mark.parametrize("bootstrap", [FERROKAFKA, KAFKA_FULL], indirect=True)
def test_quix_stateful_exactly_once(bootstrap: str, tmp_path: Path) -> None:
    """The same with ``processing_guarantee="exactly-once"`` (transactions): read_committed,
    the output has each input exactly once, with the count and sum it had when first seen."""
    _check_exactly_once(_quix(bootstrap, tmp_path, "exactly-once", group="quix-eos"))


def _check_exactly_once(records: list[tuple[str, dict]]) -> None:
    """Each input once in the output, with the running count and sum of its key then."""
    seen = [value["n"] for _, value in records]
    assert sorted(seen) == list(ALL), "duplicate or missing outputs under exactly-once"
    counts: dict[str, int] = {}
    sums: dict[str, int] = {}
    for key, value in records:
        counts[key] = counts.get(key, 0) + 1
        sums[key] = sums.get(key, 0) + value["n"]
        assert (value["count"], value["sum"]) == (counts[key], sums[key]), (key, value)


@FULL_ONLY
@pytest.mark.parametrize("bootstrap", [FERROKAFKA, KAFKA_FULL], indirect=True)
def test_quix_tumbling_windows(bootstrap: str, tmp_path: Path) -> None:
    """Quix Streams: sums per key in 1 s tumbling windows by record timestamp, each written
    when closed; killed mid-stream and restarted, every closed window has its exact sum (a
    window may be written twice under at-least-once, never with another value)."""
    expected = expected_windows(ALL, KEYS, QUIX_WINDOW_MS)

    def windows(records: list) -> dict[tuple[str, int], set[int]]:
        found: dict[tuple[str, int], set[int]] = {}
        for key, value in records:
            found.setdefault((key, value["start"]), set()).add(value["value"])
        return found

    def all_closed(records: list) -> bool:
        return set(windows(records)) >= set(expected)

    records = _quix(
        bootstrap, tmp_path, "at-least-once", "quix-win", mode="window", finished=all_closed
    )
    assert windows(records) == {window: {total} for window, total in expected.items()}


def _quix(
    bootstrap: str,
    tmp_path: Path,
    guarantee: str,
    group: str,
    mode: str = "count",
    finished: Callable[[list], bool] = _totals_reached,
) -> list:
    python = quix_python()
    topics = (f"{group}-in", f"{group}-out")
    create_topics(bootstrap, topics, PARTITIONS)
    reader = OutputReader(bootstrap, topics[1], PARTITIONS)
    state = tmp_path / "state"

    def start() -> App:
        # A new state dir each time: state then comes back only from the changelog topic.
        run_dir = state / str(time.monotonic_ns())
        args = [bootstrap, *topics, group, str(run_dir), guarantee, DELAY_S, mode]
        return App(python, "quix_app.py", args, tmp_path / "quix.log")

    timestamps = mode == "window"
    try:
        produce_inputs(bootstrap, topics[0], FIRST, KEYS, timestamps)
        # Windows: killed once the first is written (the second still open, mid-batch).
        kill_after = 1 if mode == "window" else KILL_AFTER_OUTPUTS
        _kill_restart(
            "quixstreams",
            bootstrap,
            topics[0],
            start,
            reader,
            finished,
            timestamps,
            kill_after=kill_after,
        )
        records = list(reader.records)
    finally:
        reader.close()
    changelogs = [t for t in list_topics(bootstrap) if t.startswith(f"changelog__{group}--")]
    assert changelogs, "Quix created no changelog topic"
    for changelog in changelogs:
        assert topic_configs(bootstrap, changelog)["cleanup.policy"] == "compact", changelog
    return records


def _kill_restart(
    name: str,
    bootstrap: str,
    input_topic: str,
    start: Callable[..., object],
    reader: OutputReader,
    finished: Callable[..., object],
    timestamps: bool = False,
    after_kill: Callable[[], None] | None = None,
    kill_after: int = KILL_AFTER_OUTPUTS,
) -> int:
    """FIRST is in ``input_topic``: start the app, SIGKILL it mid-stream, produce SECOND, start
        it again and wait for ``finished(records)``. Returns the outputs written before the kill
    (read to the end of the output topic once the app is dead)."""
    app: App = start()
    try:
        reader.wait_until(lambda r: len(r) > 0, OUTPUT_TIMEOUT_S, app.check_alive, "first output")
        _report(name, bootstrap, app, time.monotonic() - app.started_at)
        reader.wait_until(
            lambda r: len(r) >= kill_after, OUTPUT_TIMEOUT_S, app.check_alive, "outputs"
        )
        app.kill()
    finally:
        app.stop()
    outputs_at_kill = reader.read_to_end()
    assert outputs_at_kill < len(FIRST), "the first batch was done before the kill"
    if after_kill is not None:
        after_kill()
    produce_inputs(bootstrap, input_topic, SECOND, KEYS, timestamps)
    again: App = start()
    try:
        try:
            reader.wait_until(finished, OUTPUT_TIMEOUT_S, again.check_alive, "final results")
        except AssertionError as error:
            raise AssertionError(f"{error}: {_explain(reader.records)}") from None
    finally:
        again.stop()
    return outputs_at_kill


# Opt-in: 2 runs in ~19 on ferrokafka (none in 5 on Kafka) lost inputs after the restart. The
# broker's data then showed the restarted worker skipping input offsets ~24-54 (and ~21-70) of
# both partitions, from well past its committed offsets (16/16, 1/2), with no rebalance: the
# records faust's fetcher pulls while its table recovers are dropped and not fetched again:
# faust's Recovery resumes the flow and starts the Fetcher before it seeks to the committed
# offsets, and its drain loop sets the read offset even for a message whose callback the flow
# suspension cut short, so re-fetched records below it are dropped (README, "faust").
@FULL_ONLY
@pytest.mark.parametrize("bootstrap", [FERROKAFKA, KAFKA_FULL], indirect=True)
def test_faust_table_recovered(bootstrap: str, tmp_path: Path) -> None:
    """faust-streaming 0.15.3: an agent counting per key in an in-memory Table; killed
    mid-stream and restarted, the table comes back only from its changelog topic: right
    counts and sums, and the changelog topic is compacted."""
    _faust(bootstrap, tmp_path, "at_least_once", "faust-counts")


@FULL_ONLY
@pytest.mark.parametrize("bootstrap", [FERROKAFKA, KAFKA_FULL], indirect=True)
def test_faust_exactly_once_totals(bootstrap: str, tmp_path: Path) -> None:
    """The same agent with ``processing_guarantee="exactly_once"`` (aiokafka's transactional
    producers, one per partition, offsets committed in the transaction): right totals after
    the kill. Not checked: that each output appears once. faust 0.15.3 repeats outputs after
    the kill under exactly_once on Apache Kafka 4.4 as on ferrokafka (README)."""
    records = _faust(bootstrap, tmp_path, "exactly_once", "faust-eos")
    repeats = len(records) - len({value["n"] for _, value in records})
    sys.stdout.write(f"\nfaust exactly_once: {len(records)} outputs, {repeats} repeated\n")


def _faust(bootstrap: str, tmp_path: Path, guarantee: str, app_id: str) -> list:
    topics = (f"{app_id}-in", f"{app_id}-out")
    create_topics(bootstrap, topics, PARTITIONS)
    reader = OutputReader(bootstrap, topics[1], PARTITIONS)

    def start() -> App:
        run_dir = tmp_path / f"faust-{time.monotonic_ns()}"
        args = [bootstrap, *topics, app_id, str(run_dir), str(PARTITIONS), DELAY_S, guarantee]
        return App(sys.executable, "faust_app.py", args, tmp_path / "faust.log")

    try:
        produce_inputs(bootstrap, topics[0], FIRST, KEYS)
        _kill_restart("faust", bootstrap, topics[0], start, reader, _totals_reached)
        records = list(reader.records)
    finally:
        reader.close()
    changelog = f"{app_id}-counts-changelog"
    assert changelog in list_topics(bootstrap)
    assert topic_configs(bootstrap, changelog)["cleanup.policy"] == "compact"
    return records


@pytest.mark.parametrize("backend", ["aiokafka", pytest.param("confluent", marks=FULL_ONLY)])
@pytest.mark.parametrize("bootstrap", [FERROKAFKA, KAFKA_FULL], indirect=True)
def test_faststream_resumes_from_group_offsets(
    bootstrap: str, backend: str, tmp_path: Path
) -> None:
    """FastStream 0.7.8 (on aiokafka, and on confluent-kafka): a subscriber in a group that
    publishes a transform of each input; killed mid-stream and restarted, it resumes from the
    group's committed offsets: every input transformed, and the only repeats are the inputs
    after the committed offsets."""
    group = f"faststream-{backend}"
    topics = (f"{group}-in", f"{group}-out")
    create_topics(bootstrap, topics, PARTITIONS)
    reader = OutputReader(bootstrap, topics[1], PARTITIONS)

    def start() -> App:
        args = [bootstrap, *topics, group, DELAY_S, backend]
        return App(sys.executable, "faststream_app.py", args, tmp_path / "faststream.log")

    def all_inputs(records: list) -> bool:
        return {value["n"] for _, value in records} == set(ALL)

    committed_at_kill: list[int] = []

    def read_committed_offsets() -> None:
        committed_at_kill.extend(committed_offsets(bootstrap, group, topics[0], PARTITIONS))

    try:
        produce_inputs(bootstrap, topics[0], FIRST, KEYS)
        at_kill = _kill_restart(
            "faststream",
            bootstrap,
            topics[0],
            start,
            reader,
            all_inputs,
            after_kill=read_committed_offsets,
        )
        records = list(reader.records)
    finally:
        reader.close()
    resumed_from = sum(max(offset, 0) for offset in committed_at_kill)
    assert resumed_from > 0, f"no offsets committed before the kill: {committed_at_kill}"
    for _, value in records:
        assert value["square"] == value["n"] ** 2
    # Inputs before the committed offsets are never processed again.
    repeats = len(records) - len(ALL)
    assert 0 <= repeats <= at_kill - resumed_from, (repeats, at_kill, committed_at_kill)
    final = committed_offsets(bootstrap, group, topics[0], PARTITIONS)
    assert sum(final) == len(ALL), final
