"""What the metrics endpoint costs the produce path: ``python -m bench.metrics_cost``.

Starts ``ferrokafka serve`` without and with ``--metrics-port``, alternately, and drives each
with pipelined small Produce requests (acks=1, one 100-byte record per batch) on one raw
connection; reports the broker process's CPU time per request (from /proc, so the client's
own CPU is not counted) and the wall time, per run. Prometheus is not scraping meanwhile
(a scrape is a separate, bounded cost: see the README). Not a test: no assertion.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ferrokafka.protocol import RequestHeader, encode_request
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.storage import BatchBuilder

REPO = Path(__file__).resolve().parents[1]
TOPIC = "cost"
PIPELINE = 32  # requests in flight on the connection
START_WAIT_S = 60.0
STOP_TIMEOUT_S = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _frame(correlation_id: int, batch: bytes) -> bytes:
    header = RequestHeader(
        request_api_key=0, request_api_version=9, correlation_id=correlation_id, client_id="b"
    )
    request = ProduceRequest(
        acks=1,
        timeout_ms=30_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=TOPIC,
                partition_data=[ProduceRequest.PartitionProduceData(index=0, records=batch)],
            )
        ],
    )
    return bytes(encode_request(header, request))


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _read_responses(sock: socket.socket, count: int) -> None:
    buffered = b""
    for _ in range(count):
        while len(buffered) < 4 or len(buffered) < 4 + int.from_bytes(buffered[:4], "big"):
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            buffered += chunk
        buffered = buffered[4 + int.from_bytes(buffered[:4], "big") :]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_once(requests: int, metrics: bool, work: Path, repo: Path = REPO) -> tuple[float, float]:
    """(broker CPU us per request, wall us per request) of one fresh broker."""
    port = _port()
    args = [
        sys.executable,
        "-c",
        "from ferrokafka_cli.main import main; main()",
        "serve",
        "--listeners",
        f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:0",
        "--log-dirs",
        str(work),
    ]
    if metrics:
        args += ["--metrics-port", str(_port())]
    # This tree runs as the caller imports it (the installed wheel in CI); another tree (the
    # baseline) from its own source, its native module copied in.
    env = dict(os.environ)
    if repo.resolve() != REPO:
        env["PYTHONPATH"] = f"{repo / 'python'}:{repo}"
    broker = subprocess.Popen(args, cwd=repo, env=env, stdout=subprocess.PIPE)
    try:
        assert broker.stdout is not None
        deadline = time.monotonic() + START_WAIT_S
        while b"listening on" not in broker.stdout.readline():
            if time.monotonic() > deadline or broker.poll() is not None:
                raise RuntimeError("ferrokafka serve did not start")
        builder = BatchBuilder()
        builder.append(b"v" * 100)
        batch = builder.build()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(_frame(0, batch))  # auto-creates the topic
            _read_responses(sock, 1)
            time.sleep(1.0)
            frames = [_frame(i + 1, batch) for i in range(PIPELINE)]
            cpu_before, wall_before = _cpu_s(broker.pid), time.perf_counter()
            for _ in range(requests // PIPELINE):
                sock.sendall(b"".join(frames))
                _read_responses(sock, PIPELINE)
            wall = time.perf_counter() - wall_before
            cpu = _cpu_s(broker.pid) - cpu_before
        done = requests // PIPELINE * PIPELINE
        return cpu / done * 1e6, wall / done * 1e6
    finally:
        broker.terminate()
        broker.wait(STOP_TIMEOUT_S)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_cost")
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a source tree without the metrics hooks (e.g. a `git archive` of an older commit "
        "with the native module copied in), run as a third variant",
    )
    args = parser.parse_args()
    variants = [("off", REPO, False), ("on", REPO, True)]
    if args.baseline is not None:
        variants.insert(0, ("baseline", args.baseline.resolve(), False))
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in variants}
    for round_ in range(args.rounds):
        for name, repo, metrics in variants:
            with tempfile.TemporaryDirectory(prefix="metrics-cost-") as tmp:
                cpu, wall = run_once(args.requests, metrics, Path(tmp), repo)
            results[name].append((cpu, wall))
            print(
                f"round {round_} {name}: broker CPU {cpu:.1f} us/request, "
                f"wall {wall:.1f} us/request",
                flush=True,
            )
    for name, runs in results.items():
        cpus = sorted(cpu for cpu, _ in runs)
        walls = sorted(wall for _, wall in runs)
        print(
            f"{name}: median broker CPU {cpus[len(cpus) // 2]:.1f} us/request, median wall "
            f"{walls[len(walls) // 2]:.1f} us/request over {len(runs)} runs"
        )


if __name__ == "__main__":
    main()
