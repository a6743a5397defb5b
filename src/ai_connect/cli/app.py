"""The typer app of ``ai-connect``: a thin adapter over the bridge and BridgeClient.

``run(argv) -> int`` catches only :class:`~ai_connect.errors.BridgeError`, prints
``Type: message`` to stderr and returns a non-zero exit code. Exit codes: 0 done,
1 a BridgeError (bridge down, unknown peer, ...), 2 a usage error, 124 ``wait`` timed out.

One module per command group; this one mounts them (``ai_connect.cli.main`` is the
entry point that runs it)::

    messages.py   send read wait peers history search status (printing.py: their output)
    leases.py     claim release claims
    bridge.py     bridge                 token.py      token …, admin …
    upkeep.py     admin forget, admin dead-letters
    migrate.py    admin migrate (SQLite -> PostgreSQL)
    consensus.py  consensus …            setup.py      setup
    hook.py       hook … (docs/hooks.md) mcp.py        mcp (docs/mcp.md)
    service.py    service install|status|uninstall|logs (systemd)
    logs.py       logs (the log files)    doctor.py     doctor (docs/operations.md)
    watch.py      watch (the live view, ai_connect.watch)
    options.py    the shared options: @connects, Connection (a command's client), setup_logging
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from ai_connect import __version__
from ai_connect.cli import (
    bridge,
    consensus,
    doctor,
    hook,
    leases,
    logs,
    mcp,
    messages,
    migrate,  # noqa: F401 - admin migrate joins `ai-connect admin`
    service,
    setup,
    token,
    upkeep,  # noqa: F401 - its commands join `ai-connect admin`
    watch,
)
from ai_connect.errors import BridgeError
from ai_connect.launcher import spell
from ai_connect.text import terminal

__all__ = ["app", "run"]

EXIT_ERROR = 1

# Typer's usage errors are click's (vendored by typer 0.2x, the click package before it):
# found through typer's own BadParameter, so either works.
_CLICK = {c.__name__: c for c in typer.BadParameter.__mro__}
_ClickError: type[Exception] = _CLICK["ClickException"]
_UsageError: type[Exception] = _CLICK["UsageError"]

app = typer.Typer(
    name="ai-connect",
    help="A message bridge that lets AI coding agents talk, share context and decide together.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, pwsh)
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich markup would eat "[default: ...]" and "[env ...]"
)


def version() -> None:
    """Print the version."""
    print(__version__)


def _print_version(wanted: bool) -> None:
    if wanted:
        print(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit",
        ),
    ] = False,
) -> None:
    """A message bridge that lets AI coding agents talk, share context and decide together."""


# The order of --help: commands, then command groups, each as registered here.
app.command(name="bridge")(bridge.bridge)
app.command(name="version")(version)
for command in messages.COMMANDS:
    app.command()(command)
for command in leases.COMMANDS:
    app.command()(command)
app.command(name="mcp")(mcp.mcp)
app.command(name="setup")(setup.setup)
app.command(name="logs")(logs.logs)
app.command(name="doctor")(doctor.doctor)
app.command(name="watch")(watch.watch)
app.add_typer(hook.hooks_app, name="hook")
app.add_typer(token.token_app, name="token")
app.add_typer(token.admin_app, name="admin")
app.add_typer(consensus.consensus_app, name="consensus")
app.add_typer(service.service_app, name="service")


def run(argv: list[str] | None = None, *, client_options: Mapping[str, Any] | None = None) -> int:
    """Runs the CLI; returns the exit code instead of raising SystemExit.

    ``client_options``: extra BridgeClient arguments for the client of each command that
    opens one through ``options.Connection.client`` (send … status, consensus, admin); tests
    pass the transport seam, ``connect``, to reach a bridge without a port. ``hook`` and
    ``mcp`` build theirs from their own settings (``HookSettings``, ``McpSettings``).

    Errors go to stderr as ``Type: message; what to do``; with ``--json`` they are also
    ``{"error": {...}}`` on stdout, so a script reads JSON whatever happened.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["help"]:  # `ai-connect help [COMMAND …]`, as git and pip have it
        args = [*args[1:], "--help"]
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    try:
        code = app(
            args=args, prog_name="ai-connect", obj=dict(client_options or {}), standalone_mode=False
        )
    except SystemExit as exc:  # shell completion exits by itself
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    except _ClickError as exc:  # a usage error: exit 2
        usage: Any = exc
        if as_json:
            error = {"type": "UsageError", "message": usage.format_message(), "hint": ""}
            if isinstance(exc, _UsageError) and usage.ctx is not None:
                error["hint"] = f"'{usage.ctx.command_path} --help' shows the usage"
            print(terminal.to_json({"error": error}), flush=True)
        usage.show()
        return int(usage.exit_code)
    except typer.Abort:
        print("Aborted!", file=sys.stderr)
        return EXIT_ERROR
    except BridgeError as exc:
        if as_json:
            error = terminal.error_dict(exc)
            error["error"]["hint"] = spell(error["error"]["hint"])
            print(terminal.to_json(error), flush=True)
        print(spell(terminal.error_text(exc)), file=sys.stderr)
        return EXIT_ERROR
    return code if isinstance(code, int) else 0
