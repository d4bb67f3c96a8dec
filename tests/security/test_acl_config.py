"""The authorizer's keys: StandardAuthorizer or none, anything else refused at start with one
line; server/authorize.py's checks over a node's image (no authorizer: everything allowed,
with principals and hosts from the request context)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from ferrokafka.cluster.acls.model import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourceType,
)
from ferrokafka.cluster.image import MetadataImage, frozen_map
from ferrokafka.config import load_broker_config
from ferrokafka.config.definitions import ConfigError
from ferrokafka.protocol import RequestHeader
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest
from ferrokafka.protocol.principal import KafkaPrincipal
from ferrokafka.server.authorize import (
    StandardAuthorizer,
    authorized,
    authorized_any_of_type,
    authorized_operations,
    build_authorizer,
)
from ferrokafka.server.dispatcher import RequestContext

STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def config(tmp_path: Path, **keys: str):  # type: ignore[no-untyped-def]
    return load_broker_config(None, {"log.dirs": str(tmp_path), **keys})


def test_other_authorizer_class_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ferrokafka implements only " + STANDARD):
        config(tmp_path, **{"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer"})


def test_no_authorizer_without_the_key(tmp_path: Path) -> None:
    assert build_authorizer(config(tmp_path), MetadataImage) is None


@dataclass
class Holder:
    authorizer: StandardAuthorizer | None


def context(principal: str, host: str) -> RequestContext:
    header = RequestHeader(
        request_api_key=ApiVersionsRequest.API_KEY,
        request_api_version=3,
        correlation_id=1,
        client_id="t",
    )
    return RequestContext(header, (host, 1234), "PLAINTEXT", 1, KafkaPrincipal.parse(principal))


def test_checks_read_the_image_and_the_context(tmp_path: Path) -> None:
    acls = {
        uuid.uuid4(): AclBinding(
            ResourceType.TOPIC,
            "orders",
            PatternType.LITERAL,
            "User:alice",
            "10.0.0.1",
            AclOperation.WRITE,
            AclPermissionType.ALLOW,
        ),
    }
    image = MetadataImage(acls=frozen_map(acls))
    conf = config(tmp_path, **{"authorizer.class.name": STANDARD, "super.users": "User:root"})
    node = Holder(build_authorizer(conf, lambda: image))
    alice, remote = context("User:alice", "10.0.0.1"), context("User:alice", "10.0.0.2")
    write, describe = AclOperation.WRITE, AclOperation.DESCRIBE
    assert authorized(node, alice, write, ResourceType.TOPIC, "orders")
    assert authorized(node, alice, describe, ResourceType.TOPIC, "orders")
    assert not authorized(node, remote, write, ResourceType.TOPIC, "orders")
    assert not authorized(node, alice, write, ResourceType.TOPIC, "other")
    assert authorized(node, context("User:root", "1.1.1.1"), write, ResourceType.TOPIC, "other")
    # WRITE and DESCRIBE (implied) of the topic's supported operations: bits 4 and 8.
    assert authorized_operations(node, alice, ResourceType.TOPIC, "orders") == (1 << 4) | (1 << 8)
    assert node.authorizer is not None
    assert authorized_any_of_type(node.authorizer, alice, write, ResourceType.TOPIC)
    assert not authorized_any_of_type(node.authorizer, remote, write, ResourceType.TOPIC)
    # Without an authorizer: everything, every supported operation.
    assert authorized(Holder(None), remote, write, ResourceType.TOPIC, "other")
    assert authorized_operations(Holder(None), remote, ResourceType.GROUP, "g") == sum(
        1 << op for op in (3, 8, 6, 10, 11)
    )


def test_serve_refuses_another_authorizer_in_one_line(tmp_path: Path) -> None:
    """``ferrokafka serve`` with a server.properties naming another authorizer class: exit 2
    and one line naming the key and the class ferrokafka implements."""
    from test_serve_config_keys import serve_once, write_properties

    extra = "authorizer.class.name=kafka.security.authorizer.AclAuthorizer\n"
    proc = serve_once(write_properties(tmp_path, extra))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ferrokafka serve: "), proc.stderr
    assert "authorizer.class.name" in lines[0] and STANDARD in lines[0], proc.stderr


@pytest.mark.parametrize("with_authorizer", [False, True])
def test_gates_only_with_an_authorizer(tmp_path: Path, with_authorizer: bool) -> None:
    """Without an authorizer no handler is wrapped (the checks cost nothing); with one every
    gated API the broker serves is."""
    from ferrokafka.server.authorize_gates import GATES, GatedHandler
    from ferrokafka.testing import run_broker

    overrides = {"authorizer.class.name": STANDARD} if with_authorizer else {}
    with run_broker(tmp_path / "b", overrides) as broker:
        dispatcher = broker.broker.dispatchers["broker"]
        gated = {
            request_type.API_KEY
            for request_type in GATES
            if isinstance(dispatcher.handler_for(request_type.API_KEY), GatedHandler)
        }
        served = {t.API_KEY for t in GATES if dispatcher.handler_for(t.API_KEY) is not None}
    assert gated == (served if with_authorizer else set())
    assert len(served) > 30
