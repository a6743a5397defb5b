"""The watch's model: events in, rows, peers panel and attention line out (pure)."""

from __future__ import annotations

from ai_connect.watch.events import (
    DeliveryChanged,
    LinkChanged,
    PresenceChanged,
    Snapshot,
)
from ai_connect.watch.filters import Filters
from ai_connect.watch.model import WatchModel
from ai_connect.watch.summary import context_summary, one_line

from .helpers import ALICE, BOB, CAROL, message, peer, proposal


def test_a_message_makes_one_row_with_route_thread_and_first_lines() -> None:
    """A stored message is one row: time, sender -> recipient, thread, its first lines."""
    model = WatchModel()
    rows = model.apply(message(thread="review", preview="line one\n\nline two\nline three"))
    assert len(rows) == 1
    row = rows[0]
    assert (row.kind, row.key, row.ts) == ("message", "m1", 1000.0)
    assert row.who == "alice (web) -> bob (web)"
    assert row.thread == "review"
    assert row.text.startswith("line one / line two")
    assert "three" not in row.text


def test_a_message_row_summarises_context_size_and_pause() -> None:
    """The row carries the context summary, what the preview left out, and a pause."""
    model = WatchModel()
    m = message(
        preview="abc", size=1003, context={"file": "src/x.py", "lines": [10, 20]}, paused="loop"
    )
    (row,) = model.apply(m)
    assert "(+1000 bytes)" in row.text
    assert "[context: file src/x.py:10-20]" in row.text
    assert "paused" in row.text


def test_broadcast_and_human_routes() -> None:
    """A broadcast shows * and its fan-out; a person's message is marked [human]."""
    model = WatchModel()
    (row,) = model.apply(message(to="*", recipients=(BOB, CAROL), human=True, sender="ops (human)"))
    assert row.who == "ops (human) [human] -> * (2)"
    assert row.human


def test_delivery_states_move_forward_only() -> None:
    """accepted -> delivered -> shown, each a row; a repeat or a step back changes nothing."""
    model = WatchModel()
    model.apply(message())
    assert model.state_text("m1") == "accepted"
    (row,) = model.apply(DeliveryChanged(1001.0, "m1", BOB, "delivered", "mcp"))
    assert (row.kind, row.who, row.text) == ("delivered", "-> bob (web)", "to mcp")
    assert model.state_text("m1") == "delivered"
    assert model.apply(DeliveryChanged(1001.5, "m1", BOB, "delivered", "mcp")) == []
    (row,) = model.apply(DeliveryChanged(1002.0, "m1", BOB, "shown", "hook"))
    assert (row.kind, row.text) == ("shown", "by hook")
    assert model.state_text("m1") == "shown (hook)"
    assert model.apply(DeliveryChanged(1003.0, "m1", BOB, "delivered", "mcp")) == []
    assert model.states("m1") == {BOB: "shown"}


def test_broadcast_state_counts_recipients() -> None:
    """A broadcast's state says how many recipients were shown it, and the rest."""
    model = WatchModel()
    model.apply(message(to="*", recipients=(BOB, CAROL, "dave (web)")))
    model.apply(DeliveryChanged(1001.0, "m1", BOB, "shown", "tool"))
    model.apply(DeliveryChanged(1001.0, "m1", CAROL, "delivered", "hook"))
    assert model.state_text("m1") == "shown 1/3 · delivered 1 · waiting 1"


def test_a_delivery_of_an_unseen_message_still_shows() -> None:
    """A delivery of a message stored before the watch started is shown by its parties."""
    model = WatchModel(Filters(peers=("bob",)))
    (row,) = model.apply(DeliveryChanged(1.0, "old", BOB, "shown", "channel", sender=ALICE))
    assert row.key == "old"
    assert model.apply(DeliveryChanged(1.0, "old2", CAROL, "shown", None, sender=ALICE)) == []


def test_filters_hide_rows_but_the_state_is_kept() -> None:
    """A filtered-out message makes no rows, yet its unread count and states are kept."""
    model = WatchModel(Filters(peers=("carol",)))
    model.apply(Snapshot(0.0, peers=(peer(BOB), peer(CAROL))))
    assert model.apply(message()) == []
    assert model.apply(DeliveryChanged(1001.0, "m1", BOB, "delivered", "mcp")) == []
    assert model.states("m1") == {BOB: "delivered"}
    assert [r.address for r in model.peer_rows(1000.0)] == [CAROL]
    assert model.attention(1000.0).unread == ((BOB, 1),)


def test_presence_rows_and_peers_panel() -> None:
    """Joins and leaves are rows; the panel lists online peers first, then last seen."""
    model = WatchModel()
    model.apply(Snapshot(0.0, peers=(peer(BOB, online=False, last_seen=700.0, unread=2),)))
    (row,) = model.apply(PresenceChanged(900.0, peer(CAROL), joined=True))
    assert (row.kind, row.who) == ("join", CAROL)
    (row,) = model.apply(PresenceChanged(950.0, peer(CAROL, online=False, last_seen=950.0), False))
    assert row.kind == "leave"
    model.apply(PresenceChanged(960.0, peer(ALICE), joined=True))
    rows = model.peer_rows(1000.0)
    assert [(r.address, r.online, r.seen, r.unread) for r in rows] == [
        (ALICE, True, "online", 0),
        (BOB, False, "5 min ago", 2),
        (CAROL, False, "50 s ago", 0),
    ]


def test_unread_counts_follow_messages_and_shows() -> None:
    """A peer's unread count grows with each message to it and shrinks when one is shown."""
    model = WatchModel()
    model.apply(Snapshot(0.0, peers=(peer(BOB, unread=1), peer(CAROL))))
    model.apply(message("m1"))
    model.apply(message("m2", to="*", recipients=(BOB, CAROL)))
    assert model.attention(1000.0).unread == ((BOB, 3), (CAROL, 1))
    model.apply(DeliveryChanged(1001.0, "m1", BOB, "shown", "hook"))
    model.apply(DeliveryChanged(1001.0, "m2", CAROL, "shown", "hook"))
    assert model.attention(1001.0).unread == ((BOB, 2),)


def test_attention_names_copies_delivered_but_not_shown_for_long() -> None:
    """A copy delivered longer than stale_s ago and not shown needs attention; shown, not."""
    model = WatchModel(stale_s=60.0)
    model.apply(Snapshot(0.0, unshown=(DeliveryChanged(900.0, "old", CAROL, "delivered"),)))
    model.apply(message("m1"))
    model.apply(DeliveryChanged(1000.0, "m1", BOB, "delivered", "mcp"))
    assert [m for m, _, _ in model.attention(1030.0).unshown] == ["old"]
    assert [m for m, _, _ in model.attention(1090.0).unshown] == ["old", "m1"]
    model.apply(DeliveryChanged(1091.0, "m1", BOB, "shown", "hook"))
    attention = model.attention(1100.0)
    assert [m for m, _, _ in attention.unshown] == ["old"]
    assert "delivered, not shown: 1 (oldest 3 min 20 s, to carol (api))" in attention.text(1100.0)


def test_proposal_vote_and_verdict_rows_and_waiting_votes() -> None:
    """A proposal, each vote and its verdict are rows; open ones wait for their voters."""
    model = WatchModel()
    (row,) = model.apply(proposal())
    assert (row.kind, row.key, row.who) == ("proposal", "prop-1", ALICE)
    assert row.text == "Ship it? [majority: bob (web), carol (api)]"
    assert model.attention(0.0).waiting == (("prop-1", (BOB, CAROL)),)
    ballot = {"voter": BOB, "choice": "approve", "reason": "looks good", "ts": 1001.0}
    tally = {"approve": 1, "reject": 0, "abstain": 0, "pending": 1}
    (row,) = model.apply(proposal("voted", 1001.0, ballots=[ballot], tally=tally))
    assert (row.kind, row.who) == ("vote", BOB)
    assert row.text == "approve: looks good (1 approve, 0 reject, 0 abstain, 1 pending)"
    assert model.attention(0.0).waiting == (("prop-1", (CAROL,)),)
    (row,) = model.apply(
        proposal("decided", 1002.0, status="decided", outcome="approved", reason="2 of 2")
    )
    assert (row.kind, row.text) == ("verdict", "decided: approved (2 of 2)")
    assert model.attention(0.0).waiting == ()
    assert model.attention(0.0).text(0.0) == "nothing waiting"


def test_escalated_proposal_waits_for_its_judge() -> None:
    """An escalated proposal says to whom, and waits for its judge's ruling."""
    model = WatchModel()
    (row,) = model.apply(proposal("escalated", status="escalated", judge="judge (x)"))
    assert (row.kind, row.text) == ("verdict", "escalated to judge (x)")
    (row,) = model.apply(proposal("withdrawn", status="withdrawn"))
    assert row.text == "withdrawn"
    model.apply(
        Snapshot(0.0, proposals=(proposal(status="escalated", judge="judge (x)").proposal,))
    )
    assert model.attention(0.0).waiting == (("prop-1", ("judge (x)",)),)


def test_hostile_peer_text_is_cleaned_in_every_row_and_panel() -> None:
    """Escapes and bidi controls from peers reach no row, panel or attention line raw."""
    evil = "\x1b[2J\x1b]0;pwned\x07\u202e"
    sender = f"mal{evil} (web)"
    model = WatchModel(stale_s=0.0)
    model.apply(Snapshot(0.0, peers=(peer(sender, unread=1),)))
    rows = model.apply(
        message(sender=sender, preview=f"hi{evil}", thread=f"t{evil}", context={"file": evil})
    )
    rows += model.apply(DeliveryChanged(1.0, "m1", BOB, "delivered", f"p{evil}"))
    rows += model.apply(PresenceChanged(1.0, peer(sender), joined=True))
    rows += model.apply(proposal(question=f"q{evil}", author=sender, participants=[sender]))
    texts = [f"{r.who} {r.text} {r.thread}" for r in rows]
    texts += [r.address for r in model.peer_rows(2.0)]
    texts.append(model.attention(2.0).text(2.0))
    for text in texts:
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, text
    assert "\\x1b" in rows[0].who


def test_link_rows_and_connected_state() -> None:
    """A snapshot (connected) and the link going down are rows and the connected flag."""
    model = WatchModel()
    (row,) = model.apply(Snapshot(0.0, peers=(peer(BOB), peer(CAROL, False)), bridge="ws://h:1"))
    assert (row.kind, row.key, row.text) == (
        "link",
        "up",
        "ws://h:1: 2 peers (1 online), 0 open proposals",
    )
    assert model.connected and model.bridge == "ws://h:1"
    (row,) = model.apply(LinkChanged(1.0, up=False, reason="connection refused"))
    assert (row.kind, row.key, row.text) == ("link", "down", "connection refused")
    assert not model.connected


def test_the_model_keeps_a_bounded_number_of_messages() -> None:
    """Past ``keep`` messages the oldest are forgotten (a long watch stays small)."""
    model = WatchModel(keep=2)
    model.load([message("a"), message("b"), message("c")])
    assert model.message("a") is None and model.message("c") is not None


def test_one_line_cuts_and_cleans() -> None:
    """one_line joins the first lines, cuts to width with an ellipsis, escapes controls."""
    assert one_line("a\nb\nc", lines=2) == "a / b"
    assert one_line("x" * 50, width=10) == "x" * 9 + "…"
    assert one_line("a\tb\x1b") == "a\\x09b\\x1b"


def test_changing_filters_refilters_the_kept_timeline() -> None:
    """New filters show the timeline kept so far as they would have shown it."""
    model = WatchModel(Filters(peers=("carol",)))
    model.apply(message("m1"))
    model.apply(message("m2", recipients=(CAROL,), to=CAROL, thread="t"))
    model.apply(PresenceChanged(1.0, peer(BOB), joined=True))
    assert [r.key for r in model.rows()] == ["m2"]
    assert [r.key for r in model.set_filters(Filters())] == ["m1", "m2", BOB]
    assert [r.key for r in model.set_filters(Filters(threads=("t",)))] == ["m2", BOB]


def test_context_summary_of_the_feed() -> None:
    """The feed's context summary reads as file:lines, repo@branch and its size."""
    summary = {"kind": "file", "file": "a.py", "lines": [1, 9], "repo": "web", "branch": "main"}
    assert context_summary(summary | {"bytes": 120}) == "file a.py:1-9 · web@main · 120 bytes"
    assert context_summary({"keys": ["note", "url"], "bytes": 30}) == "note, url · 30 bytes"
    assert context_summary(None) == ""


def test_detail_of_a_message_lists_each_recipients_state() -> None:
    """The detail of a message: route, thread, each recipient's state, path and time,
    and its first lines, cleaned."""
    model = WatchModel()
    body = "one\ntwo\x1b[2J\nthree"
    m = message(to="*", recipients=(BOB, CAROL), thread="t", preview=body, size=999, online=(BOB,))
    model.apply(m)
    model.apply(DeliveryChanged(1000.0, "m1", BOB, "shown", "hook"))
    text = model.detail("m1", 1000.0)
    lines = text.split("\n")
    assert lines[0].startswith("m1 · alice (web) -> * (2) · ") and lines[0].endswith("thread t")
    assert lines[1].startswith("  bob (web): shown (hook) at ")
    assert lines[2].startswith("  carol (api): accepted (offline: waits in its mailbox) at ")
    assert lines[3:] == ["  | one", "  | two\\x1b[2J", "  | three", "  | …"]
    assert model.detail("unknown", 0.0) == ""


def test_past_messages_leave_the_snapshots_counts_alone() -> None:
    """Messages and states from the history (--last) are rows, but the snapshot's unread
    counts already hold them; a message both in the history and live is one row."""
    model = WatchModel()
    model.apply(Snapshot(2000.0, peers=(peer(BOB, unread=1),)))
    (row,) = model.apply(message("m1", past=True))
    assert row.key == "m1"
    model.apply(message("m2", past=True))
    model.apply(DeliveryChanged(1001.0, "m2", BOB, "shown", "hook", past=True))
    assert model.attention(2000.0).unread == ((BOB, 1),)
    assert model.state_text("m2") == "shown (hook)"
    assert model.apply(message("m1")) == []
    assert model.attention(2000.0).unread == ((BOB, 1),)


def test_a_work_status_updates_the_peer_and_makes_a_row() -> None:
    """WorkChanged: the peer keeps its unread count and gets the status line; the row
    is filtered by peer like a join; the line renderer prints it."""
    from dataclasses import replace

    from ai_connect.watch.events import Snapshot, WorkChanged
    from ai_connect.watch.lines import line
    from tests.watch.helpers import BOB, peer

    model = WatchModel()
    model.apply(Snapshot(1000.0, peers=(peer(BOB, unread=2),)))
    status = "idle · github.com/org/app main · edited a\x1b[31m.py"
    (row,) = model.apply(WorkChanged(1005.0, replace(peer(BOB), work=status)))
    assert (row.kind, row.who) == ("work", "bob (web)") and "\x1b" not in row.text
    (shown,) = model.peer_rows(1005.0)
    assert (shown.unread, shown.work) == (2, row.text)
    assert line(row).endswith("work      bob (web) " + row.text)
