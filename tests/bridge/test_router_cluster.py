"""The router on a database that others write too: what it reads from the store outruns
what it was told (the pure part of issue 14's nodes; bridge/cluster.py)."""

from __future__ import annotations

import dataclasses

from ai_connect.bridge.batch import committed, write_batch
from ai_connect.bridge.core import Router
from ai_connect.bridge.events import (
    FrameReceived,
    PeersStored,
    RereadPeers,
    SessionsElsewhere,
    TipsStored,
)
from ai_connect.bridge.store.base import PeerRecord
from ai_connect.protocol import Accepted, FeedEvent, FeedSnapshot, ReceiptReport
from ai_connect.protocol import Send as SendFrame
from ai_connect.protocol.hot import HotSend
from tests.bridge.helpers import START, Bridge, addr, delivers, errors, one, pair


def test_an_entry_read_before_its_commit_was_reported_can_be_acked_once() -> None:
    """A mailbox read may see a message committed a moment before the router hears of
    the commit (readers run beside the writer; on PostgreSQL, another node's commit):
    it is delivered, its ack is taken, and the late commit report delivers nothing
    twice."""
    b = pair(window_messages=2)
    bob = addr("Bob")
    for body in ("m1", "m2", "m3"):
        b.send(1, bob, body)
        b.commit()
    b.ack(2, 2)
    b.commit()
    b.disconnect(2)
    b.hello(3, "Bob")  # back: his mailbox is read from the store
    assert b.loads, "bob's window has room: his mailbox is read"
    b.send(1, bob, "m4")
    persists, b.batch = b.batch, []
    result = b.store.commit(write_batch(persists))  # stored; the router not told yet
    got = b.load()
    assert [d.seq for d in delivers(got, 3)] == [3, 4]
    assert errors(b.ack(3, 4), 3) == []
    late = b.handle(committed(persists, result))
    assert delivers(late, 3) == []


def shared_pair() -> Bridge:
    """Alice (conn 1) and Bob (conn 2) on a router whose database other nodes share."""
    b = Bridge()
    b.config = dataclasses.replace(b.config, shared=True)
    b.router = Router(b.config, [], b.ids, b.tokens)
    for conn, name in ((1, "Alice"), (2, "Bob")):
        (reread,) = b.hello(conn, name)[-1:]  # re-read first: its mailbox, its name
        assert isinstance(reread, RereadPeers) and reread.frame is not None
        b.handle(FrameReceived(conn, reread.frame, START, retried=True))
        b.settle()
    return b


def test_stored_peers_teach_a_node_new_peers_and_moved_mailboxes() -> None:
    """PeersStored adds peers registered elsewhere (they can be sent to) and reads the
    mailbox of a peer held here whose tip moved elsewhere; an older record changes
    nothing."""
    b = pair()
    bob = addr("Bob")
    carol = PeerRecord(addr("Carol"), "Carol", "proj", START, START)
    moved = PeerRecord(bob, "Bob", "proj", START, START, tip=3, acked=0)
    out = b.handle(PeersStored((carol, moved), START))
    assert [load.recipient for load in b.loads] == [bob] and out == b.loads
    b.loads.clear()
    stale = PeerRecord(bob, "Bob", "proj", START, START, tip=1, acked=0)
    assert b.handle(PeersStored((stale,), START)) == []
    assert errors(b.send(1, addr("Carol")), 1) == []


def test_a_send_to_an_unknown_peer_is_reread_first_only_on_a_shared_database() -> None:
    """Alone on its database, a send to nobody is refused at once; shared, the router asks
    for the peers to be re-read (a broadcast always, once), and refuses the frame once its
    wait is over."""
    alone = pair()
    assert errors(alone.send(1, "Nobody"), 1)[0].code == "unknown_peer"
    b = shared_pair()
    (reread,) = b.send(1, "Nobody")
    assert isinstance(reread, RereadPeers) and isinstance(reread.frame, SendFrame | HotSend)
    (broadcast,) = b.send(1, "*", "to all")
    assert isinstance(broadcast, RereadPeers) and broadcast.frame is not None
    waiting = b.handle(FrameReceived(1, reread.frame, START, retried=True))
    assert waiting == [RereadPeers(1, reread.frame)]  # another node may commit it soon
    again = b.handle(FrameReceived(1, reread.frame, START, retried=True, final=True))
    assert errors(again, 1)[0].code == "unknown_peer"
    assert errors(b.handle(FrameReceived(1, broadcast.frame, START, retried=True)), 1) == []


def test_a_vote_on_an_unknown_proposal_is_reread_first_only_on_a_shared_database() -> None:
    """A proposal made on another node: its participant here may hold the question before
    this node re-read the proposals. Shared, a vote (or status) naming an unknown proposal
    asks for a re-read and is refused only once its wait is over; alone, at once. So does
    a proposal naming an unknown participant."""
    alone = pair()
    (error,) = errors(alone.frame(2, type="vote", rid="v", proposal="prop-x", choice="approve"), 2)
    assert error.code == "unknown_proposal"
    b = shared_pair()
    (reread,) = b.frame(2, type="vote", rid="v", proposal="prop-x", choice="approve")
    assert isinstance(reread, RereadPeers) and reread.frame is not None
    (status,) = b.frame(2, type="proposal_status", rid="s", proposal="prop-x")
    assert isinstance(status, RereadPeers)
    again = b.handle(FrameReceived(2, reread.frame, START, retried=True, final=True))
    assert errors(again, 2)[0].code == "unknown_proposal"
    (asked,) = b.frame(1, type="propose", rid="p", participants=["Carol"], question="q")
    assert isinstance(asked, RereadPeers)  # Carol may have registered elsewhere just now


def test_a_notice_of_moved_mailboxes_wakes_their_connections_without_a_read() -> None:
    """TipsStored (another node's commit of mail, its tips in the notice): a mailbox held
    here whose tip moved is read for its connection; an older tip changes nothing; an
    address not known here asks for the peers to be re-read."""
    b = pair()
    bob = addr("Bob")
    out = b.handle(TipsStored(((bob, 2),), ((addr("Alice"), 0),), START))
    assert [load.recipient for load in b.loads] == [bob] and out == b.loads
    b.loads.clear()
    assert b.handle(TipsStored(((bob, 1),), (), START)) == []
    (reread,) = b.handle(TipsStored(((addr("Dora"), 1),), (), START))
    assert isinstance(reread, RereadPeers) and reread.frame is None


def test_a_recipient_held_by_another_node_counts_online_for_the_sender() -> None:
    """Alice here sends to Carol, whom another node holds (its heartbeat): the accepted
    answer and the receipts say online -- ``ai-connect send`` said "queued for offline"
    while Carol's agent got the message live there; once that node lets her go, offline."""
    b = shared_pair()
    carol = addr("Carol")
    b.handle(PeersStored((PeerRecord(carol, "Carol", "proj", START, START),), START))
    b.handle(SessionsElsewhere(((carol, "s-carol"),), START))
    b.send(1, carol, "across nodes")
    accepted = one(Accepted, b.settle(), 1)
    assert accepted.recipients == [carol] and accepted.online == [carol]
    b.frame(1, type="receipts", rid="r", id=accepted.id)
    (state,) = one(ReceiptReport, b.settle(), 1).recipients
    assert (state.recipient, state.online) == (carol, True)
    b.handle(SessionsElsewhere((), START + 1))
    b.send(1, carol, "again")
    assert one(Accepted, b.settle(), 1).online == []


def test_the_live_viewer_sees_a_peer_another_node_holds_online() -> None:
    """``ai-connect watch`` and the dashboard (the observer feed): Carol, held by another
    node, joins online and leaves offline, and the snapshot agrees."""
    b = shared_pair()
    carol = addr("Carol")
    b.handle(PeersStored((PeerRecord(carol, "Carol", "proj", START, START),), START))
    (reread,) = b.hello(9, "Ops", mode="observe")[-1:]
    assert isinstance(reread, RereadPeers) and reread.frame is not None
    welcomed = b.handle(FrameReceived(9, reread.frame, START, retried=True)) + b.settle()
    assert {p.address: p.online for p in one(FeedSnapshot, welcomed, 9).peers}[carol] is False
    joined = one(FeedEvent, b.handle(SessionsElsewhere(((carol, "s-carol"),), START)), 9)
    assert (joined.kind, joined.peer is not None and joined.peer.online) == ("join", True)
    snapshot = one(FeedSnapshot, b.frame(9, type="feed_sync", rid="again"), 9)
    assert {p.address: p.online for p in snapshot.peers}[carol] is True
    left = one(FeedEvent, b.handle(SessionsElsewhere((), START + 1)), 9)
    assert (left.kind, left.peer is not None and left.peer.online) == ("leave", False)
