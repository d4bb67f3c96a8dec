"""Formatting a node's directories, as Apache Kafka 4.4's ``kafka-storage format`` does.

Every directory (``log.dirs`` and ``metadata.log.dir``) gets a ``meta.properties``
(``version=1``, ``cluster.id``, ``node.id`` and a fresh ``directory.id`` each); the metadata
directory also gets the bootstrap snapshot ``__cluster_metadata-0/00000000000000000000-
0000000000.checkpoint``: the feature levels of the chosen release as FeatureLevelRecords and,
for a dynamic quorum (KIP-853), the kraft.version and the initial voter set; then the SCRAM
credentials of ``--add-scram`` (cluster/scram_format.py) as UserScramCredentialRecords.
Kafka 4.4 writes no ``bootstrap.checkpoint`` any more; neither do we.

The rules on which flag is needed when are Kafka's (:func:`check_quorum_flags`), and so are
the messages. Nothing is written before every check passed.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ferrokafka.cluster.feature_levels import (
    FeatureLevelError,
    FeatureLevels,
    effective_levels,
    parse_feature_flag,
)
from ferrokafka.cluster.metadata_log import METADATA_PARTITION_DIR
from ferrokafka.cluster.scram_format import ScramFormatError, parse_add_scram
from ferrokafka.cluster.scram_ops import SCRAM_MIN_METADATA_VERSION
from ferrokafka.cluster.snapshot_file import (
    BOOTSTRAP_SNAPSHOT_ID,
    KRAFT_VERSION_MAX,
    KRAFT_VERSION_MIN,
    write_snapshot,
)
from ferrokafka.config import BrokerConfig
from ferrokafka.protocol.messages.voters_record import VotersRecord
from ferrokafka.protocol.schema import Message
from ferrokafka.storage.checkpoints import (
    META_PROPERTIES,
    MetaProperties,
    kafka_uuid_string,
    parse_kafka_uuid,
    random_directory_id,
    write_meta_properties,
)
from ferrokafka.storage.meta_ensemble import MetaPropertiesError, load_meta_ensemble

PORT_MAX = 65535
INT_MAX = 2**31 - 1
# How many initial controllers one flag may name (a quorum is a handful of nodes; this only
# keeps a mistaken argument from building a huge record).
INITIAL_CONTROLLERS_MAX = 1000


class FormatError(RuntimeError):
    """A format that cannot be done; the message is the one line to print (exit code 1)."""


@dataclass(frozen=True)
class InitialVoter:
    """One ``--initial-controllers`` entry (or the ``--standalone`` voter)."""

    node_id: int
    host: str
    port: int
    directory_id: uuid.UUID


def parse_initial_controllers(text: str) -> dict[int, InitialVoter]:
    """Kafka's DynamicVoters.parse: ``id@host:port:dirid`` entries separated by commas."""
    voters: dict[int, InitialVoter] = {}
    items = [item.strip() for item in text.split(",")]
    if not text.strip():
        raise FormatError("No voters given.")
    if len(items) > INITIAL_CONTROLLERS_MAX:
        raise FormatError(f"More than {INITIAL_CONTROLLERS_MAX} initial controllers.")
    for item in items:
        voter = _parse_voter(item)
        if voter.node_id in voters:
            raise FormatError(f"Node id {voter.node_id} was specified more than once.")
        voters[voter.node_id] = voter
    return voters


def _parse_voter(item: str) -> InitialVoter:
    """One ``id@host:port:dirid`` (``[v6 address]`` for an IPv6 host), with DynamicVoter's
    messages for each way it can be wrong."""
    at = item.find("@")
    if at < 0:
        raise FormatError("No @ found in dynamic voter string.")
    if at == 0:
        raise FormatError("Invalid @ at beginning of dynamic voter string.")
    node_text, rest = item[:at], item[at + 1 :]
    if not re.fullmatch(r"-?[0-9]+", node_text) or abs(int(node_text)) > INT_MAX:
        raise FormatError("Failed to parse node id in dynamic voter string.")
    if int(node_text) < 0:
        raise FormatError(f"Invalid negative node id {node_text} in dynamic voter string.")
    if not rest:
        raise FormatError("No hostname found after node id.")
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            raise FormatError("Hostname began with left bracket, but no right bracket was found.")
        host, rest = rest[1:close], rest[close + 1 :]
        if not rest.startswith(":"):
            raise FormatError("Port section must start with a colon.")
    else:
        colon = rest.find(":")
        if colon < 0:
            raise FormatError("No colon following hostname could be found.")
        host, rest = rest[:colon], rest[colon:]
    rest = rest[1:]
    colon = rest.find(":")
    if colon < 0:
        raise FormatError("No colon following port could be found.")
    port_text, directory_text = rest[:colon], rest[colon + 1 :]
    if not re.fullmatch(r"-?[0-9]+", port_text) or abs(int(port_text)) > INT_MAX:
        raise FormatError("Failed to parse port in dynamic voter string.")
    if not 0 <= int(port_text) <= PORT_MAX:
        raise FormatError(f"Invalid port {port_text} in dynamic voter string.")
    try:
        directory_id = parse_kafka_uuid(directory_text)
    except ValueError:
        raise FormatError("Failed to parse directory ID in dynamic voter string.") from None
    return InitialVoter(int(node_text), host, int(port_text), directory_id)


@dataclass(frozen=True)
class FormatOptions:
    """The flags of ``storage format``."""

    cluster_id: str
    standalone: bool = False
    initial_controllers: str | None = None
    no_initial_controllers: bool = False
    ignore_formatted: bool = False
    release_version: str | None = None
    features: Sequence[str] = field(default_factory=tuple)
    add_scram: Sequence[str] = field(default_factory=tuple)


def check_cluster_id(cluster_id: str) -> None:
    """A cluster id must be a Kafka Uuid string (what ``storage random-uuid`` prints).

    Kafka 3.x's tool refused anything else with this message; Kafka 4.4's accepts any string,
    but a non-Uuid cluster id is a typo or a paste of the wrong value, and an id with '=' or
    spaces would not survive meta.properties, so we keep the 3.x rule."""
    try:
        parse_kafka_uuid(cluster_id)
    except ValueError as exc:
        raise FormatError(
            f"Cluster ID string {cluster_id} does not appear to be a valid UUID: {exc}"
        ) from None


def standalone_voter(config: BrokerConfig) -> InitialVoter:
    """This controller as the only voter, on its first advertised controller listener
    (Kafka's createStandaloneDynamicVoters), with a new directory id."""
    if "controller" not in config.process_roles:
        raise FormatError("You can only use --standalone on a controller.")
    endpoint = controller_endpoint(config)
    if endpoint is None:
        raise FormatError("No controller listeners found.")
    host, port = endpoint
    return InitialVoter(config.node_id, host, port, parse_kafka_uuid(random_directory_id()))


def controller_endpoint(config: BrokerConfig) -> tuple[str, int] | None:
    """Kafka's effectiveAdvertisedControllerListeners.head: the first controller listener as
    advertised (else as bound); an unspecified host is ``localhost``."""
    for name in config.controller_listener_names:
        for endpoints in (config.advertised_listeners, config.listeners):
            for endpoint in endpoints:
                if endpoint.name == name:
                    return (endpoint.host or "localhost", endpoint.port)
    return None


def check_quorum_flags(
    config: BrokerConfig, options: FormatOptions
) -> dict[int, InitialVoter] | None:
    """Which quorum flag is required or refused when (Kafka 4.4's StorageTool); returns the
    initial voters of a dynamic quorum, or None."""
    chosen = [options.standalone, options.initial_controllers is not None]
    chosen.append(options.no_initial_controllers)
    if sum(chosen) > 1:
        raise FormatError(
            "Only one of --standalone, --initial-controllers and --no-initial-controllers "
            "may be given."
        )
    voters: dict[int, InitialVoter] | None = None
    if options.initial_controllers is not None:
        voters = parse_initial_controllers(options.initial_controllers)
    if options.standalone:
        voter = standalone_voter(config)
        voters = {voter.node_id: voter}
    if config.quorum_voters and voters is not None:
        raise FormatError(
            "You cannot specify controller.quorum.voters and format the node with "
            "--initial-controllers or --standalone. If you want to use dynamic quorum, please "
            "remove controller.quorum.voters and specify controller.quorum.bootstrap.servers "
            "instead."
        )
    if (
        not options.no_initial_controllers
        and "controller" in config.process_roles
        and not config.quorum_voters
        and voters is None
    ):
        raise FormatError(
            "Because controller.quorum.voters is not set on this controller, you must specify "
            "one of the following: --standalone, --initial-controllers, or "
            "--no-initial-controllers."
        )
    return voters


def _voters_record(voters: dict[int, InitialVoter], listener_name: str) -> VotersRecord:
    return VotersRecord(
        version=0,
        voters=[
            VotersRecord.Voter(
                voter_id=voter.node_id,
                voter_directory_id=voter.directory_id,
                endpoints=[
                    VotersRecord.Endpoint(name=listener_name, host=voter.host, port=voter.port)
                ],
                k_raft_version_feature=VotersRecord.KRaftVersionFeature(
                    min_supported_version=KRAFT_VERSION_MIN,
                    max_supported_version=KRAFT_VERSION_MAX,
                ),
            )
            for _, voter in sorted(voters.items())
        ],
    )


def describe_levels(levels: FeatureLevels) -> str:
    mv = levels.metadata_version
    rest = ", ".join(f"{name}={level}" for name, level in sorted(levels.levels.items()))
    return f"metadata.version={mv.level} ({mv.name}), {rest}"


def metadata_dir_of(config: BrokerConfig) -> str:
    """Kafka's metadataLogDir: ``metadata.log.dir``, else the first of ``log.dirs``."""
    return str(config["metadata.log.dir"] or config.log_dirs[0])


def format_storage(
    config: BrokerConfig, options: FormatOptions, echo: Callable[[str], None]
) -> None:
    """Format the node's directories (see the module doc); ``echo`` prints progress lines.
    Raises :class:`FormatError` (or MetaPropertiesError) with a one-line reason."""
    check_cluster_id(options.cluster_id)
    voters = check_quorum_flags(config, options)
    dynamic = not config.quorum_voters and (voters is not None or options.no_initial_controllers)
    try:
        features = dict(parse_feature_flag(flag) for flag in options.features)
        levels = effective_levels(options.release_version, features, dynamic_quorum=dynamic)
    except FeatureLevelError as exc:
        raise FormatError(str(exc)) from None
    scram = _scram_records(options.add_scram, levels)
    metadata_dir = metadata_dir_of(config)
    ensemble = load_meta_ensemble(config.log_dirs, metadata_dir)
    ensemble.verify(options.cluster_id, config.node_id)
    if ensemble.formatted and not options.ignore_formatted:
        first = sorted(ensemble.formatted)[0]
        raise FormatError(
            f"Log directory {first} is already formatted. Use --ignore-formatted to ignore "
            "this directory and format the others."
        )
    for log_dir, reason in sorted(ensemble.failed.items()):
        echo(f"I/O error trying to read log directory {log_dir}. Ignoring... ({reason})")
    if not ensemble.empty:
        if not ensemble.formatted:
            raise FormatError("No available log directories to format.")
        echo("All of the log directories are already formatted.")
        return
    echo(f"Bootstrap metadata: {describe_levels(levels)}")
    used_ids = {m.directory_id for m in ensemble.formatted.values() if m.directory_id}
    for log_dir in ensemble.empty:
        _format_dir(config, options, log_dir, metadata_dir, voters, levels, scram, used_ids, echo)


def _scram_records(arguments: Sequence[str], levels: FeatureLevels) -> list[Message]:
    """Kafka's Formatter.calculateBootstrapMetadata: --add-scram needs a metadata.version
    that has SCRAM (3.5-IV2)."""
    if not arguments:
        return []
    if levels.metadata_version.level < SCRAM_MIN_METADATA_VERSION:
        raise FormatError("SCRAM is only supported in metadata.version 3.5-IV2 or later.")
    try:
        return list(parse_add_scram(arguments))
    except ScramFormatError as exc:
        raise FormatError(str(exc)) from None


def _format_dir(
    config: BrokerConfig,
    options: FormatOptions,
    log_dir: str,
    metadata_dir: str,
    voters: dict[int, InitialVoter] | None,
    levels: FeatureLevels,
    scram: Sequence[Message],
    used_ids: set[str],
    echo: Callable[[str], None],
) -> None:
    if log_dir != metadata_dir:
        kind, directory_id = "data directory", _new_directory_id(used_ids)
    elif voters is None:
        kind, directory_id = "metadata directory", _new_directory_id(used_ids)
    elif config.node_id in voters:
        kind = "dynamic metadata voter directory"
        directory_id = kafka_uuid_string(voters[config.node_id].directory_id)
    else:
        kind, directory_id = "dynamic metadata directory", _new_directory_id(used_ids)
    used_ids.add(directory_id)
    echo(f"Formatting {kind} {log_dir} with metadata.version {levels.metadata_version.name}.")
    try:
        os.makedirs(log_dir, exist_ok=True)
        if log_dir == metadata_dir:
            listener = config.controller_listener_names[0]
            write_snapshot(
                Path(log_dir) / METADATA_PARTITION_DIR,
                [*levels.bootstrap_records(), *scram],
                snapshot_id=BOOTSTRAP_SNAPSHOT_ID,
                last_contained_log_timestamp_ms=int(time.time() * 1000),
                kraft_version=levels.levels["kraft.version"],
                voters=None if voters is None else _voters_record(voters, listener),
                replace=True,
            )
        meta = MetaProperties(options.cluster_id, config.node_id, directory_id)
        write_meta_properties(Path(log_dir) / META_PROPERTIES, meta)
    except OSError as exc:
        raise FormatError(f"Error while writing meta.properties file {log_dir}: {exc}") from None


def _new_directory_id(used: set[str]) -> str:
    while True:
        candidate = random_directory_id()
        if candidate not in used:
            return candidate


__all__ = [
    "FormatError",
    "FormatOptions",
    "InitialVoter",
    "MetaPropertiesError",
    "check_quorum_flags",
    "format_storage",
    "metadata_dir_of",
    "parse_initial_controllers",
]
