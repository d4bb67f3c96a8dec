"""Generate ferrokafka's Kafka protocol messages from Apache Kafka's message definitions.

Usage:
    python scripts/gen_protocol.py                 # JSON from the kafka-clients jar
    python scripts/gen_protocol.py DIR             # JSON from DIR (e.g. common/message)
    python scripts/gen_protocol.py --check [DIR]   # exit 1 if the committed files differ
    python scripts/gen_protocol.py --metadata [--check] [DIR]
                                                   # metadata records (common/metadata/*.json
                                                   # of the kafka-metadata jar)
    python scripts/gen_protocol.py --groups [--check] [DIR]
                                                   # __consumer_offsets records (the
                                                   # kafka-group-coordinator jar)
    python scripts/gen_protocol.py --txn [--check] [DIR]
                                                   # __transaction_state records (the
                                                   # kafka-transaction-coordinator jar)
    python scripts/gen_protocol.py --share [--check] [DIR]
                                                   # __share_group_state records (the
                                                   # kafka-share-coordinator jar)

The jar is found through the classpath file written by ``tests/kafka/fetch.sh``. Output goes to
python/ferrokafka/protocol/messages/: one module per API (its request and response), one for
the request and response headers, one per data type, and ``__init__.py`` with the API table.
The output depends only on the JSON (sorted, fixed formatting), so regenerating is a no-op
unless Kafka's definitions change.

With ``--metadata`` the records of the ``__cluster_metadata`` log (TopicRecord,
PartitionRecord, ...) go to python/ferrokafka/cluster/records/: one module per record type and
``__init__.py`` with the table of record classes by record type. Their framing (frame version,
type, version) is ferrokafka.cluster.serde's job, not the generator's.

With ``--groups`` the key and value records of ``__consumer_offsets`` (OffsetCommitKey,
GroupMetadataValue, ConsumerGroup*, ...) go to python/ferrokafka/groups/records/: one module
per key or value and ``__init__.py`` with the table record type -> (key class, value class).
Their framing (the 2-byte record type before a key, the 2-byte version before a value) is
ferrokafka.groups.serde's job.

With ``--txn`` the key and value records of ``__transaction_state`` (TransactionLogKey,
TransactionLogValue) go to python/ferrokafka/txn/records/ the same way; their framing (the
2-byte key version and value version) is ferrokafka.txn.serde's job.

With ``--share`` the key and value records of ``__share_group_state`` (ShareSnapshotKey/Value,
ShareUpdateKey/Value) go to python/ferrokafka/share/records/ the same way; their framing (the
2-byte record type before a key, the 2-byte version before a value) is
ferrokafka.share.serde's job.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "python" / "ferrokafka" / "protocol" / "messages"
JAR_PREFIX = "common/message/"
CLIENTS_JAR = r"/kafka-clients-[0-9.]+\.jar$"
METADATA_OUT_DIR = ROOT / "python" / "ferrokafka" / "cluster" / "records"
METADATA_JAR_PREFIX = "common/metadata/"
METADATA_JAR = r"/kafka-metadata-[0-9.]+\.jar$"
GROUPS_OUT_DIR = ROOT / "python" / "ferrokafka" / "groups" / "records"
GROUPS_JAR = r"/kafka-group-coordinator-[0-9.]+\.jar$"
TXN_OUT_DIR = ROOT / "python" / "ferrokafka" / "txn" / "records"
TXN_JAR = r"/kafka-transaction-coordinator-[0-9.]+\.jar$"
SHARE_OUT_DIR = ROOT / "python" / "ferrokafka" / "share" / "records"
SHARE_JAR = r"/kafka-share-coordinator-[0-9.]+\.jar$"
LINE_MAX = 100
INDENT = "    "
HEADER_MODULE = "header"
FIXED_TYPES = {
    "int8": "int",
    "int16": "int",
    "uint16": "int",
    "int32": "int",
    "uint32": "int",
    "int64": "int",
    "float64": "float",
    "bool": "bool",
    "uuid": "uuid.UUID",
}
INT_TYPES = ("int8", "int16", "uint16", "int32", "uint32", "int64")


# -- reading the definitions ------------------------------------------------------------


def strip_comments(text: str) -> str:
    """Drop // and /* */ comments outside JSON strings (Kafka reads the files with Jackson's
    ALLOW_COMMENTS)."""
    out, i, in_string = [], 0, False
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\":
                out.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def load_definitions(
    source: Path | None, prefix: str = JAR_PREFIX, jar_pattern: str = CLIENTS_JAR
) -> dict[str, dict]:
    """File name -> parsed definition, from a directory or (default) the Kafka jar whose path
    matches ``jar_pattern`` (kafka-clients), under ``prefix`` inside it."""
    texts: dict[str, str] = {}
    if source is not None:
        for path in sorted(source.glob("*.json")):
            texts[path.name] = path.read_text(encoding="utf-8")
    else:
        with zipfile.ZipFile(find_jar(jar_pattern)) as jar:
            for name in sorted(jar.namelist()):
                if name.startswith(prefix) and name.endswith(".json"):
                    texts[name[len(prefix) :]] = jar.read(name).decode("utf-8")
    if not texts:
        raise SystemExit(f"no message definitions found in {source or 'the Kafka jar'}")
    return {name: json.loads(strip_comments(text)) for name, text in sorted(texts.items())}


def find_clients_jar() -> Path:
    """kafka-clients-<version>.jar from the classpath file that tests/kafka/fetch.sh writes."""
    return find_jar(CLIENTS_JAR)


def find_jar(pattern: str) -> Path:
    """The jar on the classpath file that tests/kafka/fetch.sh writes matching ``pattern``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from kafka_support.jars import KafkaNotFetchedError, kafka_classpath

    try:
        classpath = kafka_classpath()
    except KafkaNotFetchedError as exc:
        raise SystemExit(f"{exc}\nrun tests/kafka/fetch.sh first") from None
    for entry in classpath.split(":"):
        if re.search(pattern, entry):
            return Path(entry)
    raise SystemExit(f"no jar matching {pattern} on the classpath; run tests/kafka/fetch.sh")


# -- names and values -------------------------------------------------------------------


def snake(name: str) -> str:
    out = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return out + "_" if keyword.iskeyword(out) else out


def is_nullable(field: dict) -> bool:
    return field.get("nullableVersions", "none") != "none"


def annotation(field: dict, owner: str) -> str:
    type_ = field["type"]
    if type_.startswith("[]"):
        inner = type_[2:]
        item = FIXED_TYPES.get(inner) or {"string": "str", "bytes": "bytes"}.get(inner)
        text = f"list[{item or f'{owner}.{inner}'}]"
    elif type_ in FIXED_TYPES:
        text = FIXED_TYPES[type_]
    elif type_ == "string":
        text = "str"
    elif type_ == "bytes":
        text = "memoryview" if field.get("zeroCopy") else "bytes"
    elif type_ == "records":
        text = "memoryview | bytes"
    else:
        text = f"{owner}.{type_}"
    return f"{text} | None" if is_nullable(field) or type_ == "records" else text


def default_expr(field: dict, owner: str) -> str:
    """The Python default, as Kafka's generator picks it: "null" means None (records default to
    null); otherwise the JSON default, or zero, "", false, the zero UUID, empty bytes, an empty
    list or a fresh struct."""
    type_, raw = field["type"], field.get("default")
    if raw == "null" or (type_ == "records" and raw is None):
        return "None"
    if type_.startswith("["):
        return "field(default_factory=list)"
    if type_ in INT_TYPES:
        return str(int(str(raw or "0"), 0))
    if type_ == "float64":
        return repr(float(raw or 0))
    if type_ == "bool":
        return "True" if str(raw).lower() == "true" else "False"
    if type_ == "uuid":
        return "ZERO_UUID"
    if type_ == "string":
        return json.dumps(raw or "")
    if type_ == "bytes":
        return 'b""'
    return f"field(default_factory=lambda: {owner}.{type_}())"


def schema_args(field: dict) -> list[str]:
    args = [json.dumps(snake(field["name"])), json.dumps(field["type"])]
    # Kafka's FieldSpec: a tagged field without "versions" exists in its taggedVersions.
    args.append(json.dumps(field.get("versions", field.get("taggedVersions"))))
    for key, arg in (
        ("nullableVersions", "nullable"),
        ("taggedVersions", "tagged"),
        ("tag", "tag"),
        ("flexibleVersions", "flexible"),
    ):
        # A field's own flexibleVersions matters even when "none" (RequestHeader.ClientId).
        if key in field and (field[key] != "none" or key == "flexibleVersions"):
            args.append(f"{arg}={json.dumps(field[key])}")
    if field.get("ignorable"):
        args.append("ignorable=True")
    if field.get("zeroCopy"):
        args.append("zero_copy=True")
    return args


# -- formatting (what `ruff format` produces for the constructs used) -------------------


def call(prefix: str, args: list[str], suffix: str, depth: int) -> list[str]:
    """``prefix(args)suffix`` on one line, or split the way ruff format splits it."""
    pad = INDENT * depth
    one = f"{pad}{prefix}({', '.join(args)}){suffix}"
    if len(one) <= LINE_MAX:
        return [one]
    inner = f"{pad}{INDENT}{', '.join(args)}"
    if len(inner) <= LINE_MAX:
        return [f"{pad}{prefix}(", inner, f"{pad}){suffix}"]
    return [f"{pad}{prefix}(", *(f"{pad}{INDENT}{arg}," for arg in args), f"{pad}){suffix}"]


def wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def comment(text: str, depth: int) -> list[str]:
    pad = INDENT * depth + "# "
    return [pad + line for line in wrap(text, LINE_MAX - len(pad))]


def docstring(text: str, depth: int) -> list[str]:
    pad = INDENT * depth
    text = " ".join(text.replace("\\", "\\\\").replace('"', "'").split()) or "A struct."
    if len(f'{pad}"""{text}"""') <= LINE_MAX:
        return [f'{pad}"""{text}"""']
    lines = wrap(text, LINE_MAX - len(pad) - 3)
    return [f'{pad}"""{lines[0]}', *(pad + line for line in lines[1:]), f'{pad}"""']


def field_lines(field: dict, owner: str, depth: int) -> list[str]:
    pad = INDENT * depth
    name, ann, default = snake(field["name"]), annotation(field, owner), default_expr(field, owner)
    line = f"{pad}{name}: {ann} = {default}"
    if len(line) <= LINE_MAX:
        return [line]
    if default.startswith("field("):
        lines = call(f"{name}: {ann} = field", [default[len("field(") : -1]], "", depth)
        lambda_prefix = "field(default_factory=lambda: "
        if len(lines[0]) <= LINE_MAX and any(len(line) > LINE_MAX for line in lines):
            if default.startswith(lambda_prefix):
                # A struct nested two levels deep (Kafka 4.4's topology descriptions): its
                # factory's body goes in parentheses on a line of its own.
                body = default[len(lambda_prefix) : -1]
                inner = f"{pad}{INDENT}"
                return [
                    lines[0],
                    f"{inner}default_factory=lambda: (",
                    f"{inner}{INDENT}{body}",
                    f"{inner}),",
                    f"{pad})",
                ]
        if len(lines[0]) <= LINE_MAX:
            return lines
    return [f"{pad}{name}: (", f"{pad}{INDENT}{ann}", f"{pad}) = {default}"]


# -- emitting classes --------------------------------------------------------------------


def collect_structs(definition: dict) -> list[tuple[str, dict]]:
    """Every struct of a message, leaves first, each once: (name, defining field)."""
    out: dict[str, dict] = {}

    def walk(fields: list[dict]) -> None:
        for field in fields:
            if "fields" in field:
                walk(field["fields"])
                name = field["type"].removeprefix("[]")
                if name in out:
                    raise SystemExit(f"{definition['name']}: struct {name} defined twice")
                out[name] = field

    for common in definition.get("commonStructs", []):
        walk(common["fields"])
        out[common["name"]] = {**common, "about": common.get("about", common["name"])}
    walk(definition.get("fields", []))
    return list(out.items())


def struct_body(fields: list[dict], owner: str, depth: int) -> list[str]:
    lines: list[str] = []
    for field in fields:
        if field.get("about"):
            lines += comment(field["about"], depth)
        lines += field_lines(field, owner, depth)
    if not fields:
        return lines
    pad = INDENT * depth
    schema = [line for field in fields for line in call("F", schema_args(field), ",", depth + 1)]
    return [*lines, "", f"{pad}SCHEMA = (", *schema, f"{pad})"]


def emit_message(definition: dict, summary: str) -> list[str]:
    name = definition["name"]
    lines = ["", "", "@struct_class", f"class {name}(Message):"]
    lines += [*docstring(summary, 1), ""]
    if "apiKey" in definition:
        lines.append(f"{INDENT}API_KEY = {definition['apiKey']}")
    lines.append(f"{INDENT}VALID_VERSIONS = {json.dumps(definition['validVersions'])}")
    flexible = definition.get("flexibleVersions", "none")
    lines.append(f"{INDENT}FLEXIBLE_VERSIONS = {json.dumps(flexible)}")
    for struct_name, field in collect_structs(definition):
        lines += ["", f"{INDENT}@struct_class"]
        lines.append(f"{INDENT}class {struct_name}(Struct):")
        lines += docstring(field.get("about", struct_name), 2)
        body = struct_body(field["fields"], name, 2)
        lines += ["", *body] if body else []
    if definition.get("fields"):
        lines += ["", *struct_body(definition["fields"], name, 1)]
    return lines


def all_fields(definition: dict) -> list[dict]:
    out: list[dict] = []

    def walk(fields: list[dict]) -> None:
        for field in fields:
            out.append(field)
            walk(field.get("fields", []))

    walk(definition.get("fields", []))
    for common in definition.get("commonStructs", []):
        walk(common["fields"])
    return out


def summary_of(definition: dict) -> str:
    parts = [f"API key {definition['apiKey']}"] if "apiKey" in definition else []
    parts.append(f"versions {definition['validVersions']}")
    parts.append(f"flexible {definition.get('flexibleVersions', 'none')}")
    if definition.get("listeners"):
        parts.append("listeners " + ", ".join(sorted(definition["listeners"])))
    return f"{definition['name']}: " + "; ".join(parts) + "."


def module_text(title: str, definitions: list[dict], summary: Any = summary_of) -> str:
    fields = [field for definition in definitions for field in all_fields(definition)]
    types = {field["type"].removeprefix("[]") for field in fields}
    owner = "X"
    defaults = [default_expr(field, owner) for field in fields]
    lines = [f'"""{title}', ""]
    lines += [line for definition in definitions for line in wrap(summary(definition), LINE_MAX)]
    lines += [
        "",
        "Generated by scripts/gen_protocol.py from Apache Kafka's message definitions",
    ]
    lines += ["(Apache-2.0). Do not edit.", '"""', "", "from __future__ import annotations", ""]
    stdlib = ["import uuid"] if "uuid" in types else []
    if any(default.startswith("field(") for default in defaults):
        stdlib += ["from dataclasses import field"]
    lines += [*stdlib, ""] if stdlib else []
    lines += [
        "from ferrokafka.protocol.schema import "
        + ", ".join(
            name
            for name, used in (
                ("F", bool(fields)),
                ("Message", True),
                ("Struct", any(collect_structs(definition) for definition in definitions)),
                ("struct_class", True),
            )
            if used
        ),
    ]
    if "ZERO_UUID" in defaults:
        lines.append("from ferrokafka.protocol.wire import ZERO_UUID")
    for definition in definitions:
        lines += emit_message(definition, summary(definition))
    return "\n".join(lines) + "\n"


# -- the modules and the API table -------------------------------------------------------


def api_table_text(apis: list[tuple[int, str, str, dict]]) -> str:
    lines = [
        '"""Kafka\'s messages, one module per API, and the table of APIs by key.',
        "",
        "Generated by scripts/gen_protocol.py from Apache Kafka's message definitions",
        "(Apache-2.0). Do not edit. Request and response classes are imported on first use",
        "(``ApiInfo.request_class``), so importing this table is cheap.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from ferrokafka.protocol.schema import ApiInfo",
        "",
        "APIS: dict[int, ApiInfo] = {",
    ]
    for key, api, module, request in apis:
        listeners = tuple(sorted(request.get("listeners", [])))
        args = [
            str(key),
            json.dumps(api),
            json.dumps(module),
            json.dumps(request["validVersions"]),
            json.dumps(request.get("flexibleVersions", "none")),
            "(" + ", ".join(json.dumps(name) for name in listeners) + ",)"[len(listeners) != 1 :],
        ]
        if request.get("latestVersionUnstable"):
            args.append("latest_version_unstable=True")
        lines += call(f"{key}: ApiInfo", args, ",", 1)
    return "\n".join(lines) + "\n}\n"


def generate(definitions: dict[str, dict]) -> dict[str, str]:
    """Module file name -> text."""
    by_name = {definition["name"]: definition for definition in definitions.values()}
    files: dict[str, str] = {}
    apis = []
    for definition in definitions.values():
        kind, name = definition["type"], definition["name"]
        if kind == "request":
            response = by_name[name.removesuffix("Request") + "Response"]
            if definition["validVersions"] == "none":
                continue  # removed from Kafka (ZooKeeper-era APIs); nothing to speak
            for key in ("validVersions", "flexibleVersions", "apiKey"):
                if definition.get(key) != response.get(key):
                    raise SystemExit(f"{name} and its response disagree on {key}")
            api = name.removesuffix("Request")
            module = snake(api)
            title = f"{api} (API key {definition['apiKey']}): its request and response."
            files[f"{module}.py"] = module_text(title, [definition, response])
            apis.append((definition["apiKey"], api, module, definition))
        elif kind == "data":
            title = f"{name}: a data type Kafka stores or embeds (not a request or response)."
            files[f"{snake(name)}.py"] = module_text(title, [definition])
    headers = [by_name["RequestHeader"], by_name["ResponseHeader"]]
    files[f"{HEADER_MODULE}.py"] = module_text("The request and response headers.", headers)
    files["__init__.py"] = api_table_text(sorted(apis, key=lambda item: item[0]))
    return dict(sorted(files.items()))


# -- metadata records (--metadata) ------------------------------------------------------


def record_summary(definition: dict) -> str:
    parts = [f"record type {definition['apiKey']}", f"versions {definition['validVersions']}"]
    parts.append(f"flexible {definition.get('flexibleVersions', 'none')}")
    return f"{definition['name']}: " + "; ".join(parts) + "."


def import_lines(module: str, name: str) -> list[str]:
    """``from module import name``, wrapped as ruff's isort wraps a long one."""
    line = f"from {module} import {name}"
    if len(line) <= LINE_MAX:
        return [line]
    return [f"from {module} import (", f"{INDENT}{name},", ")"]


def record_table_text(records: list[tuple[int, str, str]]) -> str:
    package = "ferrokafka.cluster.records"
    lines = [
        '"""Kafka\'s metadata records (the ``__cluster_metadata`` log), and their classes by type.',
        "",
        "Generated by scripts/gen_protocol.py --metadata from Apache Kafka's metadata record",
        "definitions (Apache-2.0). Do not edit. Framing: ferrokafka.cluster.serde.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    for _, name, module in sorted(records, key=lambda item: item[2]):
        lines += import_lines(f"{package}.{module}", name)
    lines += ["from ferrokafka.protocol.schema import Message", ""]
    lines += ["RECORD_TYPES: dict[int, type[Message]] = {"]
    lines += [f"{INDENT}{key}: {name}," for key, name, _ in sorted(records)]
    return "\n".join(lines) + "\n}\n"


def generate_metadata(definitions: dict[str, dict]) -> dict[str, str]:
    """Module file name -> text, for every metadata record type."""
    files: dict[str, str] = {}
    records = []
    for definition in definitions.values():
        if definition["type"] != "metadata":
            continue
        name, key = definition["name"], definition["apiKey"]
        module = snake(name)
        title = f"{name}: metadata record type {key}, of the __cluster_metadata log."
        files[f"{module}.py"] = module_text(title, [definition], record_summary)
        records.append((key, name, module))
    if len({key for key, _, _ in records}) != len(records):
        raise SystemExit("two metadata records share a record type")
    files["__init__.py"] = record_table_text(records)
    return dict(sorted(files.items()))


# -- __consumer_offsets records (--groups) -----------------------------------------------


def coordinator_table_text(
    records: dict[int, dict[str, tuple[str, str]]], kind: str = "groups"
) -> str:
    topic, coordinator = _COORDINATOR_KINDS[kind]
    package = f"ferrokafka.{kind}.records"
    lines = [
        f'"""The records of ``{topic}``: key and value classes by record type.',
        "",
        f"Generated by scripts/gen_protocol.py --{kind} from Apache Kafka's {coordinator}",
        f"record definitions (Apache-2.0). Do not edit. Framing: ferrokafka.{kind}.serde.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    imports = sorted(
        [
            (f"{package}.{module}", name)
            for pair in records.values()
            for name, module in pair.values()
        ]
        + [("ferrokafka.protocol.schema", "Message")]
    )
    for module, name in imports:
        lines += import_lines(module, name)
    lines += [""]
    lines += ["RECORD_TYPES: dict[int, tuple[type[Message], type[Message]]] = {"]
    for key, pair in sorted(records.items()):
        lines.append(f"{INDENT}{key}: ({pair['key'][0]}, {pair['value'][0]}),")
    return "\n".join(lines) + "\n}\n"


_COORDINATOR_KINDS = {
    "groups": ("__consumer_offsets", "group coordinator"),
    "txn": ("__transaction_state", "transaction coordinator"),
    "share": ("__share_group_state", "share coordinator"),
}


def generate_groups(definitions: dict[str, dict], kind: str = "groups") -> dict[str, str]:
    """Module file name -> text, for every key and value record of __consumer_offsets (or,
    with ``kind`` "txn", of __transaction_state; "share", of __share_group_state)."""
    topic = _COORDINATOR_KINDS[kind][0]
    files: dict[str, str] = {}
    records: dict[int, dict[str, tuple[str, str]]] = {}
    for definition in definitions.values():
        record_kind = definition["type"]
        if record_kind not in ("coordinator-key", "coordinator-value"):
            continue
        name, key = definition["name"], definition["apiKey"]
        module = snake(name)
        part = record_kind.removeprefix("coordinator-")
        title = f"{name}: a {part} of the {topic} log."
        files[f"{module}.py"] = module_text(title, [definition], record_summary)
        if part in records.setdefault(key, {}):
            raise SystemExit(f"two coordinator {part}s share record type {key}")
        records[key][part] = (name, module)
    for key, pair in records.items():
        if set(pair) != {"key", "value"}:
            raise SystemExit(f"record type {key} lacks a key or a value")
    files["__init__.py"] = coordinator_table_text(records, kind)
    return dict(sorted(files.items()))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    metadata = "--metadata" in argv
    groups = "--groups" in argv
    txn = "--txn" in argv
    share = "--share" in argv
    flags = ("--check", "--metadata", "--groups", "--txn", "--share")
    paths = [arg for arg in argv if arg not in flags]
    source = Path(paths[0]) if paths else None
    if metadata:
        out_dir = METADATA_OUT_DIR
        files = generate_metadata(load_definitions(source, METADATA_JAR_PREFIX, METADATA_JAR))
    elif groups:
        out_dir = GROUPS_OUT_DIR
        files = generate_groups(load_definitions(source, JAR_PREFIX, GROUPS_JAR))
    elif txn:
        out_dir = TXN_OUT_DIR
        files = generate_groups(load_definitions(source, JAR_PREFIX, TXN_JAR), "txn")
    elif share:
        out_dir = SHARE_OUT_DIR
        files = generate_groups(load_definitions(source, JAR_PREFIX, SHARE_JAR), "share")
    else:
        out_dir = OUT_DIR
        files = generate(load_definitions(source))
    return write_or_check(out_dir, files, check)


def write_or_check(out_dir: Path, files: dict[str, str], check: bool) -> int:
    """Write ``files`` into ``out_dir`` (removing stale modules), or with ``check`` only say
    which differ."""
    existing = {path.name: path for path in out_dir.glob("*.py")}
    stale = sorted(set(existing) - set(files))
    changed = [
        name
        for name, text in files.items()
        if name not in existing or existing[name].read_text(encoding="utf-8") != text
    ]
    if check:
        for name in stale + changed:
            print(f"out of date: {out_dir / name}", file=sys.stderr)
        return 1 if stale or changed else 0
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in stale:
        existing[name].unlink()
    for name in changed:
        (out_dir / name).write_text(files[name], encoding="utf-8")
    print(f"{len(files)} modules in {out_dir} ({len(changed)} written, {len(stale)} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
