"""``python -m bench.share_group [--quick | --full | --smoke]``: see the package docstring."""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.compare.__main__ import fetch_kafka
from bench.share_group import REPO
from bench.share_group.run import PLANS, markdown, run

RESULTS_DIR = REPO / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.share_group",
        description="A share group of consumers: ferrokafka vs Apache Kafka, side by side.",
    )
    modes = parser.add_mutually_exclusive_group()
    for mode in PLANS:
        modes.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode)
    parser.add_argument("--rounds", type=int, help="override the mode's rounds per side")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="default: %(default)s")
    parser.add_argument("--work-dir", type=Path, help="default: a temporary directory")
    args = parser.parse_args(argv)
    fetch_kafka()
    plan = PLANS[args.mode or "quick"]
    if args.rounds is not None:
        plan = replace(plan, rounds=max(1, args.rounds))
    if args.work_dir is not None:
        doc = run(plan, args.work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="ferrokafka-replicated-") as tmp:
            doc = run(plan, Path(tmp))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.out_dir / f"share-group-{plan.mode}"
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    text = markdown(doc)
    stem.with_suffix(".md").write_text(text)
    print(text)
    return 0 if all(e["ok"] for e in doc["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
