"""The bridge's observer feed as the watch's events (docs/protocol.md §9).

:class:`FeedSource` is the watch's :class:`~ai_connect.watch.events.WatchSource` over a
:class:`~ai_connect.client.BridgeClient` made with ``mode="observe"``: the client hands
out :class:`~ai_connect.protocol.FeedSnapshot` and :class:`~ai_connect.protocol.FeedEvent`
(:meth:`BridgeClient.observe`), this module maps them to the watch's own types
(:func:`to_event`, pure), and adds what the feed cannot say itself: that the link is
down (a :class:`~ai_connect.watch.events.LinkChanged` row) until the next snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable

from ai_connect.client import BridgeClient
from ai_connect.errors import BridgeError
from ai_connect.protocol import (
    FeedDelivery,
    FeedEvent,
    FeedPeer,
    FeedSnapshot,
    MessageView,
    ReceiptReport,
)
from ai_connect.text.work import work_line
from ai_connect.watch.events import (
    DeliveryChanged,
    LinkChanged,
    MessageSeen,
    PeerInfo,
    PresenceChanged,
    ProposalChanged,
    Snapshot,
    WatchEvent,
    WorkChanged,
)

__all__ = ["FeedSource", "to_event", "to_snapshot"]


def _peer(p: FeedPeer) -> PeerInfo:
    work = work_line(p.work) if p.work is not None else None
    return PeerInfo(p.address, p.online, p.last_seen, p.unread, work)


def _delivery(d: FeedDelivery) -> DeliveryChanged:
    return DeliveryChanged(d.ts, d.id, d.recipient, d.state, d.path, d.from_)


def to_snapshot(frame: FeedSnapshot, bridge: str = "") -> Snapshot:
    return Snapshot(
        frame.ts,
        tuple(_peer(p) for p in frame.peers),
        tuple(frame.proposals),
        tuple(_delivery(d) for d in frame.unshown),
        bridge,
    )


def to_event(frame: FeedEvent) -> WatchEvent | None:
    """One feed event as the watch's event; ``None`` for one it cannot show (a kind
    without its payload, or one added to the protocol after this watch)."""
    if frame.kind == "message" and (m := frame.message) is not None:
        return MessageSeen(
            ts=m.ts,
            id=m.id,
            sender=m.from_,
            to=m.to,
            recipients=tuple(m.recipients),
            preview=m.preview,
            size=m.size,
            thread=m.thread,
            reply_to=m.reply_to,
            context=m.context,
            human=m.human,
            paused=m.paused,
            online=tuple(m.online),
        )
    if frame.kind in ("delivered", "shown") and frame.delivery is not None:
        return _delivery(frame.delivery)
    if frame.kind in ("join", "leave") and frame.peer is not None:
        return PresenceChanged(frame.ts, _peer(frame.peer), joined=frame.kind == "join")
    if frame.kind == "work" and frame.peer is not None:
        return WorkChanged(frame.ts, _peer(frame.peer))
    if frame.kind == "proposal" and frame.proposal is not None:
        return ProposalChanged(frame.ts, frame.change or "changed", frame.proposal)
    return None


def _past(m: MessageView, report: ReceiptReport) -> list[WatchEvent]:
    """A stored message and its receipts as the events the live feed would have given."""
    context = None
    if m.context:
        context = {k: v for k, v in m.context.items() if k != "content"}
        if isinstance(m.context.get("content"), str):
            context["bytes"] = len(m.context["content"].encode())
    events: list[WatchEvent] = [
        MessageSeen(
            ts=m.ts,
            id=m.id,
            sender=m.from_,
            to=m.to,
            recipients=tuple(r.recipient for r in report.recipients),
            preview=m.body[:280],
            size=len(m.body.encode()),
            thread=m.thread,
            reply_to=m.reply_to,
            context=context,
            human=bool(m.human),
            online=tuple(r.recipient for r in report.recipients if r.online),
            past=True,
        )
    ]
    for r in report.recipients:
        if r.state != "waiting":
            when = r.delivered or m.ts
            events.append(
                DeliveryChanged(when, m.id, r.recipient, "delivered", None, m.from_, True)
            )
        if r.state == "shown":
            when = r.shown or r.delivered or m.ts
            events.append(DeliveryChanged(when, m.id, r.recipient, "shown", r.path, m.from_, True))
    return events


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancels ``tasks`` and waits for them to end.

    Python 3.11's ``asyncio.wait_for`` (under ``BridgeClient.wait_connected``) drops a
    cancellation that comes in the same loop turn as the event it waits for
    (python/cpython#86296, fixed in 3.12); a task that dropped it waits elsewhere now,
    so it is cancelled again until it ends."""
    while pending := [t for t in tasks if not t.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=1.0)


class FeedSource:
    """The watch's events from an observing client (which it does not open or close)."""

    def __init__(
        self, client: BridgeClient, *, last: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self.client, self.clock = client, clock
        self.last = last
        """How many messages stored before the first snapshot to show first (``--last``)."""

    async def history(self, snapshot: FeedSnapshot) -> list[WatchEvent]:
        """The last ``self.last`` messages stored before ``snapshot``, oldest first, each
        with its recipients' states (``past``: the snapshot's counts include them).

        The bridge keeps no history of everyone: this asks each known peer's (an admin
        request, protocol §3.5), merges them by id, then each message's receipts (§3.7).
        A refusal becomes one link row saying why, never the end of the watch."""
        try:
            found: dict[str, MessageView] = {}
            for peer in snapshot.peers:
                page = await self.client.admin_history(peer.address, limit=min(self.last, 500))
                found |= {m.id: m for m in page.messages if m.ts <= snapshot.ts}
            chosen = sorted(found.values(), key=lambda m: m.ts)[-self.last :]
            return [e for m in chosen for e in _past(m, await self.client.receipts(m.id))]
        except BridgeError as exc:
            return [LinkChanged(self.clock(), up=True, reason=f"no history: {exc}")]

    async def events(self) -> AsyncGenerator[WatchEvent, None]:
        queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()

        async def feed() -> None:
            first = True
            try:
                async for item in self.client.observe():
                    if isinstance(item, FeedSnapshot):
                        queue.put_nowait(to_snapshot(item, self.client.url))
                        if first and self.last:
                            for past in await self.history(item):
                                queue.put_nowait(past)
                        first = False
                    elif (event := to_event(item)) is not None:
                        queue.put_nowait(event)
            finally:
                queue.put_nowait(None)  # the client was closed, or this failed: see below

        async def link() -> None:
            while True:
                await self.client.wait_disconnected()
                why = self.client.last_error or "the link to the bridge dropped"
                queue.put_nowait(LinkChanged(self.clock(), up=False, reason=f"{why}; reconnecting"))
                while not self.client.connected:
                    with contextlib.suppress(BridgeError):
                        await self.client.wait_connected(3600.0)

        tasks = [asyncio.create_task(feed()), asyncio.create_task(link())]
        try:
            while (event := await queue.get()) is not None:
                yield event
            await asyncio.wait(tasks[:1])  # it put None on its way out
            if not tasks[0].cancelled() and (error := tasks[0].exception()) is not None:
                raise error  # a bug, not the link: the watch must not hang on silently
        finally:
            await _cancel(tasks)

    async def send(
        self,
        name: str,
        to: str,
        body: str,
        *,
        thread: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        receipt = await self.client.send(to, body, thread=thread, reply_to=reply_to, as_=name)
        return receipt.id or receipt.cid

    def __repr__(self) -> str:
        return f"FeedSource({self.client.url!r})"
