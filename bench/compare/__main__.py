"""``python -m bench.compare [--quick | --full | --smoke]``: see the package docstring."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.compare import REPO, charts, report
from bench.compare.plan import PLANS, scaled
from bench.compare.run import BROKERS, compare

RESULTS_DIR = REPO / "bench" / "results"
FETCH_SCRIPT = REPO / "tests" / "kafka" / "fetch.sh"
FETCH_TIMEOUT_S = 900.0  # fetch.sh's own default bound on one Maven run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description="ferrokafka vs Apache Kafka with Kafka's perf tools and librdkafka.",
    )
    modes = parser.add_mutually_exclusive_group()
    for mode, text in (
        ("quick", "representative subset, under five minutes (default)"),
        ("full", "the whole matrix, a few GB per broker: real numbers"),
        ("smoke", "seconds of load, proves the harness works (numbers mean nothing)"),
    ):
        modes.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode, help=text)
    parser.add_argument("--repetitions", type=int, help="override the mode's repetitions")
    parser.add_argument(
        "--scale",
        type=float,
        help="multiply every record count and byte size (e.g. 0.01: the full matrix in minutes)",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="PATH",
        help="run nothing: rebuild the markdown and charts from a compare-<mode>.json",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="default: %(default)s")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="where both brokers' data goes (one filesystem); default: a temporary directory",
    )
    args = parser.parse_args(argv)
    if args.from_json is not None:
        doc = json.loads(args.from_json.read_text())
        doc.pop("summary", None)
        return _write(doc, args.out_dir)
    fetch_kafka()
    plan = PLANS[args.mode or "quick"]()
    if args.repetitions is not None:
        plan = replace(plan, repetitions=max(1, args.repetitions))
    if args.scale is not None:
        plan = scaled(plan, args.scale)
    if args.work_dir is not None:
        doc = compare(plan, args.work_dir, BROKERS)
    else:
        with tempfile.TemporaryDirectory(prefix="ferrokafka-compare-") as tmp:
            doc = compare(plan, Path(tmp), BROKERS)
    return _write(doc, args.out_dir)


def fetch_kafka() -> None:
    """Apache Kafka's jars from Maven Central via tests/kafka/fetch.sh: resolved once, then a
    cached classpath that the script checks in milliseconds without starting Maven."""
    timeout_s = float(os.environ.get("FERROKAFKA_FETCH_TIMEOUT_S", FETCH_TIMEOUT_S)) + 60.0
    subprocess.run(
        ["bash", str(FETCH_SCRIPT)],
        check=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


def _write(doc: dict, out_dir: Path) -> int:
    rows = report.summarize(doc)
    paths = report.write(doc, rows, out_dir)
    pngs = charts.write_all(rows, out_dir, f"compare-{doc['plan']['mode']}")
    print(report.markdown(doc, rows))
    for path in [*paths.values(), *pngs]:
        print(f"written: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
