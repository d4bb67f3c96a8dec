"""The first active controller of a formatted cluster writes the bootstrap snapshot's feature
levels (cluster/bootstrap.py): metadata.version as formatted, the features ferrokafka lacks
left at 0, an unsupported metadata.version refused in one line; without a snapshot (the
single node) metadata.version 30 and transaction.version 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferrokafka.cluster import Controller, SingleVoterLog
from ferrokafka.cluster.bootstrap import BootstrapError, read_bootstrap_levels
from ferrokafka.cluster.controller import METADATA_VERSION_LEVEL
from ferrokafka.cluster.feature_levels import effective_levels
from ferrokafka.cluster.metadata_log import METADATA_PARTITION_DIR
from ferrokafka.cluster.records import FeatureLevelRecord
from ferrokafka.cluster.snapshot_file import BOOTSTRAP_SNAPSHOT_ID, write_snapshot
from ferrokafka.config import load_broker_config


def _format(metadata_dir: Path, records: list[FeatureLevelRecord]) -> None:
    write_snapshot(
        metadata_dir / METADATA_PARTITION_DIR,
        records,
        snapshot_id=BOOTSTRAP_SNAPSHOT_ID,
        last_contained_log_timestamp_ms=0,
    )


def test_kafka_44_defaults_keep_what_we_support(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    levels = effective_levels(None, {}, dynamic_quorum=False)  # what `storage format` writes
    _format(tmp_path, levels.bootstrap_records())
    found = read_bootstrap_levels(tmp_path)
    assert found == {
        "metadata.version": 33,
        "group.version": 1,
        "eligible.leader.replicas.version": 1,
        "share.version": 2,
        "transaction.version": 2,
    }
    assert list(found)[0] == "metadata.version"
    assert "streams.version" in caplog.text
    for kept in ("share.version", "eligible.leader.replicas.version"):
        assert kept not in caplog.text
    assert "transaction.version" not in caplog.text


def test_unsupported_metadata_version_is_refused(tmp_path: Path) -> None:
    _format(tmp_path, [FeatureLevelRecord(name="metadata.version", feature_level=34)])
    with pytest.raises(BootstrapError, match="metadata.version 34; this controller supports 7"):
        read_bootstrap_levels(tmp_path)


def test_no_snapshot_is_none(tmp_path: Path) -> None:
    assert read_bootstrap_levels(tmp_path) is None


@pytest.mark.parametrize("formatted", [True, False])
def test_controller_bootstraps_at_the_formatted_levels(tmp_path: Path, formatted: bool) -> None:
    data = tmp_path / "data"
    if formatted:
        _format(data, effective_levels("4.4-IV2", {}, dynamic_quorum=False).bootstrap_records())
    config = load_broker_config(None, {"log.dirs": str(data)})
    log = SingleVoterLog(data)
    try:
        controller = Controller(config, log, bootstrap_levels=read_bootstrap_levels(data))
        image = controller.start()
        if formatted:
            assert image.features == {
                "metadata.version": 33,
                "group.version": 1,
                "eligible.leader.replicas.version": 1,
                "share.version": 2,
                "transaction.version": 2,
            }
        else:
            # An unformatted controller: metadata.version alone (the single node of
            # ``ferrokafka serve`` passes its own levels, transaction.version 2 among them).
            assert image.features == {"metadata.version": METADATA_VERSION_LEVEL}
    finally:
        log.close()
