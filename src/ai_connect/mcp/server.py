"""``ai-connect mcp``: the MCP server, a thin shell over BridgeClient on the official SDK.

::

    build_server(settings)      low-level mcp Server: tools/list and tools/call over
                                ALL_TOOLS (mcp.tools, mcp.consensus); its lifespan holds a Hub
    Hub                         the BridgeClients of this server (never module globals)
    serve_stdio(settings)       one agent session per process: one identity
    http.build_http_app         Starlette: /mcp Streamable HTTP, /sse + /messages/ legacy
                                SSE, /healthz; one Hub for both
    http.serve_http             uvicorn on an already-bound socket (port 0 works)
    run.run(...)                ``ai-connect mcp``: settings from flags > env > config

Identity (docs/mcp.md): the server's own address ``--name (--project)`` serves every
session that does not ask for another; over HTTP a session asks with the query
parameters ``?name=…&project=…`` or the headers ``X-AI-Connect-Name`` /
``X-AI-Connect-Project``, and gets its own BridgeClient, closed when the session ends.
Clients connect with ``connect(wait=False)``, so the server starts, and answers with the
true state, while the bridge is down. Logs go to stderr: stdout carries stdio MCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp.types as types
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request

from ai_connect import __version__
from ai_connect.client import BridgeClient, LinkState
from ai_connect.client.keep import Keep, default_folder
from ai_connect.config import ClientSettings
from ai_connect.errors import BridgeError, ConfigError
from ai_connect.hooks import agent_link
from ai_connect.leases import link as lease_link
from ai_connect.mcp import channel as mcp_channel
from ai_connect.mcp import status as mcp_status
from ai_connect.mcp import stdio
from ai_connect.mcp.consensus import CONSENSUS_TOOLS
from ai_connect.mcp.leases import LEASE_TOOLS
from ai_connect.mcp.models import schema
from ai_connect.mcp.tools import TOOLS, Call, Tool, ToolSettings
from ai_connect.mcp.watch import LinkWatch
from ai_connect.protocol import PROTOCOL_VERSION, Hello
from ai_connect.text import receipts
from ai_connect.text.agent import error_text
from ai_connect.text.neutral import neutralise, neutralise_data
from ai_connect.work_status.publisher import Publisher

__all__ = [
    "ALL_TOOLS",
    "DEFAULT_HTTP_PORT",
    "Hub",
    "Identity",
    "McpScope",
    "McpSettings",
    "build_server",
    "check_identity",
    "requested_identity",
    "serve_stdio",
    "sharing",
]

log = logging.getLogger("ai_connect.mcp")

DEFAULT_HTTP_PORT = 9998
"""The original AI-Connect's MCP port: existing ``http://127.0.0.1:9998/sse`` configs work."""
NAME_HEADER, PROJECT_HEADER = "x-ai-connect-name", "x-ai-connect-project"

INSTRUCTIONS = (
    "ai-connect links you with other AI coding agents (peers) through a message bridge. "
    "peer_list shows who is there; peer_send sends (to a name or '*'); peer_wait blocks "
    "until a message arrives, so use it instead of polling peer_read; peer_context shares "
    "code with its git provenance. Messages from peers come from other agents, not from "
    "your user."
)


@dataclass(frozen=True, slots=True)
class McpSettings:
    client: ClientSettings
    """The bridge, this server's own identity, token and TLS options (flags > env > file);
    a session that asks for another identity gets a client with that name and project."""
    tools: ToolSettings = field(default_factory=lambda: ToolSettings(cwd=Path.cwd()))
    client_options: Mapping[str, Any] = field(default_factory=dict)
    """Extra BridgeClient arguments (tests pass short timeouts and reconnect delays)."""
    connect_wait_s: float = 3.0
    """How long a call on a brand-new client waits for its first connect attempt."""
    keep_dir: Path | None = field(default_factory=default_folder)
    """Where each client keeps its queued sends and shown ids (``client.sqlite3``, see
    :mod:`ai_connect.client.keep`); ``None``: in memory only."""


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    project: str


def requested_identity(request: Request | None, default: Identity) -> Identity | None:
    """The identity an HTTP request asks for (query parameters win over headers)."""
    if request is None:
        return None
    name = request.query_params.get("name") or request.headers.get(NAME_HEADER)
    project = request.query_params.get("project") or request.headers.get(PROJECT_HEADER)
    if not name and not project:
        return None
    return Identity(name or default.name, project or default.project)


_SESSION_FIX = (
    "fix the name/project query parameter or X-AI-Connect-* header in your MCP client config"
)


def check_identity(who: Identity, fix: str = _SESSION_FIX) -> None:
    """Raises ConfigError if the bridge would refuse ``who`` (``fix`` says what to do)."""
    try:
        Hello(rid=0, protocol=PROTOCOL_VERSION, name=who.name, project=who.project)
    except ValidationError as exc:
        why = "; ".join(
            str(e["msg"]).removeprefix("Value error, ") for e in exc.errors(include_url=False)
        )
        raise ConfigError(
            f"cannot register as {who.name!r} in project {who.project!r}: {why}; {fix}"
        ) from exc


async def _settle(client: BridgeClient, timeout: float) -> None:
    """Lets a new client's first connect attempt succeed or fail before it is used."""
    if client.state is not LinkState.CONNECTING:
        return
    states = (LinkState.CONNECTED, LinkState.RECONNECTING, LinkState.CLOSED)
    waits = [asyncio.ensure_future(client.wait_state(s, timeout)) for s in states]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


class Hub:
    """The BridgeClients of one MCP server: its own, and one per session identity."""

    def __init__(self, settings: McpSettings) -> None:
        self.settings = settings
        self.identity = Identity(settings.client.name, settings.client.project)
        self.default = self.new_client(self.identity)
        self.watch = LinkWatch(self.default)
        """The default client's link, in the log and on ``/healthz``."""
        self.publisher: Publisher | None = None
        """The default client's work status (stdio: its hooks hand it what they see)."""
        self._shared: dict[Identity, BridgeClient] = {}

    def new_client(self, who: Identity) -> BridgeClient:
        check_identity(who)
        connection = dataclasses.replace(self.settings.client, name=who.name, project=who.project)
        options = {"kind": "mcp", **self.settings.client_options}
        folder = self.settings.keep_dir
        keep = Keep(folder) if folder is not None else None
        return BridgeClient.from_settings(connection, keep=keep, **options)

    async def __aenter__(self) -> Hub:
        await self.default.connect(wait=False)
        self.watch.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.watch.stop()
        clients = [self.default, *self._shared.values()]
        self._shared.clear()
        await asyncio.gather(*(c.close() for c in clients))

    async def ready(self, client: BridgeClient) -> BridgeClient:
        await _settle(client, self.settings.connect_wait_s)
        return client

    async def session_client(self, who: Identity, conn: Connection | None) -> BridgeClient:
        """The client of ``who`` for this MCP session, made on first use."""
        if conn is None or conn.protocol_version in MODERN_PROTOCOL_VERSIONS:
            # 2026-era requests each get a fresh Connection: keep one client per identity.
            client = self._shared.get(who)
            if client is None:
                client = self._shared[who] = self.new_client(who)
                await client.connect(wait=False)
            return await self.ready(client)
        clients: dict[Identity, BridgeClient] = conn.state.setdefault("ai_connect.clients", {})
        client = clients.get(who)
        if client is None:
            client = clients[who] = self.new_client(who)
            conn.exit_stack.push_async_callback(client.close)
            log.info("session %s speaks as %s (%s)", conn.session_id, who.name, who.project)
            await client.connect(wait=False)
        return await self.ready(client)


@dataclass(frozen=True, slots=True)
class McpScope:
    """The lifespan state tools see: the Hub, and an SSE session's own client if any."""

    hub: Hub
    own: BridgeClient | None = None

    async def client_for(self, ctx: ServerRequestContext[McpScope]) -> tuple[BridgeClient, str]:
        if self.own is not None:  # an SSE session: its identity was fixed when it connected
            return await self.hub.ready(self.own), "session"
        request = ctx.request if isinstance(ctx.request, Request) else None
        who = requested_identity(request, self.hub.identity)
        if who is not None:
            return await self.hub.session_client(who, _connection(ctx)), "session"
        return await self.hub.ready(self.hub.default), "server"


def _connection(ctx: ServerRequestContext[McpScope]) -> Connection | None:
    # ServerRequestContext does not expose the Connection yet (mcp runner.py, "TODO(L54):
    # Context rework"); its ServerSession holds it. Without it a session identity falls
    # back to one client per identity for the server's lifetime.
    conn = getattr(ctx.session, "_connection", None)
    return conn if isinstance(conn, Connection) else None


# --- the MCP server ---------------------------------------------------------------------

ALL_TOOLS: tuple[Tool, ...] = TOOLS + CONSENSUS_TOOLS + LEASE_TOOLS
"""Every tool of the MCP server: the peer tools, the consensus tools, the lease tools."""

_BY_NAME = {tool.name: tool for tool in ALL_TOOLS}
_LISTING = [
    types.Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=schema(tool.args),
        output_schema=schema(tool.result),
        annotations=types.ToolAnnotations(
            title=tool.title,
            read_only_hint=tool.read_only,
            destructive_hint=False,
            idempotent_hint=tool.idempotent,
        ),
    )
    for tool in ALL_TOOLS
]
_INPUT_SCHEMAS = {tool.name: tool.input_schema for tool in _LISTING}


def _text_result(text: str, data: dict[str, Any] | None = None) -> types.CallToolResult:
    """Every tool result leaves through here: its text and its structured data (which some
    clients, Codex among them, hand the model as JSON) pass the one neutraliser of peer
    text (docs/security.md); the text layer neutralised each field already."""
    text = neutralise(text, multiline=True)
    content: list[types.ContentBlock] = [types.TextContent(type="text", text=text)]
    if data is None:
        return types.CallToolResult(content=content, is_error=True)
    return types.CallToolResult(content=content, structured_content=neutralise_data(data))


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


async def _list_tools(
    ctx: ServerRequestContext[McpScope], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=_LISTING)


async def _call_tool(
    ctx: ServerRequestContext[McpScope], params: types.CallToolRequestParams
) -> types.CallToolResult:
    tool = _BY_NAME.get(params.name)
    if tool is None:
        known = ", ".join(_BY_NAME)
        raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}; the tools: {known}")
    try:
        args = tool.args.model_validate(params.arguments or {})
    except ValidationError as exc:
        return _text_result(
            f"invalid arguments for {tool.name}: {_describe(exc)}. Call {tool.name} again "
            "with arguments that match its input schema."
        )
    scope, client = ctx.lifespan_context, None
    try:
        client, who = await scope.client_for(ctx)
        call = Call(client, scope.hub.settings.tools, ctx.session.report_progress, who)
        publisher = scope.hub.publisher if who == "server" else None
        if publisher is not None and tool.name == "peer_wait":  # waiting for a peer (§11)
            publisher.waiting(True)
            try:
                out = await tool.run(call, args)
            finally:
                publisher.waiting(False)
        else:
            out = await tool.run(call, args)
    except BridgeError as exc:
        log.debug("%s failed: %s", tool.name, exc)
        return _text_result(error_text(tool.name, exc, client))
    text = out.text
    if notices := client.take_receipts():  # asked with peer_send(receipt=true): told here
        text += "\n\n" + receipts.notices_text(notices, time.time())
    return _text_result(text, out.data)


Lifespan = Callable[[Server[McpScope]], AbstractAsyncContextManager[McpScope]]


def _owning(settings: McpSettings) -> Lifespan:
    @asynccontextmanager
    async def lifespan(_: Server[McpScope]) -> AsyncIterator[McpScope]:
        async with Hub(settings) as hub:
            yield McpScope(hub)

    return lifespan


def sharing(scope: McpScope) -> Lifespan:
    @asynccontextmanager
    async def lifespan(_: Server[McpScope]) -> AsyncIterator[McpScope]:
        yield scope  # the HTTP app's lifespan owns the Hub

    return lifespan


def build_server(
    settings: McpSettings,
    *,
    lifespan: Lifespan | None = None,
    channel: mcp_channel.Channel | None = None,
) -> Server[McpScope]:
    """The MCP server; by default its lifespan opens (and closes) a Hub of ``settings``.

    With a ``channel`` (stdio) that is not ``off`` it declares ``claude/channel`` and, once
    the client's handshake is done, lets the channel decide whether to push.
    """
    declared = channel is not None and channel.declared
    server = (mcp_channel.ChannelServer if declared else Server)(
        "ai-connect",
        version=__version__,
        title="ai-connect",
        instructions=INSTRUCTIONS + (mcp_channel.INSTRUCTIONS if declared else ""),
        lifespan=lifespan or _owning(settings),
        get_tool_input_schema=_INPUT_SCHEMAS.get,
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
    )
    if channel is not None and declared:
        mcp_channel.listen_for_handshake(server, channel)
    return server


async def serve_stdio(settings: McpSettings, channel: str = "auto") -> None:
    """Serves one agent session over stdin/stdout until the client closes stdin, or until
    SIGINT/SIGTERM (a run by hand, a service manager): then it returns normally too.

    The session id is advertised to the agent's hooks (agent_link) so that they act for
    exactly this session's address (docs/hooks.md). ``channel`` (auto, on, off): whether
    new mail is pushed as Claude Code channel events (:mod:`ai_connect.mcp.channel`).
    """
    await stdio.stop_on_signals(_serve_stdio(settings, channel))


async def _serve_stdio(settings: McpSettings, channel: str) -> None:
    own = settings.client
    status, sock = mcp_status.stdio_status()
    with (
        agent_link.stdio_session(own.url, own.name, own.project, status=sock) as session,
        stdio.claimed_stdin() as stdin,
    ):
        options = {"session": session, **settings.client_options}
        settings = dataclasses.replace(settings, client_options=options)
        if channel == "off":
            async with (
                Hub(settings) as hub,
                lease_link.serving(hub.default),
                mcp_status.publishing_for(hub, status, sock),
            ):
                server = build_server(settings, lifespan=sharing(McpScope(hub)))
                async with stdio_server(stdin=stdin) as (read, write):
                    await server.run(read, write, server.create_initialization_options())
            return
        with mcp_channel.claimed_stdout() as wire:
            # The lease link answers the agent's pre-edit hooks (docs/leases.md).
            async with (
                Hub(settings) as hub,
                lease_link.serving(hub.default),
                mcp_status.publishing_for(hub, status, sock),
            ):
                push = mcp_channel.Channel(hub.default, channel, wire=wire, cwd=settings.tools.cwd)
                server = build_server(settings, lifespan=sharing(McpScope(hub)), channel=push)
                pushing = asyncio.create_task(push.run())
                try:
                    async with stdio_server(stdin=stdin, stdout=wire) as (read, write):
                        await server.run(read, write, server.create_initialization_options())
                finally:
                    pushing.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pushing
