"""Work status (docs/protocol.md §11): each peer's last published status, kept durably.

A part of :class:`~ai_connect.bridge.core.Router`. A ``work`` frame replaces its address's
status when it differs from the one held (a repeat is dropped: no write, no event), is
persisted (one ``WorkRecord`` upsert, riding along in the loop turn's group commit) and
shown to observers as a ``work`` feed event. ``peers`` and the feed read it from the
peer (``Peer.work``). No reply: the sender publishes and moves on.
"""

from __future__ import annotations

from collections.abc import Iterable

from ai_connect.bridge.events import Action, Persist
from ai_connect.bridge.feed import Feed
from ai_connect.bridge.state import Conn, Registry
from ai_connect.bridge.store.base import WorkRecord
from ai_connect.protocol import Work, WorkView

__all__ = ["WorkBoard"]


class WorkBoard:
    """Holds each peer's last work status; the store keeps it across restarts."""

    def __init__(self, registry: Registry, feed: Feed, records: Iterable[WorkRecord] = ()) -> None:
        self.registry = registry
        self.feed = feed
        self.on_stored(records, 0.0)

    def on_stored(self, records: Iterable[WorkRecord], now: float) -> list[Action]:
        """Statuses as the store holds them: at start, and on a database other bridge nodes
        share, after their commits (docs/deploy.md). A newer one than held replaces it."""
        out: list[Action] = []
        for record in records:
            peer = self.registry.peers.get(record.address)
            if peer is None:
                continue  # forgotten since (its row goes with the next forget)
            if peer.work is not None and peer.work.ts >= record.ts:
                continue  # ours, or older than ours
            try:
                peer.work = WorkView.model_validate({**record.data, "ts": record.ts})
            except ValueError:
                continue  # written by another version: shown again once it publishes
            out += self.feed.work(peer, now)
        return out

    def on_work(self, conn: Conn, frame: Work, now: float) -> list[Action]:
        """Stores the status of the connection's address, unless it is the one held."""
        assert conn.address is not None
        peer = self.registry.peers.get(conn.address)
        if peer is None:
            return []
        fields = frame.fields()
        if peer.work is not None and peer.work.fields() == fields:
            return []
        data = fields.model_dump(exclude_defaults=True)
        peer.work = WorkView.model_validate({**fields.model_dump(), "ts": now})
        out: list[Action] = [Persist(WorkRecord(peer.address, data, now))]
        return out + self.feed.work(peer, now)
