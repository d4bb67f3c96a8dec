"""The `ferrokafka` command line (click).

The source lives in the repository's top-level cli/ directory; the wheel ships it as the
top-level package `ferrokafka_cli` (through the symlink python/ferrokafka_cli, see
pyproject.toml's [tool.maturin] include), so installing ferrokafka adds no package named `cli`.
"""
