"""text.terminal: the CLI's pure formatting (no I/O, no clock)."""

from __future__ import annotations

import json
import time
from typing import Any

from ai_connect import message_ids
from ai_connect.client import Receipt
from ai_connect.client.mailbox import Message
from ai_connect.protocol import MessageView, PeerView, StatusReport
from ai_connect.text import terminal

NOW = time.mktime((2025, 6, 15, 12, 0, 0, 0, 0, -1))


def message(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "3f2a9c1d00aa",
        "seq": 1,
        "from": "alice (proj)",
        "to": "bob (proj)",
        "content": "hello",
        "context": None,
        "thread": None,
        "reply_to": None,
        "timestamp": NOW - 60,
    }
    return base | fields


def peer(address: str, online: bool, last_seen: float = NOW) -> PeerView:
    name, project = address[:-1].split(" (")
    return PeerView(address=address, name=name, project=project, online=online, last_seen=last_seen)


# --- neutralising untrusted text ------------------------------------------------------


def test_clean_shows_escape_sequences_as_visible_text() -> None:
    """ESC, CSI/OSC sequences, BEL and C1 controls become visible escapes."""
    assert terminal.clean("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert terminal.clean("\x1b]0;title\x07") == "\\x1b]0;title\\x07"
    assert terminal.clean("a\x9b2Jb\x7f") == "a\\x9b2Jb\\x7f"


def test_clean_neutralises_carriage_returns_and_bidi_overrides() -> None:
    """\\r (overwrites a line) and bidi overrides (reorder text) are shown, not obeyed."""
    assert terminal.clean("ok\r[user] do it", multiline=True) == "ok\\x0d[user] do it"
    assert terminal.clean("abc\u202edef\u2066") == "abc\\u202edef\\u2066"


def test_clean_keeps_newlines_only_in_multiline_text() -> None:
    """Bodies keep newlines and tabs; one-line fields (names) escape them."""
    assert terminal.clean("a\nb\tc", multiline=True) == "a\nb\tc"
    assert terminal.clean("a\nb\tc") == "a\\x0ab\\x09c"


def test_clean_leaves_ordinary_unicode_alone() -> None:
    """Accents, CJK and emoji sequences (with zero-width joiners) pass unchanged."""
    text = "café 日本 👩\u200d💻"
    assert terminal.clean(text) == text


def test_to_json_escapes_everything_but_ascii() -> None:
    """JSON output carries no raw control or non-ASCII character, and round-trips."""
    value = {"content": "\x1b[2J é \u202e"}
    text = terminal.to_json(value)
    assert text.isascii() and "\x1b" not in text
    assert json.loads(text) == value
    assert "\n" not in terminal.to_json(value, indent=None)


# --- messages -------------------------------------------------------------------------


def test_message_text_labels_a_peer_message_with_its_sender() -> None:
    """The header names the sender, time and short id; the body is indented below it."""
    text = terminal.message_text(message(content="line one\nline two"), NOW)
    head, *body = text.splitlines()
    assert (
        head == f"[peer message] from alice (proj) · {terminal.stamp(NOW - 60, NOW)} · id …9c1d00aa"
    )
    assert body == ["    line one", "    line two"]


def test_message_text_neutralises_the_sender_and_body() -> None:
    """Escapes in sender, thread and body cannot reach the terminal."""
    text = terminal.message_text(
        message(**{"from": "ev\x1bil (p)", "content": "\x1b[2Jx", "thread": "t\x1b"}), NOW
    )
    assert "\x1b" not in text
    assert "from ev\\x1bil (p)" in text and "\\x1b[2Jx" in text and "thread t\\x1b" in text


def test_message_text_shows_broadcasts_threads_replies_and_context() -> None:
    """Broadcasts say so; thread, reply and a file context are shown."""
    text = terminal.message_text(
        message(
            to="*",
            thread="t1",
            reply_to="9c1d2e3f4a5b",
            context={"file": "src/x.py", "content": "a = 1\nb = 2"},
        ),
        NOW,
    )
    lines = text.splitlines()
    assert lines[0].startswith("[peer message] from alice (proj) to * (everyone) · ")
    assert lines[1] == "  thread t1 · reply to …2e3f4a5b"
    assert lines[-3:] == ["  context: file src/x.py", "    | a = 1", "    | b = 2"]
    other = terminal.message_text(message(context={"k": "\x1b"}), NOW)
    assert other.splitlines()[-1] == '  context: {"k": "\\u001b"}'


def test_message_text_marks_own_messages() -> None:
    """A message from ``me`` (history) reads ``[you] to …``, not as a peer message."""
    text = terminal.message_text(message(), NOW, me="alice (proj)")
    assert text.startswith("[you] to bob (proj) · ")


def test_messages_text_separates_messages_and_is_empty_for_none() -> None:
    """Several messages are separated by one blank line; none gives an empty string."""
    text = terminal.messages_text([message(content="a"), message(content="b")], NOW)
    assert "    a\n\n[peer message]" in text
    assert terminal.messages_text([], NOW) == ""


def test_view_dict_has_the_keys_of_a_delivered_message() -> None:
    """History and search results use the same keys as Message.as_dict (without seq)."""
    view = MessageView(id="m1", from_="a (p)", to="b (p)", body="x", ts=NOW)
    delivered = Message(1, "m1", "a (p)", "b (p)", "x", None, None, None, NOW)
    assert terminal.view_dict(view) == {k: v for k, v in delivered.as_dict().items() if k != "seq"}


# --- times ----------------------------------------------------------------------------


def test_stamp_shows_the_date_only_for_other_days() -> None:
    """Today: HH:MM:SS; another day: the date too."""
    assert terminal.stamp(NOW - 3600, NOW) == "11:00:00"
    assert terminal.stamp(NOW - 2 * 86400, NOW) == "2025-06-13 12:00:00"


def test_ago_and_duration_read_naturally() -> None:
    """Relative times and durations pick a sensible unit."""
    assert [terminal.ago(NOW - s, NOW) for s in (0, 42, 300, 7200, 3 * 86400)] == [
        "just now",
        "42 s ago",
        "5 min ago",
        "2 h ago",
        "3 d ago",
    ]
    assert [terminal.duration(s) for s in (5, 302, 3 * 3600 + 420, 2 * 86400 + 4 * 3600)] == [
        "5 s",
        "5 min 02 s",
        "3 h 07 min",
        "2 d 4 h",
    ]


# --- peers, receipts, status ----------------------------------------------------------


def test_peers_text_lists_online_first_then_offline_with_last_seen() -> None:
    """Online peers come first (you marked), offline ones say when they were last seen."""
    text = terminal.peers_text(
        [peer("zoe (p)", False, NOW - 300), peer("bob (p)", True), peer("amy (p)", True)],
        NOW,
        me="bob (p)",
    )
    assert text.splitlines() == [
        "online   amy (p)",
        "online   bob (p) (you)",
        "offline  zoe (p) · last seen 5 min ago",
    ]
    assert terminal.peers_text([], NOW) == "No known peers."


def test_receipt_text_says_live_or_queued() -> None:
    """A receipt names who got it live and who will get it on connect."""
    receipt = Receipt("c1", "accepted", "m1", "*", ("a (p)", "b (p)"), ("a (p)",), NOW)
    assert terminal.receipt_text(receipt) == (
        "sent message m1: delivered live to a (p); "
        "queued for offline b (p) (delivered when they connect)"
    )
    again = Receipt("c1", "accepted", "m1", "b (p)", ("b (p)",), ("b (p)",), NOW, True)
    assert terminal.receipt_text(again) == (
        "sent message m1 (sent before: stored once): delivered live to b (p)"
    )
    data = terminal.receipt_dict(receipt)
    assert data["online"] == ["a (p)"] and data["offline"] == ["b (p)"]
    assert data["timestamp"] == NOW


def test_status_text_and_dict() -> None:
    """Status shows the link, unread count, version, storage and uptime."""
    report = StatusReport(
        rid=1,
        address="bob (p)",
        server="0.1.0",
        storage="sqlite",
        uptime_s=3725,
        peers_online=2,
        peers_known=5,
        unread=3,
        tip=10,
        acked=7,
    )
    data = terminal.status_dict(report, "ws://127.0.0.1:9999")
    assert "token" not in data and data["connected"] is True
    assert terminal.status_text(data).splitlines() == [
        "address:   bob (p)",
        "bridge:    ws://127.0.0.1:9999",
        "connected: yes",
        "unread:    3",
        "server:    ai-connect 0.1.0 (protocol 1)",
        "storage:   sqlite",
        "uptime:    1 h 02 min",
        "peers:     2 online, 5 known",
    ]
    down = {"bridge": "ws://h:1", "connected": False, "error": "refused"}
    assert terminal.status_text(down) == "bridge:    ws://h:1\nconnected: no"


def test_ids_of_one_bridge_run_are_told_apart_and_their_short_form_finds_them() -> None:
    """Ids sharing the bridge run's prefix show distinct short forms, and each form (with
    or without the ellipsis, or a unique prefix) names exactly its message."""
    ids = [f"ff069f80e42f{n:x}" for n in range(1, 300)]
    shown = [terminal.short_id(i) for i in ids]
    assert len(set(shown)) == len(ids)
    for full, form in zip(ids, shown, strict=True):
        assert message_ids.match(form, ids) == [full]
        assert message_ids.match(form.lstrip("…"), ids) == [full]
    assert message_ids.match("ff069f80", ids) == sorted(ids)  # the shared prefix: ambiguous
    assert message_ids.match("…zz", ids) == []
