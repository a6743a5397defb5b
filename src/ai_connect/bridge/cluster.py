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
nothing. A session that registered on another node (a client that failed over while its
link here still looked alive) takes its address there: the heartbeat row of an address
goes to the node where it registered last (store ``beat(fresh=...)``), and this node
closes its old connection of that session with ``CLOSE_SESSION_MOVED``, which a client
does not answer by reconnecting. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal

from ai_connect.bridge.delivery import Delivery
from ai_connect.bridge.events import Action, Close, RereadPeers
from ai_connect.bridge.state import Peer, Phase, Registry
from ai_connect.bridge.store.base import PeerRecord
from ai_connect.protocol import CLOSE_SESSION_MOVED

Announce = Callable[[Literal["join", "leave"], Peer, float], list[Action]]

__all__ = ["Cluster"]


class Cluster:
    """Folds the shared database's peer records into this node's registry."""

    def __init__(self, registry: Registry, delivery: Delivery, announce: Announce) -> None:
        self.registry = registry
        self.delivery = delivery
        self.announce = announce

    def on_sessions(
        self,
        sessions: Mapping[str, str | None],
        now: float,
        since: Mapping[str, float] | None = None,
    ) -> list[Action]:
        """The sessions other nodes hold now (their heartbeats): those peers show online
        here, and this node's presence watchers hear who came and went elsewhere."""
        out: list[Action] = []
        for address, peer in self.registry.peers.items():
            held = address in sessions
            moved: list[Action] = []
            if held:
                peer.elsewhere_session = sessions[address]
                moved = self._moved(peer, (since or {}).get(address, float("inf")))
                out += moved
            if held == peer.elsewhere:
                continue
            peer.elsewhere = held
            if peer.conn is None and not moved:  # held here too: presence did not change
                if not held:
                    peer.last_seen = max(peer.last_seen, now)
                out += self.announce("join" if held else "leave", peer, now)
        return out

    def _moved(self, peer: Peer, since: float) -> list[Action]:
        """The session holding ``peer`` here registered on another node later (at
        ``since``): that node holds the address now; the old connection here is closed
        (no leave: the peer is still online, there). Another session's claim (a race of
        two hellos) is not a move: the name rules (``Name#2``) settle it at the next
        hello."""
        conn = self.registry.conns.get(peer.conn) if peer.conn is not None else None
        if conn is None or conn.session is None or conn.session != peer.elsewhere_session:
            return []
        if since <= conn.registered:  # this hello is the latest: the other node yields
            return []
        conn.phase, conn.address = Phase.NEW, None
        peer.conn = None
        why = "this session continues on another node of the bridge"
        return [Close(conn.id, CLOSE_SESSION_MOVED, why)]

    def on_tips(
        self, tips: Mapping[str, int], acked: Mapping[str, int], now: float
    ) -> list[Action]:
        """Another node's commit moved these mailboxes (its notice says where to: no
        re-read), as :meth:`on_stored` would; an address not known here (a peer first
        written there) asks for the peers to be re-read."""
        out: list[Action] = []
        peers = self.registry.peers
        if any(address not in peers for address in (*tips, *acked)):
            out.append(RereadPeers(0))
        for address, seq in acked.items():
            peer = peers.get(address)
            if peer is not None:
                peer.stored_acked = max(peer.stored_acked, seq)
                peer.acked = max(peer.acked, seq)
        for address, tip in tips.items():
            peer = peers.get(address)
            if peer is not None and tip > peer.tip:
                peer.tip = tip
                self.delivery.wake(peer, out, now)
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
