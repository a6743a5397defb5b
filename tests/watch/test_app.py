"""The watch's terminal view, driven headless through Textual's pilot (App.run_test)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from ai_connect.errors import NotConnected
from ai_connect.watch.app import WatchApp
from ai_connect.watch.compose import parse_send
from ai_connect.watch.events import DeliveryChanged, PresenceChanged, Snapshot, WorkChanged
from ai_connect.watch.model import WatchModel

from .helpers import ALICE, BOB, CAROL, FakeSource, message, peer, proposal

Scenario = Callable[["RecordingApp", Pilot[None], FakeSource], Awaitable[None]]


class RecordingApp(WatchApp):
    """Keeps what it told the user in notifications."""

    told: list[str]

    def notify(self, message: str, **options: Any) -> None:
        self.told = [*getattr(self, "told", []), message]
        super().notify(message, **options)


def run(
    scenario: Scenario, *, sender: str | None = "ops", source: FakeSource | None = None
) -> None:
    async def main() -> None:
        src = source or FakeSource()
        app = RecordingApp(WatchModel(), src, sender=sender, clock=lambda: 1100.0, tick_s=3600)
        async with app.run_test(size=(160, 30)) as pilot:
            await src.taken()
            await scenario(app, pilot, src)

    asyncio.run(asyncio.wait_for(main(), 30))


def keys(text: str) -> list[str]:
    """The key presses that type ``text``."""
    names = {" ": "space", "/": "slash", "@": "at", ":": "colon", '"': "quotation_mark"}
    return [names.get(c, c) for c in text]


def cells(app: WatchApp, table: str) -> list[list[str]]:
    t = app.query_one(table, DataTable)
    return [[str(c) for c in t.get_row_at(i)] for i in range(t.row_count)]


def timeline(app: WatchApp) -> list[list[str]]:
    """The timeline's rows but the link's (connected to...)."""
    return [row for row in cells(app, "#timeline") if row[1] != "link"]


def static(app: WatchApp, selector: str) -> str:
    content = app.query_one(selector, Static).render()
    return str(content)


def test_messages_appear_with_their_state_kept_current() -> None:
    """A message is a timeline row; its state cell moves accepted -> delivered -> shown."""

    async def scenario(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        src.put(Snapshot(1000.0, peers=(peer(ALICE), peer(BOB)), bridge="ws://b:1"))
        src.put(message(thread="review", preview="Can you look?"))
        await src.taken()
        await pilot.pause()  # the panels redraw once per burst, just after it
        (row,) = timeline(app)
        assert row[1:] == [
            "message",
            "alice (web) -> bob (web)",
            "accepted",
            "review",
            "Can you look?",
        ]
        src.put(DeliveryChanged(1001.0, "m1", BOB, "delivered", "mcp"))
        await src.taken()
        await pilot.pause()  # the panels redraw once per burst, just after it
        assert timeline(app)[0][3] == "delivered"
        src.put(DeliveryChanged(1002.0, "m1", BOB, "shown", "hook"))
        await src.taken()
        await pilot.pause()  # the panels redraw once per burst, just after it
        assert [r[3] for r in timeline(app)] == ["shown (hook)"]
        assert "ws://b:1 · connected" in static(app, "#status")
        link = cells(app, "#timeline")[0]
        assert link[1:3] == ["link", "bridge"]
        assert link[5] == "ws://b:1: 2 peers (2 online), 0 open proposals"

    run(scenario)


def test_joins_proposals_peers_panel_and_attention() -> None:
    """Joins and proposals are rows; the peers panel (p hides it) and attention line
    follow them."""

    async def scenario(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        src.put(Snapshot(1000.0, peers=(peer(BOB, online=False, last_seen=800.0, unread=2),)))
        src.put(PresenceChanged(1050.0, peer(CAROL), joined=True), proposal(ts=1060.0))
        await src.taken()
        await pilot.pause()  # the panels redraw once per burst, just after it
        assert [r[1] for r in timeline(app)] == ["join", "proposal"]
        assert cells(app, "#peers") == [
            ["carol (api)", "", "online", ""],
            ["bob (web)", "2", "5 min ago", ""],
        ]
        attention = static(app, "#attention")
        assert "unread: bob (web) 2" in attention
        assert "waiting for votes: prop-1 (bob (web), carol (api))" in attention
        await pilot.press("p")
        assert not app.query_one("#peers").display, "p hides the peers panel"

    run(scenario)


def test_reply_sends_as_the_human_in_the_thread() -> None:
    """r on a message fills in a reply to its sender; Enter sends it as the --as person."""

    async def scenario(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        src.put(Snapshot(1000.0), message(thread="review"))
        await src.taken()
        await pilot.pause()  # the panels redraw once per burst, just after it
        await pilot.press("r")
        assert app.query_one("#compose").value == '@"alice (web)" '  # type: ignore[attr-defined]
        await pilot.press(*keys("on it"), "enter")
        await pilot.pause()
        assert src.sent == [
            {"name": "ops", "to": ALICE, "body": "on it", "thread": "review", "reply_to": "m1"}
        ]

    run(scenario)


def test_typed_message_to_a_peer() -> None:
    """s, then PEER text, sends a fresh message (no thread, no reply_to)."""

    async def scenario(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        await pilot.press("s", *keys("bob quiet please"), "enter")
        await pilot.pause()
        assert src.sent == [
            {"name": "ops", "to": "bob", "body": "quiet please", "thread": None, "reply_to": None}
        ]
        assert app.is_running, "q typed on the line is text, not Quit"
        assert app.told == ["sent sent-1 to bob"]

    run(scenario)


def test_read_only_and_failed_sends_send_nothing() -> None:
    """Without --as nothing is sent; a bridge error is reported, not raised."""

    async def read_only(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        app.query_one("#compose").focus()
        await pilot.press(*keys("@bob hi"), "enter")
        await pilot.pause()
        assert src.sent == []
        assert "read-only" in static(app, "#status")
        assert app.told == ["read-only: start ai-connect watch --as NAME to send"]

    run(read_only, sender=None)

    async def failing(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        app.query_one("#compose").focus()
        await pilot.press(*keys("@bob hi"), "enter")
        await pilot.pause()
        assert app.is_running
        assert app.told == ["not sent: the bridge is down"]

    run(failing, source=FakeSource(fail=NotConnected("the bridge is down")))


def test_filters_typed_on_the_line_refilter_the_timeline() -> None:
    """/peer:carol shows only carol's traffic; / alone shows everything again."""

    async def scenario(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        src.put(Snapshot(1000.0), message("m1"), message("m2", to=CAROL, recipients=(CAROL,)))
        await src.taken()
        await pilot.pause()  # the panels redraw once per burst, just after it
        await pilot.press("slash", *keys("peer:carol"), "enter")
        await pilot.pause()
        assert [r[2] for r in timeline(app)] == ["alice (web) -> carol (api)"]
        assert "showing peer carol" in static(app, "#status")
        await pilot.press("slash")
        app.query_one("#compose").value = "/"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert len(timeline(app)) == 2

    run(scenario)


def test_peer_text_is_never_markup_or_escapes() -> None:
    """A body with Rich markup or escape sequences is shown literally, cleaned."""

    async def scenario(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        src.put(Snapshot(1000.0), message(preview="[reverse]x[/reverse] \x1b[31mred"))
        await src.taken()
        await pilot.pause()  # the panels redraw once per burst, just after it
        table = app.query_one("#timeline", DataTable)
        text = table.get_row_at(1)[5]
        assert isinstance(text, Text)
        assert text.plain == "[reverse]x[/reverse] \\x1b[31mred"
        assert not text.spans

    run(scenario)


def test_no_color_makes_the_app_monochrome(monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR in the environment: the terminal view draws without colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert WatchApp(WatchModel(), FakeSource()).no_color
    monkeypatch.delenv("NO_COLOR")
    assert not WatchApp(WatchModel(), FakeSource()).no_color


def test_parse_send() -> None:
    """@PEER text and @"Name (Project)" text; anything else says how to write it."""
    assert parse_send("@bob hi there") == ("bob", "hi there")
    assert parse_send('@"bob (web)" hi') == ("bob (web)", "hi")
    assert parse_send("@* all") == ("*", "all")
    for bad in ("bob hi", "@bob", '@"bob hi', "@ hi"):
        with pytest.raises(ValueError, match="@PEER MESSAGE"):
            parse_send(bad)


def test_enter_opens_a_messages_detail_kept_current() -> None:
    """Enter on a message shows each recipient's state, updated as it changes; Escape
    closes it."""

    async def scenario(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        src.put(Snapshot(1000.0), message(to="*", recipients=(BOB, CAROL), preview="a\nb"))
        await src.taken()
        await pilot.pause()
        detail = app.query_one("#detail", Static)
        assert not detail.display
        await pilot.press("enter")
        await pilot.pause()
        assert detail.display
        assert "bob (web): accepted" in static(app, "#detail")
        assert "  | a\n  | b" in static(app, "#detail")
        src.put(DeliveryChanged(1001.0, "m1", BOB, "shown", "channel"))
        await src.taken()
        await pilot.pause()
        assert "bob (web): shown (channel)" in static(app, "#detail")
        await pilot.press("escape")
        await pilot.pause()
        assert not detail.display

    run(scenario)


def test_the_timeline_keeps_its_newest_rows_only() -> None:
    """Past keep_rows the oldest rows leave the screen (a long watch stays light)."""

    async def main() -> None:
        src = FakeSource()
        app = WatchApp(WatchModel(), src, clock=lambda: 1100.0, tick_s=3600, keep_rows=3)
        async with app.run_test(size=(160, 30)):
            src.put(Snapshot(1000.0), *(message(f"m{i}") for i in range(5)))
            await src.taken()
            assert [r[2] for r in cells(app, "#timeline")] == ["alice (web) -> bob (web)"] * 3
            assert app.query_one("#timeline", DataTable).get_row("m:m4")

    asyncio.run(asyncio.wait_for(main(), 30))


def test_rows_from_another_day_show_the_date() -> None:
    """A row of today shows its time; one of another day (--last) its month and day."""

    async def scenario(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        today = time.mktime((2026, 12, 4, 6, 31, 2, 0, 0, -1))
        app.clock = lambda: today
        yesterday = today - 86400
        src.put(Snapshot(today), message("m1", ts=yesterday), message("m2", ts=today))
        await src.taken()
        assert [r[0] for r in timeline(app)] == ["12-03 06:31", "06:31:02"]

    run(scenario)


def test_a_work_status_is_a_row_and_shows_in_the_peers_panel() -> None:
    """A peer's new work status: a 'work' row, and the peers panel's work column."""

    async def scenario(app: RecordingApp, pilot: Pilot[None], src: FakeSource) -> None:
        src.put(Snapshot(1000.0, peers=(peer(BOB, unread=1),)))
        line = "working · github.com/org/app main@3f2a1bc · edited src/app.py"
        src.put(WorkChanged(1010.0, replace(peer(BOB), work=line)))
        await src.taken()
        await pilot.pause()
        (row,) = [r for r in timeline(app) if r[1] == "work"]
        assert "bob (web)" in " ".join(row) and "edited src/app.py" in " ".join(row)
        assert cells(app, "#peers") == [["bob (web)", "1", "online", line]]

    run(scenario)
