"""Helpers for the MCP tests: settings with short timeouts, the official MCP client
against the server in memory or over HTTP (uvicorn in this event loop, port 0), and
helpers to read tool results.

Nothing here sleeps: every wait is on an event, a future or a subprocess line, bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from mcp.types import CallToolResult, TextContent

from ai_connect.config import ClientSettings
from ai_connect.mcp.http import build_http_app
from ai_connect.mcp.server import Hub, McpScope, McpSettings, build_server, sharing
from ai_connect.mcp.tools import ToolSettings
from mcp import Client, StdioServerParameters
from tests.client.support import PROJECT, fast_delays
from tests.support.inprocess import CLIENT_OPTIONS

TOOL_NAMES = {
    "peer_list",
    "peer_send",
    "peer_read",
    "peer_wait",
    "peer_history",
    "peer_search",
    "peer_context",
    "peer_status",
    "consensus_propose",
    "consensus_vote",
    "consensus_status",
    "consensus_list",
}
MODES = ("legacy", "auto")
"""``legacy``: the 2025 initialize handshake (today's clients); ``auto``: the 2026 era."""


def settings(
    url: str, name: str, project: str = PROJECT, cwd: Path | None = None, **tools: Any
) -> McpSettings:
    """Settings for one MCP server: fast reconnects, short timeouts, quick progress."""
    tools.setdefault("progress_interval_s", 0.05)
    tools.setdefault("drain_s", 1.0)
    return McpSettings(
        ClientSettings(url, name, project),
        tools=ToolSettings(cwd=cwd or Path.cwd(), **tools),
        client_options={
            **CLIENT_OPTIONS,  # the in-process network: a bridge from tests.support.inprocess
            "reconnect_delays": fast_delays,
            "request_timeout": 5.0,
            "connect_timeout": 3.0,
        },
        connect_wait_s=3.0,
    )


def in_memory(s: McpSettings, mode: str = "legacy") -> Client:
    """The official MCP client connected in-process to a fresh server of ``s``."""
    return Client(build_server(s), mode=mode)


@contextlib.asynccontextmanager
async def served(s: McpSettings, mode: str = "legacy") -> AsyncIterator[tuple[Client, Hub]]:
    """Like :func:`in_memory`, also yielding the server's Hub (to wait on its clients)."""
    hub = Hub(s)
    async with hub, Client(build_server(s, lifespan=sharing(McpScope(hub))), mode=mode) as client:
        yield client, hub


def text(result: CallToolResult) -> str:
    """The text of a tool result (the first content block)."""
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def data(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful tool result."""
    assert not result.is_error, text(result)
    content = result.structured_content
    assert isinstance(content, dict), f"no structured content: {result}"
    return content


async def call(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    return await client.call_tool(tool, arguments)


@contextlib.asynccontextmanager
async def http_server(s: McpSettings) -> AsyncIterator[str]:
    """The HTTP app of ``s`` under uvicorn on 127.0.0.1 port 0; yields ``http://host:port``."""
    ready = asyncio.Event()
    app = build_http_app(s, on_ready=ready.set)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for an ``ai-connect`` subprocess: no user config, our interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")}
    env["AI_CONNECT_CONFIG"] = str(tmp_path / "no-config.yaml")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stdio_params(url: str, name: str, cwd: Path, *extra: str) -> StdioServerParameters:
    """``python -m ai_connect mcp`` over stdio, run in ``cwd`` (its project)."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "ai_connect", "mcp", "--bridge", url, "--name", name, *extra],
        cwd=str(cwd),
        env=cli_env(cwd),
    )
