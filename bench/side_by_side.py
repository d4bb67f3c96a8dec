"""What the side-by-side benchmarks against Apache Kafka share (``bench.replicated``,
``bench.share_group``): medians per side and their ratio, the markdown table of them, and the
command line that runs a mode's plan and writes ``bench/results/<stem>-<mode>.{json,md}``."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

FERROKAFKA = "ferrokafka"
KAFKA = "kafka"
SIDES = (FERROKAFKA, KAFKA)
RESULTS_DIR = Path(__file__).resolve().parent / "results"

# (key in a run, label, unit, higher is better)
Figure = tuple[str, str, str, bool]


def alternate(
    rounds: int,
    work_dir: Path,
    run_side: Callable[[str, Path], dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
) -> list[dict[str, Any]]:
    """Every round runs both sides, alternating which goes first (drift on the machine hits
    both); each run is logged with ``describe`` (its figures) or its error."""
    runs: list[dict[str, Any]] = []
    for round_no in range(rounds):
        for side in SIDES if round_no % 2 == 0 else SIDES[::-1]:
            _log(f"round {round_no + 1}/{rounds}: {side}")
            entry = run_side(side, work_dir / f"{side}-{round_no}")
            entry["round"] = round_no
            _log(
                f"  {side}: "
                + (describe(entry) if entry["ok"] else f"FAILED {entry['error'][:300]}")
            )
            runs.append(entry)
    return runs


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def summarize(
    runs: Sequence[dict[str, Any]],
    figures: Sequence[Figure],
    value: Callable[[dict[str, Any], str], float | None],
) -> dict[str, Any]:
    """Median per side of each figure and the ratio ferrokafka/Kafka of the medians."""
    summary: dict[str, Any] = {}
    for key, label, unit, higher in figures:
        medians: dict[str, float | None] = {}
        for side in SIDES:
            values = [v for e in runs if e["side"] == side if (v := value(e, key)) is not None]
            medians[side] = statistics.median(values) if values else None
        ferro, kafka = medians[FERROKAFKA], medians[KAFKA]
        summary[key] = {
            "label": label,
            "unit": unit,
            "higher_is_better": higher,
            **medians,
            "ratio": ferro / kafka if ferro is not None and kafka else None,
        }
    return summary


def ratio_table(doc: Mapping[str, Any]) -> list[str]:
    """The summary as markdown rows, then the failed runs if any."""
    lines = ["| figure | ferrokafka | Apache Kafka | ratio |", "|---|---|---|---|"]
    for figure in doc["summary"].values():
        cells = ["—" if figure[s] is None else f"{figure[s]:,.1f} {figure['unit']}" for s in SIDES]
        ratio = "—" if figure["ratio"] is None else f"{figure['ratio']:.2f}"
        lines.append(f"| {figure['label']} | {cells[0]} | {cells[1]} | {ratio} |")
    failed = [e for e in doc["runs"] if not e["ok"]]
    if failed:
        lines += ["", "Failed runs:", ""]
        lines += [f"- {e['side']} round {e['round']}: {e['error'][:500]}" for e in failed]
    return lines


def main(
    argv: list[str] | None,
    *,
    prog: str,
    description: str,
    stem: str,
    plans: Mapping[str, Any],
    run: Callable[[Any, Path], dict[str, Any]],
    markdown: Callable[[dict[str, Any]], str],
) -> int:
    """``--smoke | --quick | --full`` (default quick), ``--rounds``, ``--out-dir``,
    ``--work-dir``: run the plan (Kafka's jars fetched first), write the JSON and markdown,
    print the markdown; exit 1 if a run failed (never on speed)."""
    from bench.compare.__main__ import fetch_kafka

    parser = argparse.ArgumentParser(prog=prog, description=description)
    modes = parser.add_mutually_exclusive_group()
    for mode in plans:
        modes.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode)
    parser.add_argument("--rounds", type=int, help="override the mode's rounds per side")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="default: %(default)s")
    parser.add_argument("--work-dir", type=Path, help="default: a temporary directory")
    args = parser.parse_args(argv)
    fetch_kafka()
    plan = plans[args.mode or "quick"]
    if args.rounds is not None:
        plan = replace(plan, rounds=max(1, args.rounds))
    if args.work_dir is not None:
        doc = run(plan, args.work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix=f"ferrokafka-{stem}-") as tmp:
            doc = run(plan, Path(tmp))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"{stem}-{plan.mode}"
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    text = markdown(doc)
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0 if all(e["ok"] for e in doc["runs"]) else 1
