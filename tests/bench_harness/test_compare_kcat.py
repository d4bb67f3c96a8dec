"""The harness's kcat workloads against a real broker (ferrokafka in-process): kcat (Debian's
librdkafka in C) writes a file of records and reads them back, and the harness's checks of the
count and the value size fail when kcat did not deliver what was asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.compare.brokers import create_topic
from bench.compare.clients import WorkloadError
from bench.compare.kcat import kcat_consume, kcat_produce, write_records_file
from bench.compare.plan import ProduceCase

from ferrokafka.testing import run_broker

RECORDS = 3_000
RECORD_SIZE = 100
PARTITIONS = 2
WORKLOAD_TIMEOUT_S = 60.0


def test_records_file_has_one_line_of_record_size_bytes_per_record(tmp_path: Path) -> None:
    path = write_records_file(tmp_path / "records", 70_000, 7)
    data = path.read_bytes()
    assert len(data) == 70_000 * 8
    assert data == b"xxxxxxx\n" * 70_000


def test_kcat_produces_and_consumes_every_record(tmp_path: Path) -> None:
    case = ProduceCase(RECORD_SIZE, "1", "none", PARTITIONS, RECORDS)
    with run_broker(tmp_path / "data") as broker:
        boot = broker.bootstrap_servers
        create_topic(boot, "kcat-test", PARTITIONS)
        produced = kcat_produce(boot, "kcat-test", case, tmp_path, WORKLOAD_TIMEOUT_S)
        assert produced["records"] == RECORDS
        assert produced["bytes"] == RECORDS * RECORD_SIZE and produced["mb_per_s"] > 0
        assert not list(tmp_path.glob("*.records"))  # the input file is removed

        consumed = kcat_consume(boot, "kcat-test", RECORDS, RECORD_SIZE, WORKLOAD_TIMEOUT_S)
        assert consumed["records"] == RECORDS and consumed["mb_per_s"] > 0
        for figures in (produced, consumed):
            assert 0 < figures["client_cpu_s"] < 2 * figures["seconds"] + 1.0

        # kcat stops at the end of the partitions (-e): one record short is reported.
        with pytest.raises(WorkloadError, match=f"printed {RECORDS} records"):
            kcat_consume(boot, "kcat-test", RECORDS + 1, RECORD_SIZE, WORKLOAD_TIMEOUT_S)
        # Values of another size than the plan's are not counted as its records.
        with pytest.raises(WorkloadError, match=f"\\(0 of {RECORD_SIZE + 1} B\\)"):
            kcat_consume(boot, "kcat-test", RECORDS, RECORD_SIZE + 1, WORKLOAD_TIMEOUT_S)

        # A topic that already holds records: the end offsets no longer match the count.
        with pytest.raises(WorkloadError, match=f"holds {2 * RECORDS} of {RECORDS}"):
            kcat_produce(boot, "kcat-test", case, tmp_path, WORKLOAD_TIMEOUT_S)


def test_kcat_produce_refuses_a_codec_it_is_not_run_with(tmp_path: Path) -> None:
    case = ProduceCase(RECORD_SIZE, "1", "zstd", 1, 10)
    with pytest.raises(WorkloadError, match="uncompressed only"):
        kcat_produce("127.0.0.1:1", "t", case, tmp_path, WORKLOAD_TIMEOUT_S)
