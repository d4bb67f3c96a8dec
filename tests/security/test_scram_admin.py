"""SCRAM credentials (KIP-554) managed by real Kafka tools, on ferrokafka and Apache Kafka 4.4.

- kafka-configs (ConfigCommand) adds, deletes and (with DescribeClientQuotas, which
  kafka-configs asks too) describes SCRAM users; confluent-kafka's admin and raw
  Alter/DescribeUserScramCredentials (our codec) give the same answers on both brokers:
  error codes, messages and the order of users.
- The credential a tool stored verifies the password: a ClientProof computed here
  (RFC 5802) is accepted by the StoredKey :func:`scram_lookup` returns, a wrong password's is
  not, and the ServerSignature matches.
- ``ferrokafka storage format --add-scram`` writes the records kafka-storage writes (the
  bootstrap snapshots decode to the same records), refuses what it refuses, and a node
  formatted so serves the credential.
- On a 3-node KRaft cluster of ``ferrokafka serve`` processes, a credential altered through
  one broker is described by another, and that node's metadata log gives a lookup that
  verifies the password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from server_wire import RawClient

import kafka_support as ks
from ferrokafka.cluster.image_records import image_from_records
from ferrokafka.cluster.loader import MetadataLoader
from ferrokafka.cluster.metadata_log import SingleVoterLog
from ferrokafka.cluster.records import UserScramCredentialRecord
from ferrokafka.cluster.scram_credentials import MECHANISMS, ScramCredential
from ferrokafka.cluster.scram_store import salted_password, scram_lookup
from ferrokafka.cluster.snapshot_file import BOOTSTRAP_SNAPSHOT_ID, read_snapshot
from ferrokafka.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest as Alter,
)
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest
from ferrokafka.protocol.messages.describe_user_scram_credentials import (
    DescribeUserScramCredentialsRequest as Describe,
)
from ferrokafka.testing import RunningBroker, run_broker
from ferrokafka_cli.main import cli
from kafka_support.broker import STORAGE_TOOL_CLASS
from kafka_support.jars import streams_classpath
from kafka_support.java_apps import app_command

pytestmark = pytest.mark.kafka

CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"
SHA256, SHA512 = 1, 2
DESCRIBE_CLIENT_QUOTAS = 48
ADMIN_TIMEOUT_S = 30.0
CLUSTER_WAIT_S = 30.0
POLL_S = 0.2
JAVA_TIMEOUT_S = 180.0  # the first run compiles tests/kafka/apps
SNAPSHOT = Path("__cluster_metadata-0") / BOOTSTRAP_SNAPSHOT_ID.file_name
SALT = b"fixed-salt-for-the-test"


# -- brokers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ks.KafkaBroker]:
    ks.require_kafka()
    with ks.KafkaBroker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture(scope="module")
def ferro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    with run_broker(tmp_path_factory.mktemp("ferro")) as broker:
        yield broker


@pytest.fixture()
def both(kafka: ks.KafkaBroker, ferro: RunningBroker) -> dict[str, str]:
    return {"kafka": kafka.bootstrap_servers, "ferrokafka": ferro.bootstrap_servers}


def config_command(work_dir: Path, bootstrap: str, *args: str) -> str:
    """What kafka-configs printed, or its error: the exception it reports, one line."""
    try:
        return ks.run_kafka_tool(
            CONFIG_COMMAND, ["--bootstrap-server", bootstrap, *args], work_dir=work_dir
        ).stdout.strip()
    except ks.KafkaToolError as exc:
        # A broker's refusal is reported as the exception's cause; a refusal of the tool's
        # own (too few iterations) as a line on stderr.
        lines = [line for line in str(exc).splitlines() if line.strip()]
        causes = [line for line in lines if line.startswith("Caused by:")]
        return causes[-1] if causes else lines[-1]


def users_cmd(user: str, *args: str) -> list[str]:
    return [*args, "--entity-type", "users", "--entity-name", user]


def raw(bootstrap: str) -> RawClient:
    return RawClient(bootstrap)


def advertises(bootstrap: str, api_key: int) -> bool:
    with raw(bootstrap) as client:
        answer = client.call(ApiVersionsRequest(), 0)
    return any(k.api_key == api_key for k in answer.api_keys)


# -- kafka-configs ----------------------------------------------------------------------------


KAFKA_CONFIGS_STEPS: list[list[str]] = [
    users_cmd(
        "alice", "--alter", "--add-config", "SCRAM-SHA-256=[iterations=8192,password=alice-secret]"
    ),
    users_cmd("alice", "--alter", "--add-config", "SCRAM-SHA-512=[password=alice-secret-512]"),
    users_cmd("bob", "--alter", "--add-config", "SCRAM-SHA-256=[iterations=100,password=x]"),
    users_cmd("bob", "--alter", "--add-config", "SCRAM-SHA-256=[iterations=20000,password=x]"),
    users_cmd("carol", "--alter", "--delete-config", "SCRAM-SHA-256"),
    users_cmd("alice", "--alter", "--delete-config", "SCRAM-SHA-512"),
    users_cmd("alice", "--alter", "--delete-config", "SCRAM-SHA-512"),
]


def test_kafka_configs_alter_and_delete(both: dict[str, str], tmp_path: Path) -> None:
    outputs = {
        name: [config_command(tmp_path, bootstrap, *step) for step in KAFKA_CONFIGS_STEPS]
        for name, bootstrap in both.items()
    }
    assert outputs["ferrokafka"] == outputs["kafka"]
    assert outputs["kafka"][0] == "Completed updating config for user alice."
    assert "less than the minimum 4096" in outputs["kafka"][2]
    assert "UnacceptableCredentialException: Too many iterations" in outputs["kafka"][3]
    assert "ResourceNotFoundException" in outputs["kafka"][4]
    # What is left: alice's SCRAM-SHA-256, on both.
    for bootstrap in both.values():
        with raw(bootstrap) as client:
            answer = client.call(Describe(users=[Describe.UserName(name="alice")]), 0)
        infos = [(i.mechanism, i.iterations) for i in answer.results[0].credential_infos]
        assert infos == [(SHA256, 8192)]
    _cleanup(both, [("alice", SHA256)])


def test_kafka_configs_describe(both: dict[str, str], tmp_path: Path) -> None:
    steps = [
        users_cmd("dave", "--alter", "--add-config", "SCRAM-SHA-512=[password=dave-secret]"),
        users_cmd("erin", "--alter", "--add-config", "SCRAM-SHA-256=[password=erin-secret]"),
        ["--describe", "--entity-type", "users"],
        users_cmd("dave", "--describe"),
        users_cmd("nobody", "--describe"),
        users_cmd("dave", "--alter", "--delete-config", "SCRAM-SHA-512"),
        users_cmd("erin", "--alter", "--delete-config", "SCRAM-SHA-256"),
        ["--describe", "--entity-type", "users"],
    ]
    outputs = {
        name: [config_command(tmp_path, bootstrap, *step) for step in steps]
        for name, bootstrap in both.items()
    }
    assert outputs["ferrokafka"] == outputs["kafka"]
    assert "SCRAM-SHA-512=iterations=4096" in outputs["kafka"][3]
    assert "secret" not in "".join(outputs["kafka"])


# -- confluent-kafka admin and raw requests ---------------------------------------------------


def admin_results(bootstrap: str, call: Callable[[AdminClient], dict[str, Any]]) -> dict:
    """user -> "ok" / the described infos, or the error's (name, message)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    out: dict[str, Any] = {}
    for user, future in call(admin).items():
        try:
            value = future.result(timeout=ADMIN_TIMEOUT_S)
        except Exception as exc:  # a KafkaException carrying the broker's error
            error = exc.args[0]
            out[user] = (error.name(), error.str())
            continue
        if value is None:
            out[user] = "ok"
        else:
            infos = value.scram_credential_infos
            out[user] = sorted((str(i.mechanism), i.iterations) for i in infos)
    return out


def upsert(user: str, mechanism: Any, iterations: int, password: bytes) -> Any:
    return UserScramCredentialUpsertion(
        user, ScramCredentialInfo(mechanism, iterations), password, SALT
    )


def test_confluent_admin_same_answers(both: dict[str, str]) -> None:
    steps: list[Callable[[AdminClient], dict[str, Any]]] = [
        lambda a: a.alter_user_scram_credentials(
            [
                upsert("frank", ScramMechanism.SCRAM_SHA_256, 4096, b"frank-secret"),
                upsert("grace", ScramMechanism.SCRAM_SHA_512, 16384, b"grace-secret"),
                upsert("heidi", ScramMechanism.SCRAM_SHA_256, 4095, b"x"),
                upsert("ivan", ScramMechanism.SCRAM_SHA_512, 16385, b"x"),
                UserScramCredentialDeletion("judy", ScramMechanism.SCRAM_SHA_256),
            ]
        ),
        lambda a: a.describe_user_scram_credentials(["frank", "grace", "nobody"]),
        lambda a: a.alter_user_scram_credentials(
            [
                UserScramCredentialDeletion("frank", ScramMechanism.SCRAM_SHA_256),
                UserScramCredentialDeletion("grace", ScramMechanism.SCRAM_SHA_512),
            ]
        ),
        lambda a: a.describe_user_scram_credentials(["frank"]),
    ]
    answers = {name: [admin_results(b, step) for step in steps] for name, b in both.items()}
    assert answers["ferrokafka"] == answers["kafka"]
    assert answers["kafka"][0]["frank"] == "ok"
    assert answers["kafka"][1]["grace"] == [("ScramMechanism.SCRAM_SHA_512", 16384)]


JAVA_STEPS = [
    "upsert:kim:SCRAM-SHA-256:8192:kim-secret",
    "upsert:kim:SCRAM-SHA-512:4096:kim-secret",
    "upsert:lee:SCRAM-SHA-512:16384:lee-secret",
    "upsert:max:SCRAM-SHA-256:16385:x",
    "delete:nobody:SCRAM-SHA-256",
    "describe:kim,lee,nobody",
    "describe:",
    "delete:kim:SCRAM-SHA-256",
    "delete:kim:SCRAM-SHA-512",
    "delete:lee:SCRAM-SHA-512",
    "describe:",
]


def java_admin(bootstrap: str) -> list[str]:
    command = app_command("ScramAdmin", streams_classpath(), bootstrap, *JAVA_STEPS)
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=JAVA_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()


def test_java_admin_same_answers(both: dict[str, str]) -> None:
    outputs = {name: java_admin(bootstrap) for name, bootstrap in both.items()}
    assert outputs["ferrokafka"] == outputs["kafka"]
    assert "describe kim SCRAM-SHA-256=8192,SCRAM-SHA-512=4096" in outputs["kafka"]
    assert "upsert max UnacceptableCredentialException: Too many iterations" in outputs["kafka"]


def raw_alter(bootstrap: str, request: Alter) -> list[tuple[str, int, str | None]]:
    with raw(bootstrap) as client:
        answer = client.call(request, 0)
    return [(r.user, r.error_code, r.error_message) for r in answer.results]


def raw_describe(bootstrap: str, users: list[str] | None) -> list[tuple[Any, ...]]:
    names = None if users is None else [Describe.UserName(name=u) for u in users]
    with raw(bootstrap) as client:
        answer = client.call(Describe(users=names), 0)
    assert (answer.error_code, answer.error_message) == (0, "")
    return [
        (
            r.user,
            r.error_code,
            r.error_message,
            [(i.mechanism, i.iterations) for i in r.credential_infos],
        )
        for r in answer.results
    ]


def up(name: str, mechanism: int = SHA256, **kw: Any) -> Alter.ScramCredentialUpsertion:
    fields = {"iterations": 4096, "salt": SALT, "salted_password": b"s" * 32, **kw}
    return Alter.ScramCredentialUpsertion(name=name, mechanism=mechanism, **fields)


def down(name: str, mechanism: int = SHA256) -> Alter.ScramCredentialDeletion:
    return Alter.ScramCredentialDeletion(name=name, mechanism=mechanism)


RAW_ALTERS: list[Alter] = [
    Alter(upsertions=[up(f"user{i}") for i in range(20)]),  # the order of many users
    Alter(upsertions=[up(""), up("m1", mechanism=0), up("m2", mechanism=3)]),
    Alter(upsertions=[up("s1", salt=b""), up("s2", salted_password=b"")]),
    Alter(upsertions=[up("d1"), up("d1", mechanism=SHA512)]),
    Alter(deletions=[down("user1"), down("user1", SHA512)], upsertions=[up("user1")]),
    Alter(deletions=[down("user2")], upsertions=[up("user2")]),
    Alter(deletions=[down("user3"), down("nobody"), down("", SHA512), down("user4", 9)]),
    Alter(deletions=[*(down(f"user{i}") for i in range(20)), down("s1")]),
]


def test_raw_alter_and_describe_same_answers(both: dict[str, str]) -> None:
    answers: dict[str, list[Any]] = {}
    for name, bootstrap in both.items():
        seen: list[Any] = []
        for request in RAW_ALTERS[:-1]:
            seen.append(raw_alter(bootstrap, request))
            seen.append(raw_describe(bootstrap, None))
        seen.append(raw_describe(bootstrap, ["user5", "user5", "nobody", "user6"]))
        seen.append(raw_alter(bootstrap, RAW_ALTERS[-1]))
        seen.append(raw_describe(bootstrap, []))
        answers[name] = seen
    for step, (ours, theirs) in enumerate(
        zip(answers["ferrokafka"], answers["kafka"], strict=True)
    ):
        assert ours == theirs, (step, ours, theirs)
    assert answers["kafka"][-1] == []
    # Kafka 4.4 accepts an empty salt; an empty salted password fails without a message.
    assert answers["kafka"][4] == [("s1", 0, None), ("s2", -1, None)]


def _cleanup(both: dict[str, str], credentials: list[tuple[str, int]]) -> None:
    for bootstrap in both.values():
        raw_alter(bootstrap, Alter(deletions=[down(u, m) for u, m in credentials]))


# -- the lookup verifies a password -----------------------------------------------------------


def client_proof(
    mechanism: str, password: str, salt: bytes, iterations: int, auth_message: bytes
) -> tuple[bytes, bytes]:
    """RFC 5802 as a client computes it: (ClientProof, ServerSignature expected)."""
    hash_name = MECHANISMS[mechanism].hash_name
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored = hashlib.new(hash_name, client_key).digest()
    signature = hmac.new(stored, auth_message, hash_name).digest()
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    return proof, hmac.new(server_key, auth_message, hash_name).digest()


def verifies(credential: ScramCredential, password: str) -> bool:
    """The server's side of RFC 5802 with ``credential``, for a client that knows ``password``."""
    hash_name = credential.mechanism.hash_name
    auth = b"n=alice,r=abc,r=abcdef,s=" + base64.b64encode(credential.salt) + b",i=4096,c=biws"
    proof, server_signature = client_proof(
        credential.mechanism.name, password, credential.salt, credential.iterations, auth
    )
    signature = hmac.new(credential.stored_key, auth, hash_name).digest()
    client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
    if hashlib.new(hash_name, client_key).digest() != credential.stored_key:
        return False
    assert hmac.new(credential.server_key, auth, hash_name).digest() == server_signature
    return True


def test_lookup_verifies_what_tools_stored(ferro: RunningBroker, tmp_path: Path) -> None:
    bootstrap = ferro.bootstrap_servers
    config_command(
        tmp_path,
        bootstrap,
        *users_cmd(
            "lookup-user",
            "--alter",
            "--add-config",
            "SCRAM-SHA-256=[iterations=8192,password=alice-secret]",
        ),
    )
    answer = admin_results(
        bootstrap,
        lambda a: a.alter_user_scram_credentials(
            [upsert("lookup-user", ScramMechanism.SCRAM_SHA_512, 4096, b"other-secret")]
        ),
    )
    assert answer == {"lookup-user": "ok"}
    lookup = scram_lookup(ferro.broker.node)
    sha256 = lookup("lookup-user", "SCRAM-SHA-256")
    sha512 = lookup("lookup-user", "SCRAM-SHA-512")
    assert sha256 is not None and sha512 is not None
    assert sha256.iterations == 8192 and sha512.salt == SALT
    assert verifies(sha256, "alice-secret") and not verifies(sha256, "alice-secreT")
    assert verifies(sha512, "other-secret") and not verifies(sha512, "alice-secret")
    assert lookup("nobody", "SCRAM-SHA-256") is None
    assert "secret" not in repr(sha256) and repr(sha256.salt) not in repr(sha256)
    # One user per request (twice in one is DUPLICATE_RESOURCE).
    assert raw_alter(bootstrap, Alter(deletions=[down("lookup-user")]))[0][1] == 0
    assert raw_alter(bootstrap, Alter(deletions=[down("lookup-user", SHA512)]))[0][1] == 0
    assert lookup("lookup-user", "SCRAM-SHA-256") is None


# -- storage format --add-scram -----------------------------------------------------------------


def write_config(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "server.properties"
    path.write_text(
        "process.roles=broker,controller\n"
        "node.id=1\n"
        "controller.quorum.voters=1@127.0.0.1:9093\n"
        "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"
        "controller.listener.names=CONTROLLER\n"
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
        f"log.dirs={root / 'data'}\n"
    )
    return path


SALT_B64 = base64.b64encode(SALT).decode()
SALTED_B64 = base64.b64encode(b"p" * 64).decode()
ADD_SCRAM = [
    f"SCRAM-SHA-256=[name=alice,salt={SALT_B64},iterations=8192,password=alice-secret]",
    f'SCRAM-SHA-512=[name="bob",salt="{SALT_B64}",saltedpassword={SALTED_B64}]',
    f"SCRAM-SHA-512=[name=alice,salt={SALT_B64},password=alice-secret-512,iterations=4096]",
]
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qk"


def format_both(tmp_path: Path, scram: list[str]) -> tuple[Any, Any]:
    """(kafka-storage's outcome, ours): the snapshot records, or the error (Kafka's whole
    report; our one line)."""
    flags = [arg for item in scram for arg in ("--add-scram", item)]
    kafka_config = write_config(tmp_path / "kafka")
    try:
        ks.run_kafka_tool(
            STORAGE_TOOL_CLASS,
            ["format", "-t", CLUSTER_ID, "-c", str(kafka_config), *flags],
            work_dir=tmp_path / "kafka",
        )
        kafka: Any = read_snapshot(tmp_path / "kafka" / "data" / SNAPSHOT).records
    except ks.KafkaToolError as exc:
        kafka = str(exc)  # the command line, then what the tool printed
    ours_config = write_config(tmp_path / "ours")
    result = CliRunner().invoke(
        cli, ["storage", "format", "-t", CLUSTER_ID, "-c", str(ours_config), *flags]
    )
    if result.exit_code == 0:
        ours: Any = read_snapshot(tmp_path / "ours" / "data" / SNAPSHOT).records
    else:
        ours = result.output.strip().splitlines()[-1]
    return kafka, ours


def test_format_add_scram_writes_kafkas_records(tmp_path: Path) -> None:
    ks.require_kafka()
    kafka, ours = format_both(tmp_path, ADD_SCRAM)
    assert ours == kafka
    scram = [r.message for r in ours if isinstance(r.message, UserScramCredentialRecord)]
    assert [(r.name, r.mechanism) for r in scram] == [("alice", 1), ("bob", 2), ("alice", 2)]
    image, _ = image_from_records([r.message for r in ours], 0)
    alice = scram_lookup(image)("alice", "SCRAM-SHA-256")
    assert alice is not None and verifies(alice, "alice-secret")


@pytest.mark.parametrize(
    "argument",
    [
        "SCRAM-SHA-1=[name=a,password=b]",
        "SCRAM-SHA-256=[password=b]",
        "SCRAM-SHA-256=[name=a]",
        "SCRAM-SHA-256=[name=a,saltedpassword=AAAA]",
        "SCRAM-SHA-256=[name=a,password=b,iterations=10]",
        "SCRAM-SHA-512=[name=a,password=b,iterations=16385]",
        "SCRAM-SHA-256=[name=a,password=b,colour=red]",
        "SCRAM-SHA-256=[name=a,password=b,iterations=x]",
        "SCRAM-SHA-256=[name=a,password=b",
        "SCRAM-SHA-256=name=a,password=b]",
        "SCRAM-SHA-256=[name=a,salt=%%%,password=b]",
    ],
)
def test_format_add_scram_refuses_as_kafka(tmp_path: Path, argument: str) -> None:
    ks.require_kafka()
    kafka, ours = format_both(tmp_path, [argument])
    assert isinstance(kafka, str), kafka
    assert isinstance(ours, str), ours
    assert ours.removeprefix("Error: ") in kafka.split(" exited 1", 1)[1], (ours, kafka)


def test_format_random_salt_verifies(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "storage", "format", "-t", CLUSTER_ID, "-c", str(config),
            "--add-scram", "SCRAM-SHA-256=[name=zed,password=zed-secret]",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "zed-secret" not in result.output
    records = read_snapshot(tmp_path / "data" / SNAPSHOT).records
    image, _ = image_from_records([r.message for r in records], 0)
    zed = scram_lookup(image)("zed", "SCRAM-SHA-256")
    assert zed is not None and zed.iterations == 4096 and len(zed.salt) > 0
    assert verifies(zed, "zed-secret") and not verifies(zed, "zed-secreT")


# -- a cluster of serve processes -----------------------------------------------------------------


def formatted_with_scram(cluster: Any, argument: str) -> None:
    """Make ``cluster.format`` format every node again with ``--add-scram argument`` (same
    cluster id and configs), as one formats each node of a Kafka cluster."""
    from cluster.kraft_processes import ferrokafka_cli

    original = cluster.format

    def format_with_scram() -> None:
        original()
        for node in cluster.nodes.values():
            for directory in (node.work_dir / "logs", node.work_dir / "metadata"):
                subprocess.run(["rm", "-rf", str(directory)], check=True)
            made = ferrokafka_cli(
                "storage", "format", "-t", cluster.cluster_id, "-c", str(node.config_file),
                "--add-scram", argument,
            )  # fmt: skip
            assert made.returncode == 0, made.stderr

    cluster.format = format_with_scram


def describe_when(bootstrap: str, users: list[str] | None, ready: Callable[[list], bool]) -> list:
    """DescribeUserScramCredentials until ``ready`` says so (a bounded wait: the brokers learn
    the metadata asynchronously), the last answer."""
    deadline = time.monotonic() + CLUSTER_WAIT_S
    described = raw_describe(bootstrap, users)
    while not ready(described) and time.monotonic() < deadline:
        time.sleep(POLL_S)
        described = raw_describe(bootstrap, users)
    return described


def test_cluster_credential_visible_through_another_broker(tmp_path: Path) -> None:
    from cluster.kraft_processes import KRaftCluster

    cluster = KRaftCluster(tmp_path, size=3)
    formatted_with_scram(cluster, "SCRAM-SHA-256=[name=boot,password=boot-secret]")
    with cluster.running():
        first, third = cluster.nodes[1].bootstrap, cluster.nodes[3].bootstrap
        # The formatted credential, committed by the first active controller.
        boot = describe_when(third, ["boot"], lambda d: d[0][1] == 0)
        assert boot == [("boot", 0, "", [(SHA256, 4096)])]
        deadline = time.monotonic() + CLUSTER_WAIT_S
        results: list[Any] = []
        while time.monotonic() < deadline:  # the brokers' first registrations may lag
            results = raw_alter(
                first,
                Alter(upsertions=[up("cluster-user", salted_password=_salted("cl-secret"))]),
            )
            if results and results[0][1] == 0:
                break
            time.sleep(POLL_S)
        assert results == [("cluster-user", 0, None)]
        described = describe_when(third, ["cluster-user"], lambda d: d[0][1] == 0)
        assert described == [("cluster-user", 0, "", [(SHA256, 4096)])]
        salted = _salted("cl-secret")
        for node in cluster.nodes.values():  # neither the password nor what stands for it
            logged = node.logged()
            assert "secret" not in logged
            assert salted.hex() not in logged and repr(salted)[2:-1] not in logged
    # Node 3's own copy of the metadata log (after the cluster is stopped) gives the lookup.
    log = SingleVoterLog(tmp_path / "n3" / "metadata")
    try:
        image = MetadataLoader().catch_up(log)
    finally:
        log.close()
    lookup = scram_lookup(image)
    credential = lookup("cluster-user", "SCRAM-SHA-256")
    assert credential is not None and verifies(credential, "cl-secret")
    formatted = lookup("boot", "SCRAM-SHA-256")
    assert formatted is not None and verifies(formatted, "boot-secret")


def _salted(password: str) -> bytes:
    return salted_password(MECHANISMS["SCRAM-SHA-256"], password, SALT, 4096)


def test_serve_from_formatted_scram(tmp_path: Path) -> None:
    """The one-voter node formatted with --add-scram has the credential once its controller
    bootstrapped."""
    from cluster.kraft_processes import KRaftCluster

    cluster = KRaftCluster(tmp_path, size=1)
    formatted_with_scram(cluster, "SCRAM-SHA-512=[name=boot,password=boot-secret,iterations=5000]")
    with cluster.running():
        node = cluster.nodes[1]
        described = describe_when(node.bootstrap, None, bool)
        assert described == [("boot", 0, "", [(SHA512, 5000)])]
        # AlterUserScramCredentials straight to the controller listener, as Kafka's
        # controller answers it (Kafka's advertises Describe there but never answers it).
        controller = f"127.0.0.1:{node.controller_port}"
        assert raw_alter(controller, Alter(upsertions=[up("ctl")])) == [("ctl", 0, None)]
        described = describe_when(node.bootstrap, ["ctl"], lambda d: d[0][1] == 0)
        assert described == [("ctl", 0, "", [(SHA256, 4096)])]
        assert "boot-secret" not in node.logged()
