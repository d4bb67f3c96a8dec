"""The `ferrokafka` command line (click).

Installed with the package: the wheel carries `cli/ferrokafka_cli/` as it stands in the
repository, so the import path is `cli.ferrokafka_cli` (`cli` is a PEP 420 namespace package,
which merges rather than collides with any other distribution's `cli` namespace).
"""
