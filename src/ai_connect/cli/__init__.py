"""The ``ai-connect`` command; ``main`` is its entry point (``ai_connect.cli:main``).

This module stays light on purpose: ``ai-connect mcp`` over stdio, run by an agent
client, must answer its handshake within milliseconds, before typer, pydantic and the MCP
SDK have loaded. Likewise ``ai-connect hook pre-edit`` (before every edit of an agent)
goes straight to :mod:`ai_connect.leases.front`. So ``main`` first asks
:mod:`ai_connect.mcp.front` (standard library only) whether to put the front between the
client and the full server (docs/mcp.md,
"Start-up"); every other command goes to the typer app in :mod:`ai_connect.cli.app`
(one module per command group, listed there).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["app", "main"]


def main(argv: list[str] | None = None, *, client_options: Mapping[str, Any] | None = None) -> int:
    """Runs ``ai-connect ARGV``; returns the exit code instead of raising SystemExit.

    Called as the program (``argv`` is ``None``), a stdio MCP server starts behind the
    front. ``client_options``: extra BridgeClient arguments for the client of each command
    that opens one through ``options.Connection.client`` (tests pass the transport seam,
    ``connect``, to reach a bridge without a port).
    """

    def run() -> int:
        from ai_connect.cli.app import run as run_app

        return run_app(argv if argv is not None else sys.argv[1:], client_options=client_options)

    if argv is not None:
        return run()
    if sys.argv[1:3] == ["hook", "pre-edit"]:
        # Before every edit of an agent: answered before typer and pydantic load.
        from ai_connect.leases import front as lease_front

        return lease_front.main(sys.argv[3:])
    from ai_connect.mcp import front

    mode = front.wants_front(sys.argv[1:], os.environ)
    return run() if mode is None else front.main(mode, run)


def __getattr__(name: str) -> Any:
    # ``from ai_connect.cli import app`` keeps working without loading typer at start-up.
    if name == "app":
        from ai_connect.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
