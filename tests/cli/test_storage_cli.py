"""`ferrokafka storage random-uuid | format | info`, and `ferrokafka serve --config` refusing
directories nobody formatted. Kafka's own tools against these directories (and ours against
Kafka's): tests/interop/test_storage_format_kafka.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ferrokafka.cluster.snapshot_file import BOOTSTRAP_SNAPSHOT_ID, read_snapshot
from ferrokafka.cluster.storage_format import FormatError, parse_initial_controllers
from ferrokafka.storage.checkpoints import (
    MetaProperties,
    kafka_uuid_string,
    parse_kafka_uuid,
    read_meta_properties,
    write_meta_properties,
)
from ferrokafka_cli.main import cli

REPO = Path(__file__).resolve().parents[2]
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qk"
SERVE = [sys.executable, "-c", "from ferrokafka_cli.main import main; main()", "serve"]
SERVE_TIMEOUT_S = 60.0


def storage(*args: str) -> Result:
    return CliRunner().invoke(cli, ["storage", *args])


def write_config(tmp_path: Path, *, quorum: str, roles: str = "broker,controller") -> Path:
    """Two data dirs and a separate metadata dir, so every directory kind is formatted."""
    path = tmp_path / "server.properties"
    path.write_text(
        f"process.roles={roles}\n"
        "node.id=1\n"
        f"{quorum}\n"
        "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"
        "controller.listener.names=CONTROLLER\n"
        f"log.dirs={tmp_path / 'd1'},{tmp_path / 'd2'}\n"
        f"metadata.log.dir={tmp_path / 'meta'}\n"
    )
    return path


@pytest.fixture
def dynamic_config(tmp_path: Path) -> Path:
    return write_config(tmp_path, quorum="controller.quorum.bootstrap.servers=127.0.0.1:9093")


def test_random_uuid_is_a_kafka_uuid() -> None:
    seen = set()
    for _ in range(50):
        result = storage("random-uuid")
        assert result.exit_code == 0
        text = result.output.strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", text) and not text.startswith("-")
        value = parse_kafka_uuid(text)
        assert value.int >> 64 != 0 or value.int >= 100  # never a reserved id
        assert kafka_uuid_string(value) == text
        seen.add(text)
    assert len(seen) == 50


def test_format_standalone(tmp_path: Path, dynamic_config: Path) -> None:
    result = storage("format", "-t", CLUSTER_ID, "-c", str(dynamic_config), "--standalone")
    assert result.exit_code == 0, result.output
    assert f"Formatting dynamic metadata voter directory {tmp_path / 'meta'}" in result.output
    metas = {
        name: read_meta_properties(tmp_path / name / "meta.properties")
        for name in ("d1", "d2", "meta")
    }
    assert {(m.cluster_id, m.node_id, m.version) for m in metas.values() if m} == {
        (CLUSTER_ID, 1, 1)
    }
    directory_ids = {m.directory_id for m in metas.values() if m}
    assert len(directory_ids) == 3  # a fresh id per directory
    assert not (tmp_path / "d1" / "__cluster_metadata-0").exists()
    snapshot = read_snapshot(
        tmp_path / "meta" / "__cluster_metadata-0" / BOOTSTRAP_SNAPSHOT_ID.file_name
    )
    assert snapshot.kraft_version == 1
    assert snapshot.voters is not None and len(snapshot.voters.voters) == 1
    voter = snapshot.voters.voters[0]
    assert (voter.voter_id, voter.endpoints[0].host, voter.endpoints[0].port) == (
        1,
        "127.0.0.1",
        9093,
    )
    # The voter's directory id is the metadata directory's.
    assert kafka_uuid_string(voter.voter_directory_id) == metas["meta"].directory_id
    levels = {m.name: m.feature_level for m in snapshot.messages()}
    assert levels["metadata.version"] == 33

    info = storage("info", "-c", str(dynamic_config))
    assert info.exit_code == 0, info.output
    assert info.output.startswith("Found log directories:\n")
    assert f"  {tmp_path / 'meta'}\n" in info.output
    assert f"Found metadata: {{cluster.id={CLUSTER_ID}, directory.id=" in info.output


def test_format_initial_controllers_as_a_non_voter(tmp_path: Path, dynamic_config: Path) -> None:
    voters = "2@127.0.0.1:9094:MvDxzVmcRsaTz33bUuRU6A,3@[::1]:9095:jyUakS24TDWvo2MOs588CQ"
    result = storage("format", "-t", CLUSTER_ID, "-c", str(dynamic_config), "-I", voters)
    assert result.exit_code == 0, result.output
    assert "Formatting dynamic metadata directory" in result.output
    snapshot = read_snapshot(
        tmp_path / "meta" / "__cluster_metadata-0" / BOOTSTRAP_SNAPSHOT_ID.file_name
    )
    assert snapshot.voters is not None
    assert [(v.voter_id, v.endpoints[0].host) for v in snapshot.voters.voters] == [
        (2, "127.0.0.1"),
        (3, "::1"),
    ]


def test_format_static_quorum_needs_no_flag(tmp_path: Path) -> None:
    config = write_config(tmp_path, quorum="controller.quorum.voters=1@127.0.0.1:9093")
    result = storage(
        "format", "-t", CLUSTER_ID, "-c", str(config), "-r", "3.9", "-f", "group.version=1"
    )
    assert result.exit_code == 0, result.output
    assert (
        f"Formatting metadata directory {tmp_path / 'meta'} with metadata.version 3.9-IV0."
        in result.output
    )
    snapshot = read_snapshot(
        tmp_path / "meta" / "__cluster_metadata-0" / BOOTSTRAP_SNAPSHOT_ID.file_name
    )
    assert snapshot.kraft_version == 0 and snapshot.voters is None
    assert [(m.name, m.feature_level) for m in snapshot.messages()] == [
        ("metadata.version", 21),
        ("group.version", 1),
    ]


def test_already_formatted(tmp_path: Path, dynamic_config: Path) -> None:
    args = ("format", "-t", CLUSTER_ID, "-c", str(dynamic_config), "--standalone")
    assert storage(*args).exit_code == 0
    before = (tmp_path / "d1" / "meta.properties").read_bytes()
    again = storage(*args)
    assert again.exit_code == 1
    assert again.output.strip() == (
        f"Log directory {tmp_path / 'd1'} is already formatted. Use --ignore-formatted to "
        "ignore this directory and format the others."
    )
    ignored = storage(*args, "--ignore-formatted")
    assert (
        ignored.exit_code == 0
        and "All of the log directories are already formatted." in ignored.output
    )
    assert (tmp_path / "d1" / "meta.properties").read_bytes() == before
    # A directory added later is formatted with the others' identity; the others are kept.
    (tmp_path / "meta" / "meta.properties").unlink()
    added = storage(*args, "--ignore-formatted")
    assert added.exit_code == 0 and "meta" in added.output
    assert (tmp_path / "d1" / "meta.properties").read_bytes() == before
    other = storage("format", "-t", "vjzAMwNFTdSJRGsyBEnyKg", "-c", str(dynamic_config), "-s", "-g")
    assert other.exit_code == 1
    assert (
        "Invalid cluster.id in: " in other.output
        and "Expected vjzAMwNFTdSJRGsyBEnyKg" in other.output
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Missing option '--cluster-id' / '-t'"),
        (
            ["-t", "not-a-uuid", "--standalone"],
            "Cluster ID string not-a-uuid does not appear to be a valid UUID",
        ),
        (
            [
                "-t",
                CLUSTER_ID,
                "--standalone",
                "--initial-controllers",
                "1@127.0.0.1:9093:MvDxzVmcRsaTz33bUuRU6A",
            ],
            "Only one of --standalone, --initial-controllers and --no-initial-controllers",
        ),
        (["-t", CLUSTER_ID], "Because controller.quorum.voters is not set on this controller"),
        (["-t", CLUSTER_ID, "-I", "1@127.0.0.1:9093:bad"], "Failed to parse directory ID"),
        (["-t", CLUSTER_ID, "-s", "-f", "foo=1"], "Unsupported feature: foo"),
        (["-t", CLUSTER_ID, "-s", "-r", "9.9"], "Unknown metadata.version '9.9'"),
        (
            ["-t", CLUSTER_ID, "-s", "-r", "3.4-IV0", "-S", "SCRAM-SHA-256=[name=a,password=b]"],
            "SCRAM is only supported in metadata.version 3.5-IV2 or later.",
        ),
        (["-t", CLUSTER_ID, "-s", "-S", "SCRAM-SHA-1=[name=a,password=b]"], "is not supported."),
    ],
)
def test_bad_format_input(
    tmp_path: Path, dynamic_config: Path, args: list[str], message: str
) -> None:
    result = storage("format", "-c", str(dynamic_config), *args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "d1").exists()  # nothing written


def test_static_voters_refuse_dynamic_flags(tmp_path: Path) -> None:
    config = write_config(tmp_path, quorum="controller.quorum.voters=1@127.0.0.1:9093")
    result = storage("format", "-t", CLUSTER_ID, "-c", str(config), "--standalone")
    assert result.exit_code == 1
    assert "You cannot specify controller.quorum.voters and format the node with" in result.output
    kraft = storage("format", "-t", CLUSTER_ID, "-c", str(config), "-f", "kraft.version=1")
    assert kraft.exit_code == 1 and "Cannot set kraft.version to 1 unless" in kraft.output


def test_info_reports_problems(tmp_path: Path, dynamic_config: Path) -> None:
    result = storage("info", "-c", str(dynamic_config))
    assert result.exit_code == 1
    assert "Found problems:\n" in result.output
    assert f"  {tmp_path / 'd1'} does not exist\n" in result.output
    assert storage("format", "-t", CLUSTER_ID, "-c", str(dynamic_config), "-s").exit_code == 0
    other = MetaProperties("vjzAMwNFTdSJRGsyBEnyKg", 1, "H3BlX5APM3KhVld4JVE-ug")
    write_meta_properties(tmp_path / "d2" / "meta.properties", other)
    mismatched = storage("info", "-c", str(dynamic_config))
    assert mismatched.exit_code == 1
    assert (
        "Found problem:\n  Mismatched cluster IDs between storage directories.\n"
        in mismatched.output
    )


def run_serve(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SERVE, "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=SERVE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_serve_refuses_unformatted_or_mismatched_dirs(tmp_path: Path, dynamic_config: Path) -> None:
    proc = run_serve(dynamic_config)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == (
        f"ferrokafka serve: cannot start: No `meta.properties` found in {tmp_path / 'd1'} "
        "(have you run `ferrokafka storage format` to format the directory?)"
    )
    assert storage("format", "-t", CLUSTER_ID, "-c", str(dynamic_config), "-s").exit_code == 0
    meta = read_meta_properties(tmp_path / "d2" / "meta.properties")
    assert meta is not None
    write_meta_properties(
        tmp_path / "d2" / "meta.properties", MetaProperties(CLUSTER_ID, 7, meta.directory_id)
    )
    proc = run_serve(dynamic_config)
    assert proc.returncode == 1, proc.stderr
    assert "Stored node id 7 doesn't match previous node id 1 in" in proc.stderr
    assert "Traceback" not in proc.stderr
    write_meta_properties(
        tmp_path / "d2" / "meta.properties",
        MetaProperties("vjzAMwNFTdSJRGsyBEnyKg", 1, meta.directory_id),
    )
    proc = run_serve(dynamic_config)
    assert proc.returncode == 1 and "Invalid cluster.id in: " in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "No voters given."),
        ("x", "No @ found in dynamic voter string."),
        ("@h:9:MvDxzVmcRsaTz33bUuRU6A", "Invalid @ at beginning of dynamic voter string."),
        ("a@h:9:MvDxzVmcRsaTz33bUuRU6A", "Failed to parse node id in dynamic voter string."),
        ("1@[::1:9:x", "Hostname began with left bracket, but no right bracket was found."),
        ("1@h", "No colon following hostname could be found."),
        ("1@h:9", "No colon following port could be found."),
        ("1@h:70000:MvDxzVmcRsaTz33bUuRU6A", "Invalid port 70000 in dynamic voter string."),
        ("1@h:9:MvDxzVmcRsaTz33bUuRU6A,1@g:9:jyUakS24TDWvo2MOs588CQ", "Node id 1 was specified"),
    ],
)
def test_initial_controllers_are_parsed_as_kafka_does(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=re.escape(message)):
        parse_initial_controllers(text)
