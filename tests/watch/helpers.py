"""Events for the watch tests."""

from __future__ import annotations

from typing import Any

from ai_connect.watch.events import MessageSeen, PeerInfo, ProposalChanged

__all__ = ["ALICE", "BOB", "CAROL", "message", "peer", "proposal"]

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
