"""Entry point of the `ferrokafka` command: one click group, one module per subcommand."""

import click

from .dump_log import dump_log
from .serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ferrokafka")
def cli() -> None:
    """ferrokafka: a Kafka-compatible log broker."""


cli.add_command(dump_log)
cli.add_command(serve)


def main() -> None:
    cli()
