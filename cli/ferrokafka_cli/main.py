"""Entry point of the `ferrokafka` command: one click group, one module per subcommand.

Subcommands are imported only when invoked (or listed by ``--help``): ``ferrokafka serve`` then
does not pay for the client-side modules of ``topics``/``groups``/``produce``/``consume``, and
start-to-ready is part of what the broker is measured on.
"""

import importlib

import click

# Command name -> "module:attribute" (module relative to this package), in help order.
_COMMANDS = {
    "dump-log": "dump_log:dump_log",
    "serve": "serve:serve",
    "topics": "topics:topics",
    "produce": "console:produce",
    "consume": "consume:consume",
    "status": "status:status",
    "groups": "groups:groups",
    "storage": "storage:storage",
    "transactions": "transactions:transactions",
}


class _LazyGroup(click.Group):
    """A click group whose subcommands' modules are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        module = importlib.import_module(f".{module_name}", __package__)
        return getattr(module, attribute)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ferrokafka")
def cli() -> None:
    """ferrokafka: a Kafka-compatible log broker."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
