"""The observer side of :class:`~ai_connect.client.BridgeClient` (docs/protocol.md §9).

A client made with ``mode="observe"`` never becomes a peer: after each ``welcome`` the
bridge sends it a :class:`~ai_connect.protocol.FeedSnapshot`, then one
:class:`~ai_connect.protocol.FeedEvent` per thing it does. :meth:`ObserverMixin.observe`
hands them out in order, so that ``ai-connect watch`` and the dashboard never touch a
frame of their own::

    async with BridgeClient(url, "ops", "proj", mode="observe", token=admin) as client:
        async for item in client.observe():
            if isinstance(item, FeedSnapshot):
                ...  # start over from it (also after a reconnect)
            else:
                ...  # item.kind: message, delivered, shown, join, leave, proposal

Sending as a human is :meth:`BridgeClient.send` with ``as_="Name"``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ai_connect.protocol import FeedEvent, FeedSnapshot

__all__ = ["FeedItem", "ObserverMixin"]

FeedItem = FeedSnapshot | FeedEvent


class ObserverMixin:
    """The feed's queue and its async iterator."""

    def _feed_init(self) -> None:
        self._feed: asyncio.Queue[FeedItem | None] = asyncio.Queue()
        self._feed_closed = False

    def _feed_put(self, item: FeedItem) -> None:
        self._feed.put_nowait(item)

    def _feed_close(self) -> None:
        """The client closed: every ``observe()`` loop ends."""
        self._feed_closed = True
        self._feed.put_nowait(None)

    async def observe(self) -> AsyncIterator[FeedItem]:
        """The snapshot after each (re)connect, then each event, in the bridge's order,
        until the client is closed. Needs ``mode="observe"``; a snapshot after the first
        means the link was down: events may have been missed, start over from it."""
        while True:
            if self._feed_closed and self._feed.empty():
                return
            item = await self._feed.get()
            if item is None:
                self._feed.put_nowait(None)  # for any other loop over the same feed
                return
            yield item
