"""The router's shared records (bridge/state.py): peers, connections and target lookup."""

from __future__ import annotations

import pytest

from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import Conn, Peer, Registry
from ai_connect.bridge.store.base import PeerRecord
from ai_connect.errors import ErrorCode

ALICE = PeerRecord("Alice (p)", "Alice", "p", 1.0, 2.0, tip=5, acked=3)
BOB = PeerRecord("Bob (p)", "Bob", "p", 1.0, 2.0)
BOBBY = PeerRecord("Bobby (q)", "Bobby", "q", 1.0, 2.0)


def test_a_peer_is_built_from_its_record_and_gives_it_back() -> None:
    """Peer <-> PeerRecord in one place: loaded offline, with its acks committed."""
    peer = Peer.from_record(ALICE)
    assert peer.conn is None and peer.stored_acked == ALICE.acked
    assert peer.record() == ALICE
    peer.conn, peer.tip = 4, 6
    assert peer.record() == PeerRecord("Alice (p)", "Alice", "p", 1.0, 2.0, tip=6, acked=3)


def test_resolve_names_one_known_address() -> None:
    """A bare name, a case variant or a prefix of one address resolves to it."""
    registry = Registry([ALICE, BOB, BOBBY])
    assert registry.resolve("alice") == "Alice (p)"
    assert registry.resolve("Bob (p)") == "Bob (p)"


def test_resolve_refuses_an_ambiguous_or_unknown_target_with_candidates() -> None:
    """The router's one Refusal, with the peer codes and the candidates they list."""
    registry = Registry([ALICE, BOB, BOBBY])
    with pytest.raises(Refusal) as ambiguous:
        registry.resolve("bo")
    assert ambiguous.value.code is ErrorCode.AMBIGUOUS_PEER
    assert ambiguous.value.candidates == ("Bob (p)", "Bobby (q)")
    with pytest.raises(Refusal) as unknown:
        registry.resolve("Zed")
    assert unknown.value.code is ErrorCode.UNKNOWN_PEER
    assert unknown.value.error("r").candidates == []


def test_the_connections_of_a_peer_are_its_owner_then_the_attached_ones() -> None:
    """conns_of lists the owner first, then attached connections by id."""
    registry = Registry([BOB])
    peer = registry.peers["Bob (p)"]
    for conn_id in (3, 1, 2):
        registry.conns[conn_id] = Conn(conn_id, "127.0.0.1:1", 0.0)
    peer.conn = 2
    registry.attached["Bob (p)"] = {3, 1}
    assert [c.id for c in registry.conns_of(peer)] == [2, 1, 3]
    assert registry.owner("Bob (p)") is registry.conns[2]
    assert registry.online() == ["Bob (p)"]


def test_peers_are_listed_online_first_then_by_address() -> None:
    """listed() is the order of peer lists and the admin report."""
    registry = Registry([BOBBY, BOB, ALICE])
    registry.peers["Bobby (q)"].conn = 1
    assert [p.address for p in registry.listed()] == ["Bobby (q)", "Alice (p)", "Bob (p)"]
    assert [p.address for p in registry.listed(include_offline=False)] == ["Bobby (q)"]
