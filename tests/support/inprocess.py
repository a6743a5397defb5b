"""An in-process network for the tests: bridges without ports, reached by URL.

The surfaces (CLI, MCP server, hooks) build their own clients from a bridge URL. To run
them against a real bridge without a port, a bridge started with ``listen=False`` is
given a URL here (``ws://in-process.invalid:N``) by :func:`serving`, and the surfaces get
:data:`CLIENT_OPTIONS` (BridgeClient's transport seam, ``connect=``): each connection to
a served URL becomes a ``socket.socketpair()`` handed to that bridge's ``accept``; an
in-process URL nothing serves is refused, as a closed port would be; any other URL goes
over TCP as usual. So ``--bridge``, ``AI_CONNECT_BRIDGE`` and ``bridge.host``/``.port``
still decide which bridge a client reaches.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import connect as websockets_connect

from ai_connect.bridge.server import BridgeServer
from ai_connect.bridge.store.base import Store

from .bridge import ThreadedBridge
from .bridge import bridge as bridge_in_this_loop

__all__ = ["CLIENT_OPTIONS", "HOST", "Served", "bridge", "connect", "serving", "unserved_url"]

HOST = "in-process.invalid"
"""The host of every in-process URL (``.invalid``: no resolver ever answers it)."""

_ports = itertools.count(40_001)
_lock = threading.Lock()
_served: dict[str, Callable[[socket.socket], None]] = {}
"""URL -> how its bridge takes one end of a socketpair."""


def connect(uri: str, **options: Any) -> websockets_connect:
    """websockets' ``connect``: over the in-process network for an in-process URL (refused
    if nothing serves it), over TCP for any other."""
    if urlsplit(uri).hostname != HOST:
        return websockets_connect(uri, **options)
    with _lock:
        accept = _served.get(uri)
    if accept is None:
        raise ConnectionRefusedError(f"[in-process] nothing serves {uri}")
    ours, theirs = socket.socketpair()
    try:
        accept(theirs)
    except (OSError, RuntimeError) as exc:  # the bridge is closing: as a closed port
        ours.close()
        theirs.close()
        raise ConnectionRefusedError(f"[in-process] {uri} refused: {exc}") from exc
    return websockets_connect(uri, sock=ours, **options)


CLIENT_OPTIONS: dict[str, Any] = {"connect": connect}
"""The BridgeClient arguments that put a surface's clients on this network."""


@contextlib.contextmanager
def serving(bridge: BridgeServer | ThreadedBridge, url: str | None = None) -> Iterator[str]:
    """Serves ``bridge`` (started with ``listen=False``) at ``url`` (default: a new
    in-process URL), which it yields; the URL is refused again afterwards."""
    url = url or unserved_url()
    with _lock:
        if url in _served:
            raise RuntimeError(f"{url} is served already")
        _served[url] = _acceptor(bridge)
    try:
        yield url
    finally:
        with _lock:
            _served.pop(url, None)


@dataclass(frozen=True)
class Served:
    """A bridge in this event loop and the in-process URL it is served at."""

    server: BridgeServer
    url: str


@contextlib.asynccontextmanager
async def bridge(
    store: Store | None = None, *, url: str | None = None, **settings: Any
) -> AsyncIterator[Served]:
    """``async with bridge() as served:`` a started bridge with no port, at ``served.url``
    (``url``: a given one, e.g. where a stopped bridge was). Takes the arguments of
    :func:`tests.support.bridge.bridge`."""
    async with bridge_in_this_loop(store, listen=False, **settings) as server:
        with serving(server, url) as served:
            yield Served(server, served)


def unserved_url() -> str:
    """An in-process URL that nothing serves: every connection to it is refused."""
    return f"ws://{HOST}:{next(_ports)}"


def _acceptor(bridge: BridgeServer | ThreadedBridge) -> Callable[[socket.socket], None]:
    if isinstance(bridge, BridgeServer):
        return bridge.accept  # called from the bridge's own event loop

    def accept_in_its_thread(sock: socket.socket) -> None:
        server = bridge.server
        if server is None:
            raise RuntimeError("the bridge is not started")

        async def accept() -> None:
            server.accept(sock)

        call = accept()
        try:
            bridge.call(call)
        except RuntimeError:  # its loop is closed: the coroutine never ran
            call.close()
            raise

    return accept_in_its_thread
