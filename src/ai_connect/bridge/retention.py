"""Retention (``--retention-days``, docs/operations.md): a part of the router.

On the bridge's timer (``Tick``) it asks the store, a minute after start and then every
``PRUNE_EVERY_S``, to
prune what the window no longer keeps: the peers not seen within it (offline, with no
connection at all: the router lets go of them at once, the store forgets their record and
mailbox), and the messages stored before it that no recipient still has to ack. Each
prune deletes at most ``PRUNE_BATCH`` messages in one group commit, so a long-neglected
database is worked off in short transactions, one per tick, without holding up sends.
"""

from __future__ import annotations

from ai_connect.bridge.events import Action, Persist
from ai_connect.bridge.state import Peer, Registry, RouterConfig
from ai_connect.bridge.store.base import PruneOp

__all__ = ["PRUNE_BATCH", "PRUNE_EVERY_S", "PRUNE_FIRST_S", "Retention"]

PRUNE_FIRST_S = 60.0
"""Retention first runs this long after the bridge started (its start stays quick)."""
PRUNE_EVERY_S = 3600.0
"""How often retention runs once it has caught up."""
PRUNE_BATCH = 2000
"""Messages deleted per commit, at most."""


class Retention:
    """Asks for a prune when one is due, one at a time."""

    def __init__(self, config: RouterConfig, registry: Registry) -> None:
        self.config = config
        self.registry = registry
        self.due = config.started_at + PRUNE_FIRST_S
        """When the next prune may start."""
        self.started: float | None = None
        """When the prune waiting for its commit was asked for (``None``: none waits)."""
        self.gone: dict[str, Peer] = {}
        """The peers that prune forgets, until it is committed."""

    def on_tick(self, now: float) -> list[Action]:
        window = self.config.retention_s
        if window <= 0 or self.started is not None or now < self.due:
            return []
        horizon = now - window
        registry = self.registry
        gone = tuple(
            address
            for address, peer in registry.peers.items()
            if peer.last_seen < horizon and not registry.conns_of(peer)
        )
        self.gone = {address: registry.peers.pop(address) for address in gone}
        self.started = now
        return [Persist(PruneOp(horizon, gone, PRUNE_BATCH))]

    def on_committed(self, pruned: int) -> None:
        """The prune is stored: again at the next tick if it was cut short, else later."""
        if self.started is None:
            return
        self.due = self.started if pruned >= PRUNE_BATCH else self.started + PRUNE_EVERY_S
        self.started, self.gone = None, {}

    def on_failed(self) -> None:
        """The prune's commit failed: nothing of it happened; the peers it would have
        forgotten are known again (unless one came back meanwhile); try again later."""
        if self.started is None:
            return
        for address, peer in self.gone.items():
            self.registry.peers.setdefault(address, peer)
        self.due = self.started + PRUNE_EVERY_S
        self.started, self.gone = None, {}
