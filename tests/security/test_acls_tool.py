"""Apache Kafka 4.4's own ``kafka-acls`` (org.apache.kafka.tools.AclCommand) against ferrokafka
and against Apache Kafka configured the same way (StandardAuthorizer,
``allow.everyone.if.no.acl.found=true``, PLAINTEXT): --add, --list (all, by resource, with
the MATCH pattern type), --remove, and a refusal; what the tool prints must be the same.

Kafka returns ACLs from hash sets, so the tool's order of resources and of the ACLs within
one is not fixed: the comparison is of each printed block with its lines sorted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import kafka_support as ks
from ferrokafka.testing import run_broker

ACL_COMMAND = "org.apache.kafka.tools.AclCommand"
AUTHORIZER_CONFIG = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found": "true",
}
KAFKA_MARKS = [pytest.mark.kafka, pytest.mark.slow, ks.COMPARE_OPT_IN]

# (arguments, what the tool prints: blocks of a header and its sorted lines)
STEPS: list[tuple[list[str], list[tuple[str, list[str]]]]] = [
    (
        [
            "--add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Read",
            "--operation",
            "Write",
            "--topic",
            "orders",
        ],
        [
            (
                "Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders, "
                "patternType=LITERAL)`:",
                [
                    "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)",
                    "(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)",
                ],
            )
        ],
    ),
    (
        [
            "--add",
            "--deny-principal",
            "User:bob",
            "--deny-host",
            "10.0.0.7",
            "--operation",
            "All",
            "--topic",
            "ord",
            "--resource-pattern-type",
            "prefixed",
        ],
        [
            (
                "Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=ord, "
                "patternType=PREFIXED)`:",
                ["(principal=User:bob, host=10.0.0.7, operation=ALL, permissionType=DENY)"],
            )
        ],
    ),
    (
        ["--add", "--allow-principal", "User:carol", "--operation", "Read", "--group", "*"],
        [
            (
                "Adding ACLs for resource `ResourcePattern(resourceType=GROUP, name=*, "
                "patternType=LITERAL)`:",
                ["(principal=User:carol, host=*, operation=READ, permissionType=ALLOW)"],
            )
        ],
    ),
    (
        ["--add", "--allow-principal", "User:ANONYMOUS", "--operation", "All", "--cluster"],
        [
            (
                "Adding ACLs for resource `ResourcePattern(resourceType=CLUSTER, "
                "name=kafka-cluster, patternType=LITERAL)`:",
                ["(principal=User:ANONYMOUS, host=*, operation=ALL, permissionType=ALLOW)"],
            )
        ],
    ),
    (
        ["--list", "--topic", "orders", "--resource-pattern-type", "match"],
        [
            (
                "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=ord, "
                "patternType=PREFIXED)`:",
                ["(principal=User:bob, host=10.0.0.7, operation=ALL, permissionType=DENY)"],
            ),
            (
                "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders, "
                "patternType=LITERAL)`:",
                [
                    "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)",
                    "(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)",
                ],
            ),
        ],
    ),
    (
        [
            "--remove",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Write",
            "--topic",
            "orders",
            "--force",
        ],
        [],
    ),
    (
        ["--list", "--principal", "User:carol"],
        [
            (
                "ACLs for principal `User:carol`",
                [],
            ),
            (
                "Current ACLs for resource `ResourcePattern(resourceType=GROUP, name=*, "
                "patternType=LITERAL)`:",
                ["(principal=User:carol, host=*, operation=READ, permissionType=ALLOW)"],
            ),
        ],
    ),
    (
        ["--list"],
        [
            (
                "Current ACLs for resource `ResourcePattern(resourceType=CLUSTER, "
                "name=kafka-cluster, patternType=LITERAL)`:",
                ["(principal=User:ANONYMOUS, host=*, operation=ALL, permissionType=ALLOW)"],
            ),
            (
                "Current ACLs for resource `ResourcePattern(resourceType=GROUP, name=*, "
                "patternType=LITERAL)`:",
                ["(principal=User:carol, host=*, operation=READ, permissionType=ALLOW)"],
            ),
            (
                "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=ord, "
                "patternType=PREFIXED)`:",
                ["(principal=User:bob, host=10.0.0.7, operation=ALL, permissionType=DENY)"],
            ),
            (
                "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders, "
                "patternType=LITERAL)`:",
                ["(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)"],
            ),
        ],
    ),
]


def blocks(out: str) -> list[tuple[str, list[str]]]:
    """The tool's output as (header, sorted ACL lines) blocks, sorted by header."""
    found: list[tuple[str, list[str]]] = []
    for line in out.splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("("):
            assert found, f"an ACL line before any header: {out!r}"
            found[-1][1].append(text)
        else:
            found.append((text, []))
    return sorted((header, sorted(lines)) for header, lines in found)


@pytest.fixture(scope="module")
def ferrokafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_broker(tmp_path_factory.mktemp("ferrokafka"), AUTHORIZER_CONFIG) as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ks.require_kafka()
    broker = ks.KafkaBroker(tmp_path_factory.mktemp("kafka"), broker_config=AUTHORIZER_CONFIG)
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(params=["ferrokafka", pytest.param("kafka", marks=KAFKA_MARKS)])
def bootstrap(request: pytest.FixtureRequest) -> str:
    ks.require_kafka()
    return str(request.getfixturevalue(f"{request.param}_bootstrap"))


def test_kafka_acls_add_list_remove(bootstrap: str, tmp_path: Path) -> None:
    for args, expected in STEPS:
        result = ks.run_kafka_tool(
            ACL_COMMAND, ["--bootstrap-server", bootstrap, *args], work_dir=tmp_path
        )
        assert blocks(result.stdout) == sorted(expected), (args, result.stdout, result.stderr)


def test_kafka_acls_refusals(bootstrap: str, tmp_path: Path) -> None:
    """An ACL on an empty resource name: refused by the broker as Kafka's AclApis refuses it
    (INVALID_REQUEST with its message; the tool prints it and exits 1)."""
    with pytest.raises(ks.KafkaToolError) as refused:
        ks.run_kafka_tool(
            ACL_COMMAND,
            [
                "--bootstrap-server",
                bootstrap,
                "--add",
                "--allow-principal",
                "User:dave",
                "--operation",
                "Read",
                "--topic",
                "",
            ],
            work_dir=tmp_path,
        )
    assert "InvalidRequestException: Invalid empty resource name" in str(refused.value)
