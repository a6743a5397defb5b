"""The client's outbox: sends the bridge has not confirmed yet (docs/protocol.md §3.1, §7).

A send waits here, keyed by its ``cid``, until the bridge answers ``accepted`` (durably
stored) or ``error``. It outlives a disconnect: after reconnect the whole outbox goes out
again, in order, before anything new (per-sender order), and the bridge stores a resent
``cid`` once. Pure bookkeeping, no I/O.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from ai_connect.errors import BridgeError, RemoteProtocolError, RequestRejected
from ai_connect.protocol import Accepted, Error, Send, ServerFrame

__all__ = ["Outbox", "Receipt"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of a send: ``accepted`` by the bridge, or ``queued`` in our outbox."""

    cid: str
    state: str
    id: str | None = None
    to: str | None = None
    recipients: tuple[str, ...] = ()
    online: tuple[str, ...] = ()
    ts: float | None = None
    duplicate: bool = False
    paused: str | None = None
    """The loop brake paused its conversation: stored, but it wakes nobody (§3.6)."""
    kept: str | None = None
    """A ``queued`` send: the file that keeps it until the bridge stores it (``None``:
    this process's memory only, lost if it stops first)."""

    @property
    def offline(self) -> tuple[str, ...]:
        """Recipients that were not connected: the message waits in their mailbox."""
        return tuple(r for r in self.recipients if r not in self.online)

    @classmethod
    def accepted(cls, frame: Accepted) -> Receipt:
        return cls(
            cid=frame.cid,
            state="accepted",
            id=frame.id,
            to=frame.to,
            recipients=tuple(frame.recipients),
            online=tuple(frame.online),
            ts=frame.ts,
            duplicate=frame.duplicate,
            paused=frame.paused,
        )


@dataclass(slots=True)
class _Outgoing:
    frame: Send
    future: asyncio.Future[Receipt]


class Outbox:
    """Unconfirmed sends by ``cid``, oldest first, each with the future of its receipt."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, _Outgoing] = OrderedDict()

    def __contains__(self, cid: object) -> bool:
        return cid in self._items

    def __len__(self) -> int:
        return len(self._items)

    def add(self, frame: Send) -> asyncio.Future[Receipt]:
        """Keeps ``frame`` until it is answered; the same cid again shares the first's future."""
        item = self._items.get(frame.cid)
        if item is None:
            item = _Outgoing(frame, asyncio.get_running_loop().create_future())
            # A queued send's outcome may never be awaited; mark it retrieved.
            item.future.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._items[frame.cid] = item
        return item.future

    def frames(self) -> list[Send]:
        """What to send again after reconnect, in the order first sent."""
        return [item.frame for item in self._items.values()]

    def forget(self, cid: str) -> Send | None:
        """Gives up on ``cid`` (its caller stopped waiting); returns its frame."""
        item = self._items.pop(cid, None)
        return item.frame if item is not None else None

    def settle(self, cid: str, reply: ServerFrame) -> Error | None:
        """The bridge answered the send of ``cid``: resolve its future. Returns the reply
        when it is an ``error`` (the client records it)."""
        item = self._items.pop(cid, None)
        if item is None or item.future.done():
            return None
        if isinstance(reply, Accepted):
            item.future.set_result(Receipt.accepted(reply))
            return None
        if isinstance(reply, Error):
            item.future.set_exception(RequestRejected.from_frame(reply))
            return reply
        item.future.set_exception(
            RemoteProtocolError(f"the bridge answered send {cid} with {reply.type}")
        )
        return None

    def fail(self, exc: BridgeError) -> None:
        """Fails every waiting send with ``exc``; the frames stay to go out on reconnect."""
        for item in self._items.values():
            if not item.future.done():
                item.future.set_exception(exc)
