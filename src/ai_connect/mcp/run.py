"""``ai-connect mcp``: settings from flags > env > config file, then serve stdio or HTTP.

The entry of the MCP server, kept apart from :mod:`ai_connect.mcp.server` (which the
HTTP transport, :mod:`ai_connect.mcp.http`, builds on) so that the two import in one
direction only. ``ai_connect.cli.mcp`` is the typer command in front of it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from ai_connect import __version__
from ai_connect.code_context import DEFAULT_MAX_BYTES
from ai_connect.config import ClientSettings, mcp_address
from ai_connect.errors import ConfigError
from ai_connect.mcp import channel as mcp_channel
from ai_connect.mcp.front import BY_HAND
from ai_connect.mcp.http import serve_http
from ai_connect.mcp.server import (
    Identity,
    McpSettings,
    check_identity,
    serve_stdio,
)
from ai_connect.mcp.tools import ToolSettings

__all__ = ["TRANSPORTS", "run"]

log = logging.getLogger("ai_connect.mcp")

TRANSPORTS = ("stdio", "http", "sse")
_OWN_FIX = (
    "choose another name (--name in the server's command, AI_CONNECT_PEER_NAME in its "
    "environment, or peer.name in the config file) or --project"
)
"""The name comes from any of these: an agent client's MCP config often sets the
environment variable, not the flag."""


def run(
    transport: str = "stdio",
    *,
    own: ClientSettings,
    host: str | None = None,
    port: int | None = None,
    context_max_bytes: int | None = None,
    progress_interval_s: float = 10.0,
    ready_file: Path | None = None,
    channel: str = "auto",
) -> None:
    """``ai-connect mcp``: serves as ``own`` (its client settings, flags > env > config
    file: :meth:`ai_connect.cli.options.Connection.settings`).

    ``host``/``port`` (HTTP): ``None`` takes the config file's ``mcp.host``/``mcp.port``,
    else 127.0.0.1:9998."""
    if transport not in TRANSPORTS:
        raise ConfigError(f"--transport must be stdio or http (sse: the same), not {transport!r}")
    if channel not in mcp_channel.MODES:
        raise ConfigError(f"--channel must be auto, on or off, not {channel!r}")
    tools = ToolSettings(
        cwd=Path.cwd(),
        context_max_bytes=context_max_bytes or DEFAULT_MAX_BYTES,
        progress_interval_s=progress_interval_s,
    )
    check_identity(Identity(own.name, own.project), _OWN_FIX)
    settings = McpSettings(own, tools)
    if transport == "stdio":
        if sys.stdin.isatty():  # by hand (behind the front, fd 0 is a pipe: it said so)
            sys.stderr.write(BY_HAND)
        log.info("ai-connect mcp %s on stdio as %s (%s)", __version__, own.name, own.project)
        asyncio.run(serve_stdio(settings, channel))
    else:
        host, port = mcp_address(host, port)
        asyncio.run(serve_http(settings, host=host, port=port, ready_file=ready_file))
