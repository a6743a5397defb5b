"""Router: retention (issue 11 item 4) asks the store to prune on its timer, one batch at
a time, and lets go of the peers not seen within the window."""

from __future__ import annotations

from collections.abc import Sequence

from ai_connect.bridge.events import Action, Persist
from ai_connect.bridge.retention import PRUNE_BATCH, PRUNE_EVERY_S, PRUNE_FIRST_S
from ai_connect.bridge.store.base import PruneOp
from ai_connect.protocol import ErrorCode, PeerList

from .helpers import START, Bridge, addr, errors, one, peer_record

DAY = 86_400.0


def prunes(actions: Sequence[Action]) -> list[PruneOp]:
    return [a.op for a in actions if isinstance(a, Persist) and isinstance(a.op, PruneOp)]


def test_retention_prunes_after_start_then_every_hour() -> None:
    """The first prune a minute after start, with the horizon now - window; then hourly."""
    bridge = Bridge(retention_s=2 * DAY)
    assert prunes(bridge.tick(START + PRUNE_FIRST_S - 1)) == []
    (op,) = prunes(bridge.tick(START + PRUNE_FIRST_S))
    assert (op.horizon, op.peers, op.limit) == (START + PRUNE_FIRST_S - 2 * DAY, (), PRUNE_BATCH)
    assert prunes(bridge.tick(START + PRUNE_FIRST_S + 1)) == []  # one at a time
    bridge.commit()
    assert prunes(bridge.tick(START + PRUNE_FIRST_S + 600)) == []
    assert len(prunes(bridge.tick(START + PRUNE_FIRST_S + PRUNE_EVERY_S))) == 1


def test_peers_not_seen_within_the_window_are_forgotten() -> None:
    """An offline peer last seen before the horizon goes from the registry and the store;
    one seen within it, and one online, stay."""
    old, recent = peer_record("old", START - 3 * DAY), peer_record("recent", START - DAY)
    bridge = Bridge(peers=[old, recent, peer_record("alice", START - 5 * DAY)], retention_s=2 * DAY)
    bridge.join(1, "alice")
    (op,) = prunes(bridge.tick(START + PRUNE_FIRST_S))
    assert op.peers == (addr("old"),)
    listed = one(PeerList, bridge.frame(1, type="peers", rid="p"), 1)
    assert [p.address for p in listed.peers] == [addr("alice"), addr("recent")]
    assert [e.code for e in errors(bridge.send(1, "old", "hello?"), 1)] == [ErrorCode.UNKNOWN_PEER]
    bridge.settle()
    assert {p.address for p in bridge.store.peers()} == {addr("alice"), addr("recent")}


def test_a_prune_cut_short_by_its_limit_runs_again_at_the_next_tick() -> None:
    """More messages due than one batch holds: the next tick asks again."""
    bridge = Bridge(retention_s=DAY)
    bridge.join(1, "alice")
    bridge.join(2, "bob")
    for i in range(PRUNE_BATCH + 5):
        bridge.send(1, "bob", f"{i}")
    bridge.settle()
    bridge.ack(2, PRUNE_BATCH + 5)
    bridge.settle()
    later = START + 2 * DAY
    bridge.frame(1, type="ping")
    assert len(prunes(bridge.tick(later))) == 1
    bridge.settle()
    assert len(prunes(bridge.tick(later + 5))) == 1  # again: the first was cut short
    bridge.settle()
    assert prunes(bridge.tick(later + 10)) == []
    assert bridge.store.history(addr("bob"), None, 10, None) == ([], None)
