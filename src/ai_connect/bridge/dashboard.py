"""The web dashboard's HTTP side: ``GET /ui/...`` on the bridge's own port (README "Watch it").

``BridgeServer._http`` (websockets' ``process_request``) hands every plain HTTP request
here before it answers ``/healthz`` and ``/metrics``. The dashboard is three small files
vendored in the package (``bridge/web/``: ``index.html``, ``app.js``, ``app.css``; no
CDN, no build step). They hold no data: the page opens the bridge's WebSocket itself,
on the same port, with an observer ``hello`` (``mode: "observe"``, docs/protocol.md §9)
carrying the admin token the operator typed into its login form; the router checks that
token as it checks every other one, so the dashboard adds no second way in.

Served only when the operator turned it on (``ai-connect bridge --ui``, config
``server.ui: true``); off, ``/ui`` answers 404 saying how to turn it on. Every answer
carries a Content-Security-Policy that lets the page load its own script and style and
connect to its own origin, nothing else, and an ``ETag`` (a reload costs a 304).

:func:`foreign_origin` is the other half: a browser's WebSocket handshake carries an
``Origin``; one from another site (a page the operator happens to visit, reaching for a
bridge on loopback) is refused before it reaches the router. Non-browser clients send no
``Origin`` and are not affected.
"""

from __future__ import annotations

import email.utils
import hashlib
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from importlib import resources
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = ["ASSETS", "CSP", "PREFIX", "Asset", "asset", "foreign_origin", "respond"]

PREFIX = "/ui"
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
"""The dashboard's files (``bridge/web/``) and their content types."""
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Own script, style and WebSocket only; no inline script, no frames (peer text is put
into the page as text, never as markup: app.js)."""
_OFF = (
    "ai-connect bridge: the dashboard is off; start the bridge with "
    "'ai-connect bridge --ui' (or 'server: {ui: true}' in the config file)\n"
)


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@cache
def asset(name: str) -> Asset:
    """One dashboard file, read once from the package."""
    body = resources.files("ai_connect.bridge").joinpath("web", name).read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, ASSETS[name], etag)


def respond(ws: ServerConnection, request: Request, enabled: bool) -> Response | None:
    """The answer to a request under ``/ui``; ``None`` for any other path."""
    path = urlsplit(request.path).path
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return None
    if not enabled:
        return ws.respond(HTTPStatus.NOT_FOUND, _OFF)
    if path == PREFIX:  # the page's links are relative: it must be read as a folder
        return _response(HTTPStatus.PERMANENT_REDIRECT, {"Location": PREFIX + "/"}, b"")
    name = path.removeprefix(PREFIX + "/") or "index.html"
    if name not in ASSETS:
        return ws.respond(
            HTTPStatus.NOT_FOUND, f"ai-connect bridge: no {path}; the dashboard is at {PREFIX}/\n"
        )
    found = asset(name)
    headers = {"Content-Type": found.content_type, "ETag": found.etag, "Cache-Control": "no-cache"}
    if found.etag in request.headers.get_all("If-None-Match"):
        return _response(HTTPStatus.NOT_MODIFIED, headers, b"")
    return _response(HTTPStatus.OK, headers, found.body)


def _response(status: HTTPStatus, extra: dict[str, str], body: bytes) -> Response:
    headers = Headers(
        {
            "Date": email.utils.formatdate(usegmt=True),
            "Connection": "close",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Content-Length": str(len(body)),
            **extra,
        }
    )
    return Response(status.value, status.phrase, headers, body)


def foreign_origin(request: Request) -> str | None:
    """The ``Origin`` of a browser request from another site than the bridge's own, if so.

    A browser sends ``Origin`` with every WebSocket handshake; the dashboard's own page
    sends the bridge's ``host:port`` there, which is also the ``Host`` it asked for.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    host = request.headers.get("Host", "").lower()
    return None if urlsplit(origin).netloc.lower() == host else origin
