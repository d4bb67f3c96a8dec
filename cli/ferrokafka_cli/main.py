"""Entry point of the `ferrokafka` command: one click group, one module per subcommand."""

import click

from .console import consume, produce
from .dump_log import dump_log
from .groups import groups
from .serve import serve
from .topics import topics


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ferrokafka")
def cli() -> None:
    """ferrokafka: a Kafka-compatible log broker."""


cli.add_command(dump_log)
cli.add_command(serve)
cli.add_command(topics)
cli.add_command(produce)
cli.add_command(consume)
cli.add_command(groups)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
