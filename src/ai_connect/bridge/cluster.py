"""Several bridge nodes on one PostgreSQL database: what one node learns of the others'
commits (docs/deploy.md).

A part of :class:`~ai_connect.bridge.core.Router`. Each node's heartbeat lists the
sessions it holds (server.py, ``SessionsElsewhere``): a peer held on another node shows
online here, its name is taken here (``Name#2``), and presence watchers here hear it come
and go; a dead node's sessions end when its heartbeat is older than the presence
timeout. When another node commits, this node
re-reads the peer records (server.py, woken by the store's LISTEN/NOTIFY) and hands them
in as :class:`~ai_connect.bridge.events.PeersStored`: a peer it did not know becomes
addressable here (and a broadcast from here reaches it); a mailbox whose tip moved is
delivered to the connections this node holds for it, from the store, as after a
reconnect. Cursors only move forward: a record older than what this node saw changes
nothing. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal

from ai_connect.bridge.delivery import Delivery
from ai_connect.bridge.events import Action
from ai_connect.bridge.state import Peer, Registry
from ai_connect.bridge.store.base import PeerRecord

Announce = Callable[[Literal["join", "leave"], Peer, float], list[Action]]

__all__ = ["Cluster"]


class Cluster:
    """Folds the shared database's peer records into this node's registry."""

    def __init__(self, registry: Registry, delivery: Delivery, announce: Announce) -> None:
        self.registry = registry
        self.delivery = delivery
        self.announce = announce

    def on_sessions(self, sessions: Mapping[str, str | None], now: float) -> list[Action]:
        """The sessions other nodes hold now (their heartbeats): those peers show online
        here, and this node's presence watchers hear who came and went elsewhere."""
        out: list[Action] = []
        for address, peer in self.registry.peers.items():
            held = address in sessions
            if held:
                peer.elsewhere_session = sessions[address]
            if held == peer.elsewhere:
                continue
            peer.elsewhere = held
            if peer.conn is None:  # held here too: presence did not change
                if not held:
                    peer.last_seen = max(peer.last_seen, now)
                out += self.announce("join" if held else "leave", peer, now)
        return out

    def on_stored(self, records: Iterable[PeerRecord], now: float) -> list[Action]:
        out: list[Action] = []
        peers = self.registry.peers
        for record in records:
            peer = peers.get(record.address)
            if peer is None:
                peers[record.address] = Peer.from_record(record)
                continue
            peer.last_seen = max(peer.last_seen, record.last_seen)
            peer.stored_acked = max(peer.stored_acked, record.acked)
            peer.acked = max(peer.acked, record.acked)
            if record.tip > peer.tip:
                peer.tip = record.tip
                self.delivery.wake(peer, out, now)
        return out
