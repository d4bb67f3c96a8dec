"""Where the client-side commands find the cluster: ``-b/--bootstrap-server`` on each command
and on each command group (``ferrokafka topics -b host:9092 list``), else the environment
variable ``FERROKAFKA_BROKERS``, else ``localhost:9092``. The most specific wins: the
command's flag, then its group's, then the environment, then the default.

Also the shared ``--timeout`` option and the wrapper that turns client errors into one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from .client import DEFAULT_TIMEOUT_S, ClientError

DEFAULT_BOOTSTRAP = "localhost:9092"
ENV_BROKERS = "FERROKAFKA_BROKERS"
# Where a group's -b is kept for its subcommands (ctx.meta is shared by the whole chain).
_META_KEY = "ferrokafka_cli.bootstrap_server"
_HELP = (
    f"HOST:PORT of a broker (comma-separated for several). Default: ${ENV_BROKERS}, "
    f"else {DEFAULT_BOOTSTRAP}."
)

F = TypeVar("F", bound=Callable[..., Any])


def resolve_bootstrap(ctx: click.Context, given: str | None) -> str:
    """The command's flag, else its group's, else $FERROKAFKA_BROKERS, else the default."""
    if given:
        return given
    from_group = ctx.meta.get(_META_KEY)
    if from_group:
        return str(from_group)
    from_env = os.environ.get(ENV_BROKERS, "").strip()
    return from_env or DEFAULT_BOOTSTRAP


def _command_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    return resolve_bootstrap(ctx, value)


def _group_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_META_KEY] = value


def group_bootstrap_option(f: F) -> F:
    """``-b/--bootstrap-server`` on a command group, for every subcommand under it."""
    return click.option(
        "-b",
        "--bootstrap-server",
        "group_bootstrap_server",
        metavar="HOST:PORT",
        expose_value=False,
        is_eager=True,
        callback=_group_callback,
        help=f"For every subcommand. {_HELP}",
    )(f)


def bootstrap_options(f: F) -> F:
    """``-b/--bootstrap-server`` (resolved as the module docstring says) and ``--timeout``."""
    f = click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=DEFAULT_TIMEOUT_S,
        show_default=True,
        help="Seconds to wait for the broker on each request.",
    )(f)
    return click.option(
        "-b",
        "--bootstrap-server",
        metavar="HOST:PORT",
        default=None,
        callback=_command_callback,
        help=_HELP,
    )(f)


def reports_errors(f: F) -> F:
    """Client and broker errors become one line on stderr and exit code 1 (ClickException)."""

    @wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except ClientError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]
