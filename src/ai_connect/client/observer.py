"""The observer side of :class:`~ai_connect.client.BridgeClient` (docs/protocol.md §9).

A client made with ``mode="observe"`` never becomes a peer: after each ``welcome`` the
bridge sends it a :class:`~ai_connect.protocol.FeedSnapshot`, then one
:class:`~ai_connect.protocol.FeedEvent` per thing it does. :meth:`ObserverMixin.observe`
hands them out in order, so that ``ai-connect watch`` and the dashboard never touch a
frame of their own::

    async with BridgeClient(url, "ops", "proj", mode="observe", token=admin) as client:
        async for item in client.observe():
            if isinstance(item, FeedSnapshot):
                ...  # start over from it (after a reconnect, or after falling behind)
            else:
                ...  # item.kind: message, delivered, shown, join, leave, proposal

A reader that falls more than :attr:`ObserverMixin.feed_limit` items behind does not
grow without end: what waits is dropped, the events that follow are skipped, and a
fresh snapshot (``feed_sync``) takes their place — the reader starts over from it.

Sending as a human is :meth:`BridgeClient.send` with ``as_="Name"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from ai_connect.client.pending import Requester
from ai_connect.errors import BridgeError
from ai_connect.protocol import FeedEvent, FeedSnapshot, FeedSync

__all__ = ["FeedItem", "Observer", "ObserverMixin"]

log = logging.getLogger("ai_connect.client")

FeedItem = FeedSnapshot | FeedEvent


class Observer(Requester, Protocol):
    """What the feed uses of the client: requests (``feed_sync``) and its own state."""

    feed_limit: int
    _feed: asyncio.Queue[FeedItem | None]
    _feed_closed: bool
    _feed_skipping: bool
    _feed_sync: asyncio.Task[None] | None


class ObserverMixin:
    """The feed's queue, its bound, and its async iterator."""

    feed_limit = 10_000
    """Items that may wait for the reader; past it the client resynchronises."""

    def _feed_init(self) -> None:
        self._feed: asyncio.Queue[FeedItem | None] = asyncio.Queue()
        self._feed_closed = False
        self._feed_skipping = False
        """Fell behind: events are dropped until the snapshot of ``feed_sync`` comes."""
        self._feed_sync: asyncio.Task[None] | None = None

    def _feed_put(self: Observer, item: FeedItem) -> None:
        if isinstance(item, FeedSnapshot):
            self._feed_skipping = False  # a welcome's, or our feed_sync's: start from it
        elif self._feed_skipping:
            return
        elif self._feed.qsize() >= self.feed_limit:
            _fell_behind(self)
            return
        self._feed.put_nowait(item)

    def _feed_close(self) -> None:
        """The client closed: every ``observe()`` loop ends."""
        self._feed_closed = True
        if self._feed_sync is not None:
            self._feed_sync.cancel()
        self._feed.put_nowait(None)

    async def observe(self) -> AsyncIterator[FeedItem]:
        """The snapshot after each (re)connect, then each event, in the bridge's order,
        until the client is closed. Needs ``mode="observe"``. Each snapshot after the
        first replaces everything before it (events may have been missed)."""
        while True:
            if self._feed_closed and self._feed.empty():
                return
            item = await self._feed.get()
            if item is None:
                self._feed.put_nowait(None)  # for any other loop over the same feed
                return
            yield item


def _fell_behind(client: Observer) -> None:
    """Drops what waits and asks for a fresh snapshot to take its place."""
    log.warning("the feed's reader fell %d items behind: starting over", client.feed_limit)
    while not client._feed.empty():
        client._feed.get_nowait()
    client._feed_skipping = True
    client._feed_sync = asyncio.get_running_loop().create_task(_resync(client))


async def _resync(client: Observer) -> None:
    # The reply is a FeedSnapshot with our rid: _feed_put gets it (in the bridge's order,
    # so every event before it is in it). A lost link brings one anyway.
    with contextlib.suppress(BridgeError):
        await client._request(FeedSync(rid=client._rid()), FeedSnapshot)
