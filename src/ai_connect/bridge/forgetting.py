"""Forgetting an address (docs/protocol.md §2.5): a part of the router.

The connection that owns an address may ask the bridge to forget it: its peer record and
its mailbox. The router lets go of the address at once (the connection and any attached
to it are no longer registered, so nothing more is delivered to them or accepted from
them), the store forgets it in the next group commit, and only then does the owner get
``forgotten`` and is its connection closed. ``ai-connect doctor`` forgets the peer of its
round trip this way; issue 11's ``admin forget`` can reuse the same store operation.
"""

from __future__ import annotations

from ai_connect.bridge.events import Action, Close, Origin, Persist, Send
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import Conn, Phase, Registry
from ai_connect.bridge.store.base import ForgetOp
from ai_connect.protocol import ErrorCode, Forget, Forgotten

__all__ = ["CLOSE_FORGOTTEN", "Forgetting"]

CLOSE_FORGOTTEN = 1000
"""A normal close: the client asked for it."""


class Forgetting:
    """Lets an owner forget its address, and answers once the store has."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def on_forget(self, conn: Conn, frame: Forget, now: float) -> list[Action]:
        address = conn.address
        if address is None or conn.attached or conn.phase is not Phase.REGISTERED:
            raise Refusal(
                ErrorCode.FORBIDDEN,
                "only the connection that owns an address may forget it",
                "forget from the session that registered the address",
            )
        out: list[Action] = []
        for other in self.registry.conns_of(self.registry.peers[address]):
            other.phase, other.address, other.attached = Phase.NEW, None, False
            if other.id != conn.id:
                out.append(Close(other.id, CLOSE_FORGOTTEN, f"{address} was forgotten"))
        self.registry.attached.pop(address, None)
        del self.registry.peers[address]
        out.append(Persist(ForgetOp(address), Origin(conn.id, frame.rid)))
        return out

    def on_committed(self, forgets: tuple[Persist, ...]) -> list[Action]:
        out: list[Action] = []
        for persist in forgets:
            assert isinstance(persist.op, ForgetOp)
            origin = persist.origin
            if origin is not None and origin.conn in self.registry.conns:
                out.append(Send(origin.conn, Forgotten(rid=origin.rid, address=persist.op.address)))
                out.append(Close(origin.conn, CLOSE_FORGOTTEN, "forgotten"))
        return out
