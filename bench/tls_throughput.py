"""Produce and consume MB/s over SSL vs PLAINTEXT, on ferrokafka and (``--kafka``) Apache
Kafka, each in its own process with one PLAINTEXT and one SSL listener (issue 18's cost).

    PYTHONPATH=python:.:tests python -m bench.tls_throughput [--mb 64] [--kafka]

librdkafka (confluent-kafka) produces ``--mb`` MB of 1 KiB records (acks=1, lz4 off) to a
one-partition topic per case, then a consumer reads them back from offset 0; each figure is
bytes / wall time. TLS uses the keystores of tests/security (P-256 ECDSA, TLS 1.3,
AES-GCM), no client certificate. Figures go to stdout as one JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import confluent_kafka
from bench.compare.brokers import ApacheKafka, Ferrokafka, free_loopback_port
from confluent_kafka.admin import AdminClient, NewTopic
from tests.security.certs import PASSWORD, issue, make_authority

RECORD_BYTES = 1024
SEGMENT_BYTES = 1 << 30
START_TIMEOUT_S = 120.0
CLIENT_TIMEOUT_S = 300.0
MB = 1 << 20


def tls_settings(directory: Path) -> tuple[dict[str, str], Path]:
    ca = make_authority(directory)
    broker = issue(ca, directory, "broker", "CN=broker,O=bench", server=True)
    return {
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL",
        "listener.name.ssl.ssl.keystore.type": "PKCS12",
        "listener.name.ssl.ssl.keystore.location": str(broker.p12),
        "listener.name.ssl.ssl.keystore.password": PASSWORD,
    }, ca.pem


class TlsFerrokafka(Ferrokafka):
    def __init__(self, work_dir: Path, settings: dict[str, str]) -> None:
        super().__init__(work_dir, segment_bytes=SEGMENT_BYTES, start_timeout_s=START_TIMEOUT_S)
        self.ssl_port = free_loopback_port()
        self.settings.update(settings)
        self.settings["advertised.listeners"] = (
            f"PLAINTEXT://127.0.0.1:{self.port},SSL://127.0.0.1:{self.ssl_port}"
        )

    def _command(self) -> list[str]:
        command = super()._command()
        at = command.index("--listeners") + 1
        command[at] += f",SSL://127.0.0.1:{self.ssl_port}"
        return command


class TlsKafka(ApacheKafka):
    def __init__(self, work_dir: Path, settings: dict[str, str]) -> None:
        super().__init__(work_dir, segment_bytes=SEGMENT_BYTES, start_timeout_s=START_TIMEOUT_S)
        self.ssl_port = free_loopback_port()
        self.extra_config.update(settings)

    def _write_config(self) -> None:
        self.extra_config["listeners"] = (
            f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port},"
            f"SSL://127.0.0.1:{self.ssl_port}"
        )
        self.extra_config["advertised.listeners"] = (
            f"PLAINTEXT://127.0.0.1:{self.port},SSL://127.0.0.1:{self.ssl_port}"
        )
        super()._write_config()


def run_case(plain: str, client: dict[str, Any], total_mb: int) -> dict[str, float]:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": plain})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(60)
    records = total_mb * MB // RECORD_BYTES
    value = b"x" * RECORD_BYTES
    producer = confluent_kafka.Producer({
        **client, "acks": "1", "linger.ms": 5, "batch.size": 1 << 20,
        "queue.buffering.max.kbytes": 1 << 20,
    })  # fmt: skip
    started = time.monotonic()
    for _ in range(records):
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:
                producer.poll(0.01)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0, "produce did not finish"
    produce_s = time.monotonic() - started
    consumer = confluent_kafka.Consumer({
        **client, "group.id": topic, "enable.auto.commit": False,
        "fetch.max.bytes": 50 * MB, "max.partition.fetch.bytes": 8 * MB,
    })  # fmt: skip
    consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
    got = 0
    started = time.monotonic()
    deadline = started + CLIENT_TIMEOUT_S
    while got < records and time.monotonic() < deadline:
        for message in consumer.consume(10_000, 1.0):
            if message.error() is None:
                got += 1
    consume_s = time.monotonic() - started
    consumer.close()
    assert got == records, f"consumed {got} of {records}"
    return {
        "produce_mb_s": round(total_mb / produce_s, 1),
        "consume_mb_s": round(total_mb / consume_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--kafka", action="store_true", help="also run Apache Kafka")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tls-bench-") as tmp:
        work = Path(tmp)
        settings, ca_pem = tls_settings(work / "pki")
        kinds: list[tuple[str, Any]] = [("ferrokafka", TlsFerrokafka)]
        if args.kafka:
            kinds.append(("kafka", TlsKafka))
        for name, kind in kinds:
            broker = kind(work / name, settings)
            broker.start()
            try:
                plain = f"127.0.0.1:{broker.port}"
                cases = {
                    "PLAINTEXT": {"bootstrap.servers": plain},
                    "SSL": {
                        "bootstrap.servers": f"127.0.0.1:{broker.ssl_port}",
                        "security.protocol": "SSL",
                        "ssl.ca.location": str(ca_pem),
                    },
                }
                for listener, client in cases.items():
                    figures = run_case(plain, client, args.mb)
                    print(json.dumps({"broker": name, "listener": listener, "mb": args.mb,
                                      **figures}), flush=True)  # fmt: skip
            finally:
                broker.stop()


if __name__ == "__main__":
    main()
