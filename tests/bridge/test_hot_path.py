"""Router: the hot frames leave encoded, a broadcast's deliver encoded once (issue 13)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ai_connect.bridge import views
from ai_connect.bridge.answers import mailbox_page
from ai_connect.bridge.batch import committed, write_batch
from ai_connect.bridge.brake import BrakeLimits
from ai_connect.bridge.delivery import READY_WINDOWS
from ai_connect.bridge.events import Action, LoadPending, PendingLoaded, Send
from ai_connect.protocol import Accepted, Deliver, Limits, encode

from .helpers import Bridge, addr, delivers, errors, one, pair

BOB = addr("Bob")


def test_a_broadcast_is_encoded_once_for_all_its_recipients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twenty online recipients: one deliver tail encoded, twenty frames sent as bytes."""
    bridge = Bridge()
    for conn in range(1, 22):
        bridge.join(conn, f"P{conn}")
    made: list[str] = []
    real = views.deliver_tail

    def counted(message: object, paused: str | None = None) -> bytes:
        made.append(getattr(message, "id", ""))
        return real(message, paused)  # type: ignore[arg-type]

    monkeypatch.setattr(views, "deliver_tail", counted)
    bridge.send(1, "*", "to all")
    out = bridge.commit()
    sent = [a for a in out if isinstance(a, Send) and isinstance(a.frame, Deliver)]
    assert len(sent) == 20 and len(made) == 1
    assert all(a.data is not None for a in sent)
    assert {f.body for f in delivers(out)} == {"to all"}
    assert sorted(a.conn for a in sent) == list(range(2, 22))


def test_the_encoded_deliver_and_accepted_are_the_frames_views_and_the_models_give() -> None:
    """What leaves as bytes decodes to the frame the pydantic models describe."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    bridge.send(1, "Bob", "hi ça 😀", thread="t", context={"file": "a.py", "n": [1, 2.5]})
    out = bridge.commit()
    deliver = one(Deliver, out, 2)
    accepted = one(Accepted, out, 1)
    (entry,) = bridge.store.pending(addr("Bob"), 0, 10, 1 << 20)
    assert deliver == views.deliver(entry)
    assert accepted.recipients == [addr("Bob")] and accepted.online == [addr("Bob")]
    data = {a.conn: a.data for a in out if isinstance(a, Send)}
    assert data[2] == encode(deliver).encode()
    assert data[1] == encode(accepted).encode()
    assert [d.seq for d in delivers(out, 2)] == [1]


# --- deliver from memory (issue 13, item 3) -------------------------------------------


def loads_in(actions: list[Action]) -> list[LoadPending]:
    return [a for a in actions if isinstance(a, LoadPending)]


def drain(bridge: Bridge, conn: int, first: list[Action]) -> tuple[list[int], int]:
    """Acks each delivery as it comes; the seqs delivered and the store reads made."""
    seqs: list[int] = []
    reads = 0
    page = [d.seq for d in delivers(first, conn)]
    for _ in range(1000):
        if not page:
            return seqs, reads
        seqs += page
        out = bridge.ack(conn, page[-1])
        reads += len(bridge.loads)
        out += bridge.settle()
        page = [d.seq for d in delivers(out, conn)]
    raise AssertionError("the mailbox did not drain")


def test_messages_committed_while_the_window_is_full_are_not_read_back() -> None:
    """Twenty messages for a window of 4: all delivered in order from memory, no store read."""
    bridge = pair(window_messages=4)
    for i in range(20):
        bridge.send(1, BOB, f"b{i}")
    out = bridge.commit()
    assert bridge.loads == []
    seqs, reads = drain(bridge, 2, out)
    assert seqs == list(range(1, 21)) and reads == 0


def test_past_its_bound_the_ready_queue_falls_back_to_the_store() -> None:
    """More than READY_WINDOWS windows behind: the rest comes from the store, once, in order."""
    bridge = pair(window_messages=2)
    total = 2 + READY_WINDOWS * 2 + 15
    for i in range(total):
        bridge.send(1, BOB, f"b{i}")
    out = bridge.commit()
    seqs, reads = drain(bridge, 2, out)
    assert seqs == list(range(1, total + 1))
    assert 1 <= reads <= 3


def test_a_returning_peer_reads_its_backlog_ahead_of_its_window() -> None:
    """A backlog of 20 for a window of 4 comes in one store read, not one per window."""
    bridge = pair(window_messages=4)
    bridge.disconnect(2)
    for i in range(20):
        bridge.send(1, BOB, f"b{i}")
    bridge.settle()
    bridge.hello(3, "Bob")
    (load,) = bridge.loads
    assert load.limit >= 20
    seqs, reads = drain(bridge, 3, bridge.settle())
    assert seqs == list(range(1, 21)) and reads == 0


def test_an_ack_on_another_connection_drops_what_was_ready_for_this_one() -> None:
    """Entries acked through one connection of an address are not delivered on the other."""
    bridge = Bridge(limits=Limits(window_messages=2))
    bridge.join(1, "Alice")
    bridge.join(2, "Bob", session="s1")
    bridge.hello(3, "Bob", session="s1", attach=True)
    bridge.settle()
    for i in range(6):
        bridge.send(1, BOB, f"b{i}")
    out = bridge.commit()
    assert [d.seq for d in delivers(out, 2)] == [1, 2]
    assert [d.seq for d in delivers(out, 3)] == [1, 2]
    out = bridge.ack(2, 5) + bridge.settle()
    assert [d.seq for d in delivers(out, 3)] == [6]
    assert [d.seq for d in delivers(out, 2)] == [6]


def test_the_next_read_starts_while_a_window_is_still_in_flight() -> None:
    """A backlog of 40 for a window of 4: the next page is asked for before the window
    runs dry, so the client never waits for a read; all arrive once, in order."""
    bridge = pair(window_messages=4)
    bridge.disconnect(2)
    for i in range(40):
        bridge.send(1, BOB, f"b{i}")
    bridge.settle()
    bridge.hello(3, "Bob")
    seqs = [d.seq for d in delivers(bridge.settle(), 3)]
    reads, early = 1, 0
    while len(seqs) < 40:
        out = bridge.ack(3, seqs[-1])
        if bridge.loads:
            reads += 1
            early += bool(delivers(out, 3))  # asked for beside a full window
        out += bridge.settle()
        seqs += [d.seq for d in delivers(out, 3)]
    assert seqs == list(range(1, 41))
    assert 2 <= reads <= 3 and early == reads - 1


def test_a_page_read_before_its_commit_is_reported_is_delivered_once() -> None:
    """A read that sees a commit the router has not heard of yet (readers run beside the
    writer; on PostgreSQL another node wrote it) delivers it, raising the tip, so its
    ack is taken; its late Committed delivers nothing twice."""
    bridge = pair()
    bridge.disconnect(2)
    bridge.send(1, BOB, "old")
    bridge.settle()
    bridge.hello(3, "Bob")
    (load,) = bridge.loads
    bridge.loads = []
    bridge.send(1, BOB, "new")
    persists, bridge.batch = bridge.batch, []
    result = bridge.store.commit(write_batch(persists))  # durable, not reported yet
    page = bridge.store.pending(BOB, load.after_seq, load.limit, load.max_bytes)
    assert [e.seq for e in page] == [1, 2]
    out = bridge.handle(PendingLoaded(3, load.after_seq, tuple(page)))
    assert [d.body for d in delivers(out, 3)] == ["old", "new"]
    assert errors(bridge.ack(3, 2), 3) == []
    out = bridge.handle(committed(persists, result)) + bridge.settle()
    assert delivers(out, 3) == []


def test_a_page_read_ahead_leaves_with_the_deliver_tails_made_beside_its_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reader thread's page carries each deliver's tail and size: the router encodes
    nothing more for it, and the frames are those of views.deliver (issue 13, item 7)."""
    bridge = pair(window_messages=4)
    bridge.disconnect(2)
    for i in range(12):
        bridge.send(1, BOB, f"b{i}")
    bridge.settle()
    bridge.hello(3, "Bob")
    (load,) = bridge.loads
    bridge.loads.clear()
    entries, prepared = mailbox_page(
        bridge.store, load.recipient, load.after_seq, load.limit, load.max_bytes
    )
    assert [p is not None for p in prepared] == [True] * 12
    expected = {e.seq: encode(views.deliver(e)) for e in entries}

    def refused(*args: object) -> bytes:
        raise AssertionError("a prepared entry was encoded again on the event loop")

    monkeypatch.setattr(views, "deliver_tail", refused)
    out = bridge.handle(PendingLoaded(3, load.after_seq, entries, bridge.now, prepared))
    for seq in range(5, 13, 4):  # the window's acks let the ready queue out
        out += bridge.ack(3, seq - 1)
    sent = [a for a in out if isinstance(a, Send) and a.data is not None and a.conn == 3]
    got = {d.seq: d for d in delivers(out, 3)}
    assert sorted(got) == list(range(1, 13)) and len(sent) == 12
    assert all(
        json.loads(a.data or b"") == json.loads(expected[s]) for a, s in zip(sent, got, strict=True)
    )


def test_a_paused_message_read_from_the_store_still_says_why() -> None:
    """A page's prepared tail is the unpaused one: messages of a conversation paused when
    they are delivered from a page still carry its reason (§3.6)."""
    bridge = Bridge(brake=BrakeLimits(hops=1, per_minute=0), limits=Limits(window_messages=4))
    agent: dict[str, Any] = {"client": {"kind": "mcp"}}
    bridge.join(1, "Alice", **agent)
    bridge.join(2, "Bob", **agent)
    bridge.disconnect(2)
    bridge.send(1, BOB, "first")
    bridge.send(1, BOB, "second")
    bridge.settle()
    bridge.hello(3, "Bob", **agent)
    out = bridge.settle()
    got = {d.body: d.paused for d in delivers(out, 3)}
    assert all("no human input" in (got[body] or "") for body in ("first", "second"))


def test_entries_read_ahead_count_their_encoded_deliver_against_the_ready_bytes() -> None:
    """The ready queue's byte bound covers what it holds: an entry read ahead counts its
    flow size and its encoded deliver; acks give both back (docs/security.md, Memory)."""
    bridge = pair(window_messages=4)
    bridge.disconnect(2)
    for i in range(12):
        bridge.send(1, BOB, f"b{i}")
    bridge.settle()
    bridge.hello(3, "Bob")
    bridge.settle()
    conn = bridge.router._registry.conns[3]
    assert conn.ready is not None and len(conn.ready) == 8
    held = sum(size + len(tail or b"") for _, size, tail in conn.ready)
    assert conn.ready_bytes == held > sum(size for _, size, _ in conn.ready)
    for seq in (4, 8, 12):
        bridge.ack(3, seq)
    assert conn.ready is None and conn.ready_bytes == 0
