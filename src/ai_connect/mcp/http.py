"""``ai-connect mcp --transport http``: Streamable HTTP at ``/mcp`` and the legacy SSE
transport at ``/sse`` (+ ``/messages/``) on one port, over one :class:`Hub`.

The original AI-Connect served SSE only, at ``http://127.0.0.1:9998/sse``; configs that
point there keep working. A session may ask for its own identity with ``?name=&project=``
or the ``X-AI-Connect-Name`` / ``X-AI-Connect-Project`` headers (docs/mcp.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from mcp.server.lowlevel.server import Server
from mcp.server.runner import serve_dual_era_loop
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from ai_connect import __version__
from ai_connect.errors import BridgeError, ConfigError
from ai_connect.mcp.server import (
    DEFAULT_HTTP_PORT,
    Hub,
    McpScope,
    McpSettings,
    build_server,
    requested_identity,
    sharing,
)

__all__ = ["build_http_app", "listen", "serve_http"]

log = logging.getLogger("ai_connect.mcp")


def _security(host: str) -> TransportSecuritySettings | None:
    """DNS-rebinding protection on loopback, as the SDK does for its own apps."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )


class _SseEndpoint:
    """GET /sse: one legacy SSE session, with its own identity if it asked for one."""

    def __init__(self, server: Server[McpScope], hub: Hub, sse: SseServerTransport) -> None:
        self.server, self.hub, self.sse = server, hub, sse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            who = requested_identity(request, self.hub.identity)
            own = self.hub.new_client(who) if who is not None else None
        except ConfigError as exc:
            await PlainTextResponse(str(exc), status_code=400)(scope, receive, send)
            return
        try:
            async with self.sse.connect_sse(scope, receive, send) as (read, write):
                if own is not None:
                    await own.connect(wait=False)
                await serve_dual_era_loop(
                    self.server,
                    read,
                    write,
                    lifespan_state=McpScope(self.hub, own),
                    init_options=self.server.create_initialization_options(),
                )
        except ValueError:  # connect_sse already answered a request it refused
            log.warning("refused an SSE request from %s", request.client)
        finally:
            if own is not None:
                await own.close()


def _healthz(hub: Hub) -> Callable[[Request], Awaitable[Response]]:
    """GET /healthz: ``ok`` while the link to the bridge is up, else 503 and why."""

    async def healthz(request: Request) -> Response:
        ok, text = hub.watch.health()
        return PlainTextResponse(text, status_code=200 if ok else 503)

    return healthz


def build_http_app(
    settings: McpSettings, *, host: str = "127.0.0.1", on_ready: Callable[[], None] | None = None
) -> Starlette:
    """One Starlette app: /mcp (Streamable HTTP), /sse and /messages/ (SSE), /healthz."""
    hub = Hub(settings)
    server = build_server(settings, lifespan=sharing(McpScope(hub)))
    security = _security(host)
    manager = StreamableHTTPSessionManager(app=server, security_settings=security)
    sse = SseServerTransport("/messages/", security_settings=security)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with hub, manager.run():
            if on_ready is not None:
                on_ready()
            yield

    routes = [
        Route("/mcp", endpoint=StreamableHTTPASGIApp(manager)),
        Route("/sse", endpoint=_SseEndpoint(server, hub, sse), methods=["GET"]),
        Mount("/messages/", app=sse.handle_post_message),
        Route("/healthz", endpoint=_healthz(hub)),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _write_ready(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


async def serve_http(
    settings: McpSettings,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_HTTP_PORT,
    ready_file: Path | None = None,
) -> None:
    """Serves /mcp and /sse until SIGINT/SIGTERM; reports the real port once ready."""
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    base = f"http://{f'[{host}]' if ':' in host else host}:{bound}"

    own = settings.client

    def ready() -> None:
        if ready_file is not None:
            _write_ready(ready_file, base + "\n")
        print(
            f"ai-connect mcp {__version__} listening on {base}/mcp (Streamable HTTP) and "
            f"{base}/sse (SSE) as {own.name} ({own.project}), bridge {own.url}",
            file=sys.stderr,
            flush=True,
        )

    if _security(host) is None:
        log.warning("listening on %s: anyone who can reach it can speak as this peer", host)
    app = build_http_app(settings, host=host, on_ready=ready)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2
    )
    with sock:
        await _Uvicorn(config).serve(sockets=[sock])


class _Uvicorn(uvicorn.Server):
    """uvicorn, except that SIGINT/SIGTERM end ``serve()`` normally, so the process exits
    0 after the graceful shutdown (uvicorn re-raises the signal, dying by it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket for uvicorn; every connection it accepts has ``TCP_NODELAY``.

    Without it, each tool call on a kept-alive connection waited ~40 ms: the response
    leaves in several small writes, and Nagle's algorithm holds the later ones until the
    client's delayed ACK of the first (issue 13). asyncio turns Nagle off on every TCP
    connection it wraps, but only when the socket's ``proto`` is ``IPPROTO_TCP``, and an
    accepted socket takes its ``proto`` from the listener: ``socket.create_server`` makes
    proto-0 listeners, so the socket is re-wrapped here with the protocol named. The
    option is also set on the listener itself, which Linux copies to accepted sockets
    (that covers event loops that do not set it per connection).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        made = socket.create_server((host, port), family=family)
    except OSError as exc:
        raise BridgeError(
            f"cannot listen on {host}:{port}: {exc.strerror}; is another ai-connect mcp "
            "running? choose another --port"
        ) from exc
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=made.detach())
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
