"""Forgetting an address (docs/protocol.md §2.5): a part of the router.

The connection that owns an address may ask the bridge to forget it (``forget``), and so
may an operator for any address (``admin_forget``: an admin token on a bridge with auth;
anyone without auth, who could register as that address anyway). The router lets go of
the address at once: every connection acting for it is closed and no longer registered,
so nothing more is delivered to them or accepted from them. The store forgets it in the
next group commit -- its peer record and its mailbox (store/base.py ``ForgetOp`` says what
stays) -- and only then does the asker get ``forgotten``; an owner's own connection is
closed after it. ``ai-connect doctor`` forgets the peer of its round trip this way, and
``ai-connect admin forget PEER`` is the operator's.
"""

from __future__ import annotations

from ai_connect.bridge.auth import Authenticator
from ai_connect.bridge.events import Action, Close, Origin, Persist, Send
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import Conn, Phase, Registry
from ai_connect.bridge.store.base import ForgetOp
from ai_connect.protocol import (
    CLOSE_FORGOTTEN_BY_OPERATOR,
    AdminForget,
    ErrorCode,
    Forget,
    Forgotten,
)

__all__ = ["CLOSE_FORGOTTEN", "CLOSE_FORGOTTEN_BY_OPERATOR", "Forgetting"]

CLOSE_FORGOTTEN = 1000
"""A normal close: the client asked for it."""


class Forgetting:
    """Lets an owner forget its address, and an operator any; answers once the store has."""

    def __init__(self, registry: Registry, auth: Authenticator) -> None:
        self.registry = registry
        self.auth = auth
        self._closing: set[Origin] = set()
        """Askers whose own connection closes once their address is forgotten."""

    def on_forget(self, conn: Conn, frame: Forget, now: float) -> list[Action]:
        address = conn.address
        if address is None or conn.attached or conn.phase is not Phase.REGISTERED:
            raise Refusal(
                ErrorCode.FORBIDDEN,
                "only the connection that owns an address may forget it",
                "forget from the session that registered the address",
            )
        origin = Origin(conn.id, frame.rid)
        self._closing.add(origin)
        return self._let_go(address, f"{address} was forgotten", CLOSE_FORGOTTEN, conn.id, origin)

    def on_admin_forget(self, conn: Conn, frame: AdminForget, now: float) -> list[Action]:
        if not conn.admin and self.auth.required:
            raise Refusal(
                ErrorCode.FORBIDDEN,
                "admin_forget needs an admin token on a bridge with auth",
                "run it with a token made by `ai-connect token create NAME --admin`",
            )
        address = self.registry.resolve(frame.peer)
        why = f"{address} was forgotten by the bridge's operator"
        origin = Origin(conn.id, frame.rid)
        return self._let_go(address, why, CLOSE_FORGOTTEN_BY_OPERATOR, None, origin)

    def _let_go(
        self, address: str, why: str, code: int, keep: int | None, origin: Origin
    ) -> list[Action]:
        """Unregisters every connection of ``address`` (closing all but ``keep``), drops
        it from the registry and asks the store to forget it."""
        out: list[Action] = []
        registry = self.registry
        for other in registry.conns_of(registry.peers[address]):
            other.phase, other.address, other.attached = Phase.NEW, None, False
            if other.id != keep:
                out.append(Close(other.id, code, why))
        registry.attached.pop(address, None)
        del registry.peers[address]
        out.append(Persist(ForgetOp(address), origin))
        return out

    def on_forgotten_elsewhere(self, address: str) -> list[Action]:
        """Another node forgot ``address`` (its operator's ``admin_forget``, committed):
        the connections here that hold or attach to it close, as they would on that
        node, and this node drops it; nothing to store (that node did)."""
        registry = self.registry
        peer = registry.peers.get(address)
        if peer is None:
            return []
        out: list[Action] = []
        why = f"{address} was forgotten by the bridge's operator (on another node)"
        for other in registry.conns_of(peer):
            other.phase, other.address, other.attached = Phase.NEW, None, False
            out.append(Close(other.id, CLOSE_FORGOTTEN_BY_OPERATOR, why))
        registry.attached.pop(address, None)
        del registry.peers[address]
        return out

    def failed(self, persists: tuple[Persist, ...]) -> None:
        """A batch with forgets rolled back: its askers were told (core), forget them."""
        for persist in persists:
            if isinstance(persist.op, ForgetOp) and persist.origin is not None:
                self._closing.discard(persist.origin)

    def on_committed(self, forgets: tuple[Persist, ...]) -> list[Action]:
        out: list[Action] = []
        for persist in forgets:
            assert isinstance(persist.op, ForgetOp)
            origin = persist.origin
            if origin is None:
                continue
            closing = origin in self._closing
            self._closing.discard(origin)
            if origin.conn in self.registry.conns:
                out.append(Send(origin.conn, Forgotten(rid=origin.rid, address=persist.op.address)))
                if closing:
                    out.append(Close(origin.conn, CLOSE_FORGOTTEN, "forgotten"))
        return out
