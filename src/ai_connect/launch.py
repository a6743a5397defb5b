"""The ``ai-connect`` program's entry point: ``ai-connect mcp`` over stdio starts quickly.

Every other command goes straight to :func:`ai_connect.cli.main`. A stdio MCP server
first puts :mod:`ai_connect.mcp.front` (standard library only) between the client and
the full server, so the handshake is answered before the SDK has loaded (docs/mcp.md,
"Start-up").
"""

from __future__ import annotations

import os
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Runs ``ai-connect ARGV``; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    from ai_connect.mcp import front

    mode = front.wants_front(args, os.environ)

    def run() -> int:
        from ai_connect.cli import main as cli_main

        return cli_main(args)

    return run() if mode is None else front.main(mode, run)
