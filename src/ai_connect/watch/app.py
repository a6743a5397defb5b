"""The terminal view of ``ai-connect watch`` (Textual): timeline, peers, attention, a line to type.

::

    ai-connect watch · ws://127.0.0.1:7878 · connected · showing everything · as ops [human]
    time     kind      who                       state         thread  text      │ peer   unread
    06:31:02 message   alice (web) -> bob (web)  shown (hook)  review  Can you … │ alice (web)
    06:31:05 join      carol (api)                                              │ bob (web)  2
    attention: unread: bob (web) 2 · waiting for votes: prop-1 (carol (api))
    > @bob thanks, merging now

A message's row shows its delivery state and keeps it current (accepted -> delivered ->
shown, per recipient for a broadcast). The line at the bottom takes ``@PEER text`` (send
as the ``--as`` person; ``s`` goes there, ``r`` on a message fills in a reply to its
sender, in its thread) and ``/peer:bob project:web thread:t1`` (filters; ``/`` alone clears them).
Enter on a message opens its detail: each recipient's state, path and time, and its first
lines; Escape closes it.

Every text comes from :class:`~ai_connect.watch.model.WatchModel`, cleaned, and is
shown as :class:`rich.text.Text`, never as markup: a peer cannot style the screen.
Textual honours ``NO_COLOR`` itself (monochrome).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Footer, Input, Static

from ai_connect.errors import BridgeError
from ai_connect.watch.compose import parse_send
from ai_connect.watch.events import DeliveryChanged, WatchEvent, WatchSource
from ai_connect.watch.filters import parse_filters
from ai_connect.watch.model import Row, WatchModel

__all__ = ["WatchApp"]

_COLUMNS = (("time", 11), ("kind", 9), ("who", 30), ("state", 22), ("thread", 10), ("text", 60))
"""The text last: a narrow terminal cuts it, never the state."""
_STYLES = {
    "message": "cyan",
    "delivered": "blue",
    "shown": "green",
    "join": "green",
    "leave": "yellow",
    "proposal": "magenta",
    "vote": "magenta",
    "verdict": "bold magenta",
    "link": "red",
    "work": "dim",
}


class WatchApp(App[None]):
    """``ai-connect watch`` on a terminal. ``source`` gives the events and sends."""

    TITLE = "ai-connect watch"
    CSS = """
    #status { height: 1; background: $boost; }
    #main { height: 1fr; }
    #timeline { width: 1fr; }
    #peers { width: 72; }
    #detail { height: auto; max-height: 12; border-top: solid $accent; display: none; }
    #attention { height: auto; max-height: 3; background: $boost; }
    #compose { height: 3; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("s", "send", "Send"),
        Binding("r", "reply", "Reply"),
        Binding("slash", "filter", "Filter"),
        Binding("p", "toggle_peers", "Peers"),
        Binding("escape", "leave_input", "Close", show=False),
    ]

    def __init__(
        self,
        model: WatchModel,
        source: WatchSource,
        *,
        sender: str | None = None,
        clock: Callable[[], float] = time.time,
        tick_s: float = 1.0,
        keep_rows: int = 5000,
    ) -> None:
        super().__init__()
        self.model, self.source, self.sender = model, source, sender
        self.clock, self.tick_s, self.keep_rows = clock, tick_s, keep_rows
        self._reply: tuple[str, str, str | None] | None = None
        """(target, message id, thread) that ``r`` filled in."""
        self._keys = itertools.count()
        self._rows: deque[str] = deque()
        """Row keys of the timeline, oldest first (to drop the oldest past keep_rows)."""
        self.events_seen = 0
        self._refresh_due = False
        self._detail: str | None = None
        """The message whose detail is open (Enter on its row; Escape closes it)."""

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal(id="main"):
            yield DataTable(id="timeline", cursor_type="row")
            yield DataTable(id="peers", cursor_type="none", show_cursor=False)
        yield Static(id="detail")
        yield Static(id="attention")
        hint = "@PEER text sends" if self.sender else "read-only (start with --as NAME to send)"
        yield Input(
            id="compose",
            placeholder=f"{hint} · /peer:NAME project:P thread:T filters",
            select_on_focus=False,  # r and / fill the line in: typing adds to it
        )
        yield Footer()

    def on_mount(self) -> None:
        timeline = self.query_one("#timeline", DataTable)
        for name, width in _COLUMNS:
            timeline.add_column(name, width=width, key=name)
        peers = self.query_one("#peers", DataTable)
        peers.add_column("peer", width=22, key="peer")
        peers.add_column("unread", width=6, key="unread")
        peers.add_column("seen", width=10, key="seen")
        peers.add_column("work", width=48, key="work")
        self._refresh()
        timeline.focus()
        self.run_worker(self._pump(), exclusive=True, name="feed")
        self.set_interval(self.tick_s, self._refresh)

    async def _pump(self) -> None:
        async for event in self.source.events():
            self.feed(event)

    # --- events in --------------------------------------------------------------------

    def feed(self, event: WatchEvent) -> None:
        """Applies one event to the model and the screen."""
        self.events_seen += 1
        rows = self.model.apply(event)
        timeline = self.query_one("#timeline", DataTable)
        follow = timeline.row_count == 0 or timeline.cursor_row >= timeline.row_count - 1
        for row in rows:
            if row.kind in ("delivered", "shown") and f"m:{row.key}" in timeline.rows:
                continue  # its message's row shows the state
            self._add(timeline, row)
        if isinstance(event, DeliveryChanged) and f"m:{event.id}" in timeline.rows:
            timeline.update_cell(f"m:{event.id}", "state", Text(self.model.state_text(event.id)))
        if rows and follow:
            timeline.move_cursor(row=timeline.row_count - 1, animate=False)
        if not self._refresh_due:  # one redraw of the panels per burst of events
            self._refresh_due = True
            self.call_next(self._refresh)

    def _add(self, timeline: DataTable[Text], row: Row) -> None:
        key = f"m:{row.key}" if row.kind == "message" else f"r:{next(self._keys)}"
        if key in timeline.rows:
            return
        state = self.model.state_text(row.key) if row.kind == "message" else ""
        who = Text(row.who, style="bold" if row.human else "")
        timeline.add_row(
            Text(_when(row.ts, self.clock())),
            Text(row.kind, style=_STYLES[row.kind]),
            who,
            Text(state),
            Text(row.thread),
            Text(row.text),
            key=key,
        )
        self._rows.append(key)
        while len(self._rows) > self.keep_rows:
            timeline.remove_row(self._rows.popleft())

    def _rebuild(self) -> None:
        timeline = self.query_one("#timeline", DataTable)
        timeline.clear()
        self._rows.clear()
        for row in self.model.rows():
            if row.kind in ("delivered", "shown") and f"m:{row.key}" in timeline.rows:
                continue
            self._add(timeline, row)
        if timeline.row_count:
            timeline.move_cursor(row=timeline.row_count - 1, animate=False)
        self._refresh()

    def _refresh(self) -> None:
        """Redraws what events and time change: the status, the peers panel, the
        attention line."""
        self._refresh_due = False
        now = self.clock()
        link = "connected" if self.model.connected else "connecting…"
        who = f"as {self.sender} [human]" if self.sender else "read-only"
        bridge = self.model.bridge or "the bridge"
        self.query_one("#status", Static).update(
            Text(f"ai-connect watch · {bridge} · {link} · showing {self.model.filters.describe()}")
            + Text(f" · {who}")
        )
        peers = self.query_one("#peers", DataTable)
        peers.clear()
        for p in self.model.peer_rows(now):
            style = "green" if p.online else "dim"
            peers.add_row(
                Text(p.address, style=style),
                Text(str(p.unread) if p.unread else "", style="bold" if p.unread else ""),
                Text(p.seen, style=style),
                Text(p.work, style="" if p.online else "dim"),
            )
        detail = self.query_one("#detail", Static)
        text = self.model.detail(self._detail, now) if self._detail else ""
        detail.display = bool(text)
        detail.update(Text(text))
        attention = self.model.attention(now)
        busy = bool(attention.unread or attention.unshown or attention.waiting)
        self.query_one("#attention", Static).update(
            Text("attention: ", style="bold yellow" if busy else "") + Text(attention.text(now))
        )

    # --- actions ----------------------------------------------------------------------

    def action_reply(self) -> None:
        """Fills the line with a reply to the selected message's sender, in its thread."""
        timeline = self.query_one("#timeline", DataTable)
        if not timeline.row_count:
            return
        key = timeline.coordinate_to_cell_key(Coordinate(timeline.cursor_row, 0)).row_key.value
        if key is None or not key.startswith("m:"):
            self.notify("select a message to reply to", severity="warning")
            return
        message = self.model.message(key[2:])
        if message is None:
            return
        self._reply = (message.sender, message.id, message.thread)
        self._fill(f'@"{message.sender}" ')

    def action_send(self) -> None:
        """Puts the cursor on the line, after an ``@``: type the peer and the text."""
        self._fill("@")

    def _fill(self, text: str) -> None:
        compose = self.query_one("#compose", Input)
        compose.value = text
        compose.focus()
        compose.cursor_position = len(text)

    def action_filter(self) -> None:
        """Puts the current filters on the line to edit (Enter applies, ``/`` alone clears)."""
        self._fill("/" + _filter_text(self.model))

    def action_toggle_peers(self) -> None:
        peers = self.query_one("#peers", DataTable)
        peers.display = not peers.display

    def action_leave_input(self) -> None:
        """Escape: empties the line and closes the detail."""
        self.query_one("#compose", Input).value = ""
        self._reply = None
        self._detail = None
        self._refresh()
        self.query_one("#timeline", DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a message: its detail (each recipient's state, its first lines)."""
        key = event.row_key.value
        if key is not None and key.startswith("m:"):
            self._detail = None if self._detail == key[2:] else key[2:]
            self._refresh()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        line = event.value.strip()
        event.input.value = ""
        self.query_one("#timeline", DataTable).focus()
        if line.startswith("/"):
            try:
                self.model.set_filters(parse_filters(line[1:]))
            except ValueError as exc:
                self.notify(str(exc), severity="error")
                return
            self._rebuild()
            return
        if line:
            await self._send(line)

    async def _send(self, line: str) -> None:
        if self.sender is None:
            self.notify("read-only: start ai-connect watch --as NAME to send", severity="error")
            return
        try:
            target, body = parse_send(line)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        thread = reply_to = None
        if self._reply is not None and self._reply[0] == target:
            _, reply_to, thread = self._reply
        self._reply = None
        try:
            message_id = await self.source.send(
                self.sender, target, body, thread=thread, reply_to=reply_to
            )
        except BridgeError as exc:
            self.notify(f"not sent: {exc}", severity="error")
            return
        self.notify(f"sent {message_id} to {target}")


def _when(ts: float, now: float) -> str:
    """``06:31:02`` today, ``12-03 23:59`` (month-day hour:minute) any other day."""
    when = time.localtime(ts)
    if time.strftime("%Y-%m-%d", when) == time.strftime("%Y-%m-%d", time.localtime(now)):
        return time.strftime("%H:%M:%S", when)
    return time.strftime("%m-%d %H:%M", when)


def _filter_text(model: WatchModel) -> str:
    f = model.filters
    words = [*f.peers, *(f"project:{p}" for p in f.projects), *(f"thread:{t}" for t in f.threads)]
    return " ".join(words)
