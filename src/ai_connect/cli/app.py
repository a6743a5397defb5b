"""The typer app of ``ai-connect``: a thin adapter over the bridge and BridgeClient.

``run(argv) -> int`` catches only :class:`~ai_connect.errors.BridgeError`, prints
``Type: message`` to stderr and returns a non-zero exit code. Exit codes: 0 done,
1 a BridgeError (bridge down, unknown peer, ...), 2 a usage error, 124 ``wait`` timed out.

One module per command group; this one mounts them (``ai_connect.cli.main`` is the
entry point that runs it)::

    messages.py   send read wait peers history search status
    bridge.py     bridge                 token.py      token …, admin …
    upkeep.py     admin forget, admin dead-letters
    consensus.py  consensus …            setup.py      setup
    hook.py       hook … (docs/hooks.md) mcp.py        mcp (docs/mcp.md)
    service.py    service install|status|uninstall|logs (systemd)
    logs.py       logs (the log files)    doctor.py     doctor (docs/operations.md)
    watch.py      watch (the live view, ai_connect.watch)
    options.py    the shared options, make_client, setup_logging
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

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
    service,
    setup,
    token,
    upkeep,  # noqa: F401 - its commands join `ai-connect admin`
    watch,
)
from ai_connect.errors import BridgeError
from ai_connect.text.neutral import neutralise

__all__ = ["app", "run"]

EXIT_ERROR = 1

app = typer.Typer(
    name="ai-connect",
    help="A message bridge that lets AI coding agents talk, share context and decide together.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich markup would eat "[default: ...]" and "[env ...]"
)


def version() -> None:
    """Print the version."""
    print(__version__)


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
    opens one through ``options.make_client`` (send … status, consensus, admin); tests
    pass the transport seam, ``connect``, to reach a bridge without a port. ``hook`` and
    ``mcp`` build theirs from their own settings (``HookSettings``, ``McpSettings``).
    """
    try:
        app(args=argv, prog_name="ai-connect", obj=dict(client_options or {}))
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    except BridgeError as exc:
        # An error may quote peers' names (did you mean …): shown neutralised, as all peer text.
        print(f"{type(exc).__name__}: {neutralise(str(exc), multiline=True)}", file=sys.stderr)
        return EXIT_ERROR
    return 0
