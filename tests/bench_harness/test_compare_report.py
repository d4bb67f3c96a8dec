"""The comparison harness's arithmetic on a made-up run: medians, spreads, ratios, shares of
the limit, failed workloads kept with their error, and the markdown and charts built from it."""

from __future__ import annotations

import json
from pathlib import Path

from bench.compare import charts, report
from bench.compare.plan import PLANS, quick_plan


def _entry(kind: str, **figures: float) -> dict:
    return {"kind": kind, "ok": True, "figures": figures, "broker_cpu_s_per_gb": 2.0}


def _run(broker: str, repetition: int, mb_per_s: float, p99: float, failed: bool) -> dict:
    consume = (
        {"kind": "consume", "ok": False, "error": "WorkloadError: no FIND_COORDINATOR"}
        if failed
        else _entry("consume", mb_per_s=mb_per_s * 2, bytes=1_000)
    )
    return {
        "broker": broker,
        "repetition": repetition,
        "start_s": 1.0 + repetition,
        "restart_s": 2.0,
        "rss_peak_bytes": 100 * report.MB,
        "data_bytes": 10**9,
        "workloads": {
            "produce 100B": _entry("produce", mb_per_s=mb_per_s, latency_p99_ms=p99, bytes=1_000),
            "consume group": consume,
            "fill before restart": _entry("fill", mb_per_s=1.0, bytes=1_000),
            "latency": _entry(
                "latency", latency_p50_ms=1.0, latency_p99_ms=p99, latency_p999_ms=p99 * 2
            ),
        },
    }


def _doc() -> dict:
    runs = [
        _run("kafka", 0, 100.0, 10.0, failed=False),
        _run("ferrokafka", 0, 150.0, 5.0, failed=True),
        _run("ferrokafka", 1, 250.0, 7.0, failed=True),
        _run("kafka", 1, 300.0, 30.0, failed=False),
        _run("kafka", 2, 200.0, 20.0, failed=False),
    ]
    limits = [
        {"loopback_tcp": {"mb_per_s": 1000.0}, "disk_write": {"mb_per_s": 400.0}},
        {"loopback_tcp": {"mb_per_s": 3000.0}, "disk_write": {"error": "OSError: full"}},
    ]
    meta = {
        "kafka_version": "4.3.1",
        "when": "now",
        "git_commit": "abc",
        "cpus": 2,
        "system": "Linux",
        "total_s": 12.0,
    }
    return {
        "meta": meta,
        "plan": {"mode": "unit", "repetitions": 3},
        "limits": limits,
        "runs": runs,
    }


def _row(rows: list[dict], workload: str, metric: str) -> dict:
    return next(r for r in rows if r["workload"] == workload and r["metric"] == metric)


def test_median_spread_ratio_and_share() -> None:
    rows = report.summarize(_doc())
    produce = _row(rows, "produce 100B", "throughput")
    assert produce["kafka"]["spread"] == {"median": 200.0, "min": 100.0, "max": 300.0, "n": 3}
    assert produce["ferrokafka"]["spread"]["median"] == 200.0  # of 150 and 250
    assert produce["ratio"] == 1.0
    # Produce is measured against the disk limit (one valid sample: 400 MB/s).
    assert produce["kafka"]["share_of_limit"] == 0.5
    p99 = _row(rows, "produce 100B", "producer p99")
    assert p99["ratio"] == 6.0 / 20.0
    assert "share_of_limit" not in p99["kafka"]


def test_failed_workload_is_kept_with_its_error() -> None:
    rows = report.summarize(_doc())
    consume = _row(rows, "consume group", "throughput")
    assert consume["ferrokafka"]["spread"] is None
    assert consume["ferrokafka"]["failed"] == 2
    assert "FIND_COORDINATOR" in consume["ferrokafka"]["error"]
    assert consume["ratio"] is None
    # Consume against loopback: median of 1000 and 3000; Kafka's median is 2 x 200.
    assert consume["kafka"]["share_of_limit"] == 400.0 / 2000.0
    text = report.markdown(_doc(), rows)
    assert "failed (2/2)" in text
    assert "consume group on ferrokafka: `WorkloadError: no FIND_COORDINATOR`" in text


def test_fill_before_restart_is_kept_but_not_summarized() -> None:
    rows = report.summarize(_doc())
    assert not [r for r in rows if r["workload"] == "fill before restart"]
    assert {r["workload"] for r in rows} == {"produce 100B", "consume group", "latency", "broker"}


def test_a_figure_no_run_reports_has_no_row() -> None:
    doc = _doc()
    for run in doc["runs"]:
        del run["workloads"]["produce 100B"]["figures"]["latency_p99_ms"]
    rows = report.summarize(doc)
    assert not [
        r for r in rows if r["workload"] == "produce 100B" and r["metric"] == "producer p99"
    ]
    assert _row(rows, "produce 100B", "throughput")["ratio"] == 1.0


def test_broker_rows() -> None:
    rows = report.summarize(_doc())
    start = _row(rows, "broker", "start to ready")
    assert start["kafka"]["spread"]["median"] == 2.0  # 1, 2, 3
    assert start["ferrokafka"]["spread"]["median"] == 1.5  # 1, 2
    assert _row(rows, "broker", "RSS peak (VmHWM)")["kafka"]["spread"]["median"] == 100.0


def test_write_json_markdown_and_charts(tmp_path: Path) -> None:
    doc = _doc()
    rows = report.summarize(doc)
    paths = report.write(doc, rows, tmp_path)
    assert paths["json"].name == "compare-unit.json"
    assert "| produce 100B | throughput (MB/s) | 200 (100–300) |" in paths["markdown"].read_text()
    pngs = charts.write_all(rows, tmp_path, "compare-unit")
    assert [p.name for p in pngs] == [
        f"compare-unit-{name}.png" for name in ("ratios", "throughput", "latency", "resources")
    ]
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_zero_median_has_no_ratio_and_the_charts_are_still_drawn(tmp_path: Path) -> None:
    # A broker CPU reading under one clock tick is zero (a smoke run's few requests): the
    # ratio of a lower-is-better figure would be inverted for the chart, 1 / 0.
    doc = _doc()
    for run in doc["runs"]:
        if run["broker"] == "ferrokafka":
            run["workloads"]["produce 100B"]["broker_cpu_s_per_gb"] = 0.0
    rows = report.summarize(doc)
    cpu = _row(rows, "produce 100B", "broker CPU")
    assert cpu["ferrokafka"]["spread"]["median"] == 0.0
    assert cpu["ratio"] is None
    assert len(charts.write_all(rows, tmp_path, "compare-unit")) == 4


def test_quick_plan_varies_each_axis_and_full_plan_is_the_matrix() -> None:
    quick = quick_plan().produce
    assert {c.record_size for c in quick} == {100, 1024}
    assert {c.acks for c in quick} == {"1", "all"}
    assert {c.codec for c in quick} == {"none", "lz4", "zstd"}
    assert {c.partitions for c in quick} == {1, 6}
    full = PLANS["full"]().produce
    assert len([c for c in full if c.transaction_ms is None]) == 2 * 2 * 3 * 2
    assert len({c.topic for c in full}) == len({c.name for c in full}) == len(full)
    for plan in ("quick", "full", "smoke"):
        [txn] = [c for c in PLANS[plan]().produce if c.transaction_ms is not None]
        assert txn.acks == "all" and txn.name.endswith(f" txn {txn.transaction_ms}ms")


def test_from_json_rebuilds_the_report_without_running(tmp_path: Path) -> None:
    from bench.compare.__main__ import main

    doc = _doc()
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps({**doc, "summary": "stale"}))
    assert main(["--from-json", str(saved), "--out-dir", str(tmp_path / "out")]) == 0
    rebuilt = json.loads((tmp_path / "out" / "compare-unit.json").read_text())
    assert rebuilt["runs"] == doc["runs"]
    assert rebuilt["summary"] == report.summarize(doc)
    assert (tmp_path / "out" / "compare-unit-latency.png").exists()


def test_scaled_plan_keeps_the_matrix_and_shrinks_the_sizes() -> None:
    from bench.compare.plan import full_plan, scaled

    full = full_plan()
    small = scaled(full, 0.01)
    assert small.mode == "full-x0.01"
    assert [c.name for c in small.produce] == [c.name for c in full.produce]
    pairs = zip(small.produce, full.produce, strict=True)
    assert all(s.records == max(1, c.records // 100) for s, c in pairs)
    assert small.kcat_produce is not None and full.kcat_produce is not None
    assert small.kcat_produce.records == full.kcat_produce.records // 100
    assert small.consume_records == full.consume_records // 100
    assert small.restart_bytes == full.restart_bytes // 100
    assert small.repetitions == full.repetitions


def test_consume_rounds_report_the_median_round_and_all_the_bytes() -> None:
    from bench.compare.run import _rounds

    speeds = iter([900.0, 500.0, 700.0])
    calls = []

    def read() -> dict:
        calls.append(1)
        return {"mb_per_s": next(speeds), "bytes": 10, "client_cpu_s": len(calls)}

    figures = _rounds(read, 3)()
    assert len(calls) == 3
    assert figures["mb_per_s"] == 700.0
    assert figures["client_cpu_s"] == 3  # the median round's own figures, not a mix
    assert figures["rounds_mb_per_s"] == [500.0, 700.0, 900.0]
    assert figures["bytes"] == 30  # the broker's CPU per GB is over every round
    assert PLANS["full"]().consume_rounds == 3
    assert _rounds(lambda: {"mb_per_s": 1.0, "bytes": 5}, 1)()["bytes"] == 5
