"""The committed messages are exactly what scripts/gen_protocol.py makes from the Kafka jar,
and the API table says what the JSON says."""

from __future__ import annotations

import importlib.util
import io
from contextlib import redirect_stderr
from pathlib import Path
from types import ModuleType

import pytest

from ferrokafka.protocol import APIS, response_header_version, supported_api_versions
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest
from ferrokafka.protocol.messages.delete_groups import DeleteGroupsResponse
from ferrokafka.protocol.messages.txn_offset_commit import (
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from ferrokafka.protocol.schema import VERSION_MAX as LATEST

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "gen_protocol.py"
GENERATED_LINES_MAX = 900


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_protocol", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_from_the_jar_changes_nothing(kafka_classpath: str) -> None:
    errors = io.StringIO()
    try:
        with redirect_stderr(errors):
            status = _generator().main(["--check"])
    except SystemExit as exc:  # no jar: the generator says to run fetch.sh
        pytest.fail(f"cannot regenerate: {exc}", pytrace=False)
    assert status == 0, (
        "generated protocol modules are out of date; run python scripts/gen_protocol.py\n"
        + errors.getvalue()
    )


def test_generated_files_stay_readable_sizes() -> None:
    out_dir = ROOT / "python" / "ferrokafka" / "protocol" / "messages"
    for path in out_dir.glob("*.py"):
        assert len(path.read_text().splitlines()) <= GENERATED_LINES_MAX, path


def test_comment_stripping_keeps_slashes_inside_strings() -> None:
    gen = _generator()
    text = '// licence\n{"a": "http://x/*y*/", /* note */ "b": 1} // end\n'
    assert gen.strip_comments(text) == '\n{"a": "http://x/*y*/",  "b": 1} \n'


def test_api_table() -> None:
    assert APIS[0].name == "Produce" and (APIS[0].min_version, APIS[0].max_version) == (3, 13)
    assert APIS[18].listeners == ("broker", "controller")
    assert APIS[0].listeners == ("broker",)
    assert "controller" in APIS[55].listeners  # DescribeQuorum
    # ZooKeeper-era APIs with validVersions "none" (LeaderAndIsr, ...) are not spoken.
    assert 4 not in APIS and 7 not in APIS
    # InitProducerId's latest version is unstable: not advertised.
    assert APIS[22].latest_version_unstable
    assert APIS[22].max_stable_version == APIS[22].max_version - 1
    advertised = dict((key, (lo, hi)) for key, lo, hi in supported_api_versions("broker"))
    assert advertised[18] == (0, 5) and 22 in advertised and 55 in advertised
    assert advertised[0] == (0, 13)  # Produce claims v0 for librdkafka (KAFKA-18659)
    assert all("broker" in APIS[key].listeners for key in advertised)


def test_kafka_4_4_schema_changes() -> None:
    """What Kafka 4.4's JSON changed: ApiVersions v5 names the cluster and node (KIP-1242),
    TxnOffsetCommit v6 names topics by id only (KIP-1319), DeleteGroups v3 adds a per-group
    error message."""

    def versions(cls: type, name: str) -> tuple[int, int]:
        return next(f.versions for f in cls.SCHEMA if f.name == name)

    assert APIS[18].valid_versions == (0, 5)
    assert versions(ApiVersionsRequest, "cluster_id") == (5, LATEST)
    assert versions(ApiVersionsRequest, "node_id") == (5, LATEST)
    assert APIS[28].valid_versions == (0, 6)
    for topic in (
        TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic,
        TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic,
    ):
        assert versions(topic, "name") == (0, 5)
        assert versions(topic, "topic_id") == (6, LATEST)
    assert versions(TxnOffsetCommitRequest, "generation_id_or_member_epoch") == (3, LATEST)
    assert APIS[42].valid_versions == (0, 3)
    assert versions(DeleteGroupsResponse.DeletableGroupResult, "error_message") == (3, LATEST)


def test_response_header_versions() -> None:
    assert response_header_version(18, 4) == 0  # ApiVersions: always header v0
    assert response_header_version(3, 8) == 0 and response_header_version(3, 9) == 1
