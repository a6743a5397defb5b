"""``ai-connect mcp``: the MCP server's command line (docs/mcp.md).

A thin shell: it sets up logging and hands its options to :func:`ai_connect.mcp.run.run`,
which resolves the settings and serves.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ai_connect.cli.options import (
    TOKEN_ON_COMMAND_LINE,
    Connection,
    LogFileOpt,
    connects,
    setup_logging,
)

__all__ = ["mcp"]


@connects
def mcp(
    transport: Annotated[
        str, typer.Option(help="stdio (a client spawns it) or http (/mcp and legacy /sse)")
    ] = "stdio",
    host: Annotated[
        str | None, typer.Option(help="http: address to bind [config mcp.host; default: 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="http: port; 0 picks a free one [config mcp.port; default: 9998]"),
    ] = None,
    *,
    conn: Connection,
    context_max_bytes: Annotated[
        int | None, typer.Option(min=1024, help="peer_context size cap [default: 49152]")
    ] = None,
    progress_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between peer_wait progress notifications")
    ] = 10.0,
    ready_file: Annotated[
        Path | None, typer.Option(help="http: write the base URL here once listening")
    ] = None,
    channel: Annotated[
        str,
        typer.Option(
            help="stdio: push new mail as Claude Code channel events: auto (to a client "
            "known to listen), on, off (docs/hooks.md)"
        ),
    ] = "auto",
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    log_file: LogFileOpt = None,
) -> None:
    """Run the MCP server: the peer_* tools for Claude Code, Codex, Gemini CLI, Cursor, VS Code.

    See docs/mcp.md. Logs go to stderr and to mcp.log (--log-file); over stdio, stdout
    carries MCP.
    """
    # Imported here, not at the top: the MCP SDK, starlette and uvicorn load only for this
    # command, not for every ai-connect start (hooks start through the same CLI).
    from ai_connect.mcp.run import run

    setup_logging(log_level, "mcp", log_file)
    if conn.token:  # stdout carries MCP: the warning goes to the log (stderr and mcp.log)
        logging.getLogger("ai_connect.mcp").warning(TOKEN_ON_COMMAND_LINE)
    if log_level.lower() != "debug":
        logging.getLogger("mcp").setLevel(logging.WARNING)  # one INFO line per HTTP session
    run(
        transport,
        own=conn.settings(),
        host=host,
        port=port,
        context_max_bytes=context_max_bytes,
        progress_interval_s=progress_interval,
        ready_file=ready_file,
        channel=channel,
    )
