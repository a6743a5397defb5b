"""Events for the watch tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ai_connect.errors import BridgeError
from ai_connect.watch.events import MessageSeen, PeerInfo, ProposalChanged, WatchEvent

__all__ = ["ALICE", "BOB", "CAROL", "FakeSource", "message", "peer", "proposal"]

ALICE, BOB, CAROL = "alice (web)", "bob (web)", "carol (api)"


def message(mid: str = "m1", ts: float = 1000.0, **fields: Any) -> MessageSeen:
    base: dict[str, Any] = {
        "sender": ALICE,
        "to": BOB,
        "recipients": (BOB,),
        "preview": "hello bob",
        "size": 9,
    }
    return MessageSeen(ts=ts, id=mid, **(base | fields))


def peer(address: str, online: bool = True, last_seen: float = 1000.0, unread: int = 0) -> PeerInfo:
    return PeerInfo(address, online, last_seen, unread)


def proposal(change: str = "proposed", ts: float = 1000.0, **fields: Any) -> ProposalChanged:
    base: dict[str, Any] = {
        "id": "prop-1",
        "author": ALICE,
        "question": "Ship it?",
        "participants": [BOB, CAROL],
        "rule": "majority",
        "status": "open",
        "ballots": [],
        "tally": {"approve": 0, "reject": 0, "abstain": 0, "pending": 2},
    }
    return ProposalChanged(ts, change, base | fields)


class FakeSource:
    """A WatchSource for the tests: events from a queue, sends recorded.

    ``drained`` is set each time the watch has taken every queued event (the generator
    resumes only after the watch handled the last one)."""

    def __init__(self, fail: BridgeError | None = None) -> None:
        self.queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self.drained = asyncio.Event()
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def put(self, *events: WatchEvent) -> None:
        self.drained.clear()
        for event in events:
            self.queue.put_nowait(event)

    async def taken(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.drained.wait(), timeout)

    async def events(self) -> AsyncIterator[WatchEvent]:
        while True:
            if self.queue.empty():
                self.drained.set()
            event = await self.queue.get()
            yield event

    async def send(
        self,
        name: str,
        to: str,
        body: str,
        *,
        thread: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        if self.fail is not None:
            raise self.fail
        self.sent.append(
            {"name": name, "to": to, "body": body, "thread": thread, "reply_to": reply_to}
        )
        return f"sent-{len(self.sent)}"
