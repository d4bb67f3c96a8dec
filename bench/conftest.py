"""Plumbing for the micro benchmarks in this directory: a ``measure`` fixture that runs
pytest-benchmark and keeps each case's per-operation timings, and a terminal summary of RATIOS
measured in the same run (native vs reference speedups, CRC GB/s, Log.append as a share of the
plain-write limit, index lookup µs), also written to ``bench/results/micro.json``.

Benchmarks report; they never fail on speed. Run them with::

    python -m pytest bench --benchmark-only

The main test run (``testpaths = ["tests"]``) does not collect this directory. With
``--benchmark-disable`` each case runs once, untimed, and nothing is written.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RESULTS_PATH = Path(__file__).parent / "results" / "micro.json"
_RESULTS = pytest.StashKey[dict[str, dict[str, Any]]]()

CODECS = ("gzip", "snappy", "lz4", "zstd")
# What the storage engine is expected to reach (see the README); reported, never asserted.
CRC_TARGET_GBPS = 5.0
APPEND_TARGET_SHARE = 0.70
LOOKUP_TARGET_US = 2.0


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS] = {}


@pytest.fixture
def measure(benchmark, request) -> Callable[..., Any]:
    """``measure(case, fn, *args, nbytes=None, ops=1, rounds=None)`` benchmarks ``fn(*args)``
    and records the timing of one operation (``ops`` operations per call) under ``case``.
    ``rounds`` switches to a fixed number of rounds (for cases that grow a file)."""
    results = request.config.stash[_RESULTS]

    def run(
        case: str, fn, *args, nbytes: int | None = None, ops: int = 1, rounds: int | None = None
    ):
        benchmark.group = case.split("/")[0]
        benchmark.extra_info.update(case=case, nbytes=nbytes, ops_per_call=ops)
        if rounds is None:
            out = benchmark(fn, *args)
        else:
            out = benchmark.pedantic(fn, args=args, rounds=rounds, warmup_rounds=min(5, rounds))
        metadata = benchmark.stats  # None when benchmarks are disabled
        if metadata is not None:
            s = metadata.stats
            results[case] = {
                "median_s": s.median / ops,
                "min_s": s.min / ops,
                "mean_s": s.mean / ops,
                "rounds": s.rounds,
                "ops_per_call": ops,
                "nbytes": nbytes,
            }
        return out

    return run


@pytest.fixture
def record_case(request) -> Callable[..., None]:
    """``record_case(case, seconds, nbytes=None)`` keeps per-operation timings measured by the
    benchmark itself (for cases that must alternate round by round with another)."""
    results = request.config.stash[_RESULTS]

    def record(case: str, seconds: list[float], nbytes: int | None = None) -> None:
        ordered = sorted(seconds)
        results[case] = {
            "median_s": ordered[len(ordered) // 2],
            "min_s": ordered[0],
            "mean_s": sum(ordered) / len(ordered),
            "rounds": len(ordered),
            "ops_per_call": 1,
            "nbytes": nbytes,
        }

    return record


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------


def _gbps(case: dict[str, Any] | None) -> float | None:
    if not case or not case.get("nbytes"):
        return None
    return case["nbytes"] / case["median_s"] / 1e9


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _summary(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of (what, value, unit, target, meets) computed from the same run's cases."""
    rows: list[dict[str, Any]] = []

    def add(what: str, value: float | None, unit: str, target: str = "", meets=None) -> None:
        if value is not None:
            rows.append(
                {"what": what, "value": value, "unit": unit, "target": target, "meets": meets}
            )

    def speedup(what: str, case: str) -> None:
        nat, py = results.get(f"{case}/native"), results.get(f"{case}/reference")
        if nat and py:
            add(f"{what}: native vs reference", py["median_s"] / nat["median_s"], "x faster")

    crc = _gbps(results.get("crc32c/native"))
    add(
        "crc32c 1 MiB: native",
        crc,
        "GB/s",
        f">= {CRC_TARGET_GBPS:g} GB/s",
        None if crc is None else crc >= CRC_TARGET_GBPS,
    )
    add("crc32c 1 MiB: reference", _gbps(results.get("crc32c/reference")), "GB/s")
    speedup("crc32c 1 MiB", "crc32c")
    for codec in CODECS:
        for op in ("compress", "decompress"):
            add(f"{codec} {op} 1 MiB: native", _gbps(results.get(f"{op}-{codec}/native")), "GB/s")
            speedup(f"{codec} {op} 1 MiB", f"{op}-{codec}")
    speedup("build 1000 x 100 B", "build")
    speedup("decode 1000 x 100 B", "decode")
    for case, what in (("build/native", "build"), ("decode/native", "decode")):
        if case in results:
            add(f"{what} 1000 x 100 B: native", results[case]["median_s"] * 1e6, "µs/batch")

    append, limit = _gbps(results.get("append/Log.append")), _gbps(results.get("append/os.write"))
    add("Log.append 1 MiB batches", append, "GB/s")
    add("os.write 1 MiB (the limit)", limit, "GB/s")
    share = _ratio(append, limit)
    add(
        "Log.append share of the limit",
        None if share is None else share * 100,
        "%",
        f">= {APPEND_TARGET_SHARE:.0%}",
        None if share is None else share >= APPEND_TARGET_SHARE,
    )

    lookup = results.get("lookup/Log.read")
    if lookup:
        us = lookup["median_s"] * 1e6
        add(
            "index lookup (Log.read, random offset)",
            us,
            "µs/call",
            f"<= {LOOKUP_TARGET_US:g} µs",
            us <= LOOKUP_TARGET_US,
        )
    region = results.get("region/Log.read")
    if region:
        add("read to region (1 MiB, no copy)", region["median_s"] * 1e6, "µs/call")
    copy, pread = _gbps(results.get("copy/FetchInfo.read")), _gbps(results.get("copy/os.pread"))
    add("FetchInfo.read copy", copy, "GB/s")
    add("os.pread of the same bytes (the limit)", pread, "GB/s")
    copy_share = _ratio(copy, pread)
    add("FetchInfo.read share of the limit", None if copy_share is None else copy_share * 100, "%")
    return rows


def _meta() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            check=False,
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        commit = ""
    try:
        from ferrokafka._ferrokafka import __version__ as native_version
    except ImportError:
        native_version = None
    return {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": commit or None,
        "native_version": native_version,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "cpus": os.cpu_count(),
    }


def _write_json(results: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS_PATH.with_suffix(".json.tmp")
    doc = {"meta": _meta(), "summary": rows, "cases": dict(sorted(results.items()))}
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, RESULTS_PATH)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    results = config.stash.get(_RESULTS, {})
    if not results:
        return
    rows = _summary(results)
    tr = terminalreporter
    tr.section("ferrokafka micro benchmarks: ratios from this run (medians)")
    width = max((len(r["what"]) for r in rows), default=10)
    for r in rows:
        verdict = {True: "meets", False: "MISSES", None: ""}[r["meets"]]
        target = f"target {r['target']}  {verdict}" if r["target"] else ""
        tr.write_line(f"{r['what']:<{width}}  {r['value']:>10.3f} {r['unit']:<9} {target}".rstrip())
    _write_json(results, rows)
    tr.write_line(f"written to {RESULTS_PATH}")
