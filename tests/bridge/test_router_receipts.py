"""Router: receipts (§3.7): per-recipient states, stored marks, and the sender's notice."""

from __future__ import annotations

from typing import Any

from ai_connect.bridge.store.base import DeliveredOp
from ai_connect.protocol import Accepted, ErrorCode, ReceiptNotice, ReceiptReport

from .helpers import START, Bridge, addr, errors, frames, one, pair, persists

ALICE, BOB, CAROL = addr("Alice"), addr("Bob"), addr("Carol")


def report(bridge: Bridge, conn: int, message_id: str) -> ReceiptReport:
    bridge.frame(conn, type="receipts", rid="r", id=message_id)
    return one(ReceiptReport, bridge.settle(), conn)


def states(r: ReceiptReport) -> dict[str, tuple[Any, ...]]:
    return {s.recipient: (s.state, s.delivered, s.shown, s.path) for s in r.recipients}


def sent_id(bridge: Bridge, conn: int, to: str, **fields: Any) -> str:
    bridge.send(conn, to, "hello", **fields)
    return one(Accepted, bridge.settle(), conn).id


def test_a_message_goes_from_waiting_to_delivered_to_shown_with_path_and_times() -> None:
    """Offline recipient: waiting; delivered when it connects (before the mark is even
    stored); shown at the ack's time through the ack's path."""
    bridge = pair()
    bridge.disconnect(2)
    mid = sent_id(bridge, 1, BOB)
    assert states(report(bridge, 1, mid)) == {BOB: ("waiting", None, None, None)}
    bridge.now += 10
    bridge.hello(2, "Bob", address=BOB)
    bridge.commit()  # the registration; the load delivers, its mark is not stored yet
    bridge.load()
    assert states(report(bridge, 1, mid)) == {BOB: ("delivered", START + 10, None, None)}
    bridge.now += 5
    bridge.ack(2, 1, path="hook")
    bridge.settle()
    assert states(report(bridge, 1, mid)) == {BOB: ("shown", START + 10, START + 15, "hook")}
    assert report(bridge, 1, mid).recipients[0].online


def test_marks_are_stored_and_survive_a_restart() -> None:
    """After a restart the store alone tells delivered (batched with the ack) and shown."""
    bridge = pair()
    bridge.join(3, "Carol")
    mid = sent_id(bridge, 1, "*")
    bridge.now += 1
    bridge.ack(2, 1, path="channel")
    bridge.settle()
    bridge.restart()
    bridge.join(1, "Alice", address=ALICE)
    got = states(report(bridge, 1, mid))
    assert got[BOB] == ("shown", START, START + 1, "channel")
    assert got[CAROL] == ("delivered", START, None, None)  # rode along with Bob's ack
    stored = bridge.store.receipts(mid)
    assert stored is not None
    assert {r.recipient: r.delivered for r in stored.recipients}[BOB] == START


def test_delivery_marks_ride_along_or_go_with_the_timer() -> None:
    """No commit of their own while traffic flows; with nothing else, the next tick."""
    bridge = pair()
    bridge.send(1, BOB, "one")
    out = bridge.commit()  # delivers: the mark waits
    assert [p for p in persists(out) if isinstance(p.op, DeliveredOp)] == []
    bridge.load()
    tick = bridge.tick(START + 1)
    assert [p.op for p in persists(tick)] == [DeliveredOp(BOB, 1, START)]
    assert bridge.tick(START + 2) == []


def test_only_the_sender_or_an_operator_sees_receipts() -> None:
    """Bob (a recipient) and strangers get unknown_message; an observer sees them."""
    bridge = pair()
    mid = sent_id(bridge, 1, BOB)
    bridge.frame(2, type="receipts", rid="x", id=mid)
    (error,) = errors(bridge.settle(), 2)
    assert error.code == ErrorCode.UNKNOWN_MESSAGE
    bridge.frame(1, type="receipts", rid="x", id="nope")
    (error,) = errors(bridge.settle(), 1)
    assert error.code == ErrorCode.UNKNOWN_MESSAGE and "accepted" in error.hint
    bridge.hello(9, "Ops", mode="observe")
    assert states(report(bridge, 9, mid))[BOB][0] == "delivered"


def test_a_sender_that_asked_is_told_when_each_recipient_was_shown_it() -> None:
    """send.receipt: one receipt per recipient, with path and time, to the sender's
    connections; no receipt for a message that did not ask."""
    bridge = pair()
    bridge.join(3, "Carol")
    asked = sent_id(bridge, 1, "*", receipt=True)
    plain = sent_id(bridge, 1, BOB)
    bridge.now += 2
    out = bridge.ack(2, 2, path="tool")
    receipts = [f for f in frames(out, 1) if isinstance(f, ReceiptNotice)]
    assert [(r.id, r.recipient, r.path, r.ts) for r in receipts] == [
        (asked, BOB, "tool", START + 2)
    ]
    assert plain != asked
    out = bridge.ack(3, 1, path="cli")
    assert [(r.recipient, r.path) for r in frames(out, 1) if isinstance(r, ReceiptNotice)] == [
        (CAROL, "cli")
    ]


def test_hello_receipts_asks_for_every_send_and_survives_a_restart() -> None:
    """hello.receipts marks each send; the mark is stored, so a receipt still comes
    after the bridge restarted."""
    bridge = Bridge()
    bridge.join(1, "Alice", receipts=True)
    bridge.join(2, "Bob")
    mid = sent_id(bridge, 1, BOB)
    bridge.restart()
    bridge.join(1, "Alice", address=ALICE)
    bridge.join(2, "Bob", address=BOB)
    out = bridge.ack(2, 1, path="hook")
    (receipt,) = [f for f in frames(out, 1) if isinstance(f, ReceiptNotice)]
    assert (receipt.id, receipt.recipient, receipt.path) == (mid, BOB, "hook")
