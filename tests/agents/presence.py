"""Waiting until a peer is online, on the bridge's presence events.

An agent's hook may say that it listens before the agent's MCP server has registered
its address: on a loaded machine the server takes seconds to load, while the client
already has its tools list (the stdio front answers it early). A test that looks at who
is online right after the hook's "ready" waits for the server's join instead.
"""

from __future__ import annotations

import asyncio
import contextlib

from ai_connect.client import BridgeClient, Message
from ai_connect.protocol import Presence

__all__ = ["Joins"]


class Joins:
    """The presence joins a client sees (make it with ``presence=True``)."""

    def __init__(self, client: BridgeClient) -> None:
        self._client = client
        self._joined = asyncio.Event()
        client.add_listener(self._heard)

    def _heard(self, item: Message | Presence) -> None:
        if isinstance(item, Presence) and item.event == "join":
            self._joined.set()

    async def online_with(self, address: str, timeout: float) -> list[str]:
        """The addresses online once ``address`` is one of them, or at ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._joined.clear()  # before asking: a join after the answer wakes us
            online = [p.address for p in await self._client.peers() if p.online]
            left = deadline - loop.time()
            if address in online or left <= 0:
                return online
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._joined.wait(), left)
