"""The layering rules import-linter cannot see (its contract is in pyproject.toml and
`lint-imports` runs in tests/run.sh): the compiled native module is reached only through
``ferrokafka.storage`` and ``ferrokafka.protocol``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "ferrokafka"
NATIVE = "ferrokafka._ferrokafka"
# The package's own __init__ (its __version__), and config.topic's LogConfig: storage imports
# config, so config cannot import storage; the native type is the one it builds.
ALLOWED = {"__init__.py", "config/topic.py"}


def native_importers() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if any(name == NATIVE or name.startswith(NATIVE + ".") for name in names):
                found.add(relative)
    return found


def test_only_storage_and_protocol_import_the_native_module() -> None:
    importers = native_importers()
    assert importers, "the check finds nothing: it is broken"
    outside = {
        path for path in importers - ALLOWED if not path.startswith(("storage/", "protocol/"))
    }
    assert outside == set(), f"import the native module through ferrokafka.storage: {outside}"
