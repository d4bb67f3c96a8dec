"""The native response writers (rust/src/py/wire.rs) read the generated message classes'
attributes by name. Every name they read must be a field of the message they answer with (or
of one of its nested classes): a regenerated codec that renames a field then fails here, not
in the broker (where the writer would decline every response, or fail).

The names are read from the Rust source (comments aside): ``intern!(py, "name")`` and
``getattr("name")``, grouped by the section of wire.rs they are in (``// -- Produce response``
and ``// -- Fetch response``).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from pathlib import Path

import pytest

from ferrokafka.protocol.messages.fetch import FetchResponse
from ferrokafka.protocol.messages.produce import ProduceResponse
from ferrokafka.protocol.schema import Struct
from ferrokafka.protocol.wire import FileRecords

WIRE_RS = Path(__file__).resolve().parents[2] / "rust" / "src" / "py" / "wire.rs"

# Section of wire.rs -> the message whose objects its code reads.
SECTIONS: dict[str, type[Struct]] = {
    "Produce response": ProduceResponse,
    "Fetch response": FetchResponse,
}
# Names the writers read from values that are not messages: a topic id's 16 bytes, and the
# length of file-backed records.
NOT_FIELDS: dict[str, type] = {"bytes": uuid.UUID, "nbytes": FileRecords}

_SECTION = re.compile(r"^// -- (.+?) -+$", re.MULTILINE)
_COMMENT = re.compile(r"//[^\n]*")
_INTERNED = re.compile(r'intern!\(\s*[^,()]+(?:\(\))?\s*,\s*"([^"]*)"\s*\)')
_GETATTR = re.compile(r"\.getattr\(\s*")
_LITERAL = re.compile(r'"([^"]*)"\s*\)')
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\s*\)")


def read_names(source: str) -> dict[str | None, set[str]]:
    """The attribute names the code reads, by section (None: before any section). Raises
    ValueError on a getattr whose name this reader cannot see (not an ``intern!`` literal, a
    string literal or a variable holding one)."""
    bounds = [(m.start(), m.group(1)) for m in _SECTION.finditer(source)]
    bounds.insert(0, (0, None))
    names: dict[str | None, set[str]] = {}
    for (start, title), (end, _) in zip(bounds, [*bounds[1:], (len(source), None)], strict=True):
        text = _COMMENT.sub("", source[start:end])
        found = names.setdefault(title, set())
        found.update(_INTERNED.findall(text))
        for call in _GETATTR.finditer(text):
            rest = text[call.end() :]
            literal = _LITERAL.match(rest)
            if literal:
                found.add(literal.group(1))
            elif not (rest.startswith("intern!(") or _IDENTIFIER.match(rest)):
                raise ValueError(f"a getattr this test cannot read: {rest[:60]!r}")
    return {title: found for title, found in names.items() if found}


def fields_of(message: type[Struct]) -> set[str]:
    """The field names of ``message`` and of every struct class nested in it."""
    names = {f.name for f in dataclasses.fields(message)}
    for value in vars(message).values():
        if isinstance(value, type) and issubclass(value, Struct):
            names |= {f.name for f in dataclasses.fields(value)}
    return names


def unknown_names(names: set[str], message: type[Struct]) -> set[str]:
    fields = fields_of(message)
    return {
        name
        for name in names
        if name not in fields and not (name in NOT_FIELDS and hasattr(NOT_FIELDS[name], name))
    }


NAMES = read_names(WIRE_RS.read_text(encoding="utf-8"))


def test_names_are_read_only_in_the_response_sections() -> None:
    assert set(NAMES) <= set(SECTIONS), (
        f"wire.rs reads attributes in sections {sorted(map(str, set(NAMES) - set(SECTIONS)))}:"
        " map them to a message in SECTIONS"
    )
    # The reader found what the writers read (not nothing, after a change of syntax).
    assert {"partition_responses", "record_errors", "log_append_time_ms"} <= NAMES.get(
        "Produce response", set()
    )
    assert {"aborted_transactions", "high_watermark", "records", "nbytes"} <= NAMES.get(
        "Fetch response", set()
    )


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_name_a_writer_reads_is_a_field(section: str) -> None:
    message = SECTIONS[section]
    missing = unknown_names(NAMES.get(section, set()), message)
    assert not missing, (
        f"rust/src/py/wire.rs ({section}) reads {sorted(missing)}, which {message.__name__}"
        " and its nested classes do not have: a field was renamed or removed"
    )


def test_a_wrong_name_is_caught() -> None:
    """The check itself: a writer reading a name the message lacks is reported."""
    source = (
        "// -- Produce response -----\n"
        'p.getattr(intern!(py, "base_offset"))?; p.getattr(intern!(py, "base_ofset"))?;\n'
        "// -- Fetch response -----\n"
        '// reads intern!(py, "not_read")\n'
        'r.getattr("high_watermark")?; s.getattr(a)?; v.getattr(intern!(v.py(), "nbytes"))?;\n'
    )
    names = read_names(source)
    assert names == {
        "Produce response": {"base_offset", "base_ofset"},
        "Fetch response": {"high_watermark", "nbytes"},
    }
    assert unknown_names(names["Produce response"], ProduceResponse) == {"base_ofset"}
    assert unknown_names(names["Fetch response"], FetchResponse) == set()
    with pytest.raises(ValueError, match="cannot read"):
        read_names('// -- Fetch response --\nr.getattr(format!("x"))?;\n')
