"""watch's line mode: one greppable line per event (pure)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from ai_connect.watch.events import DeliveryChanged, PresenceChanged
from ai_connect.watch.lines import json_line, line, wants_color
from ai_connect.watch.model import WatchModel
from ai_connect.watch.run import run_lines

from .helpers import BOB, CAROL, FakeSource, message, peer, proposal

TS = time.mktime((2026, 12, 4, 6, 31, 2, 0, 0, -1))


def test_lines_start_with_date_time_and_a_fixed_width_kind() -> None:
    """Each kind of event is one line: local date and time, kind padded, then its fields."""
    model = WatchModel()
    rows = model.apply(message(ts=TS, thread="review", preview="Can you look\nat this?"))
    rows += model.apply(DeliveryChanged(TS, "m1", BOB, "delivered", "mcp"))
    rows += model.apply(DeliveryChanged(TS, "m1", BOB, "shown", "hook"))
    rows += model.apply(PresenceChanged(TS, peer(CAROL), joined=True))
    rows += model.apply(proposal(ts=TS))
    lines = [line(r) for r in rows]
    assert lines == [
        "2026-12-04 06:31:02 message   m1 alice (web) -> bob (web) thread=review: "
        "Can you look / at this?",
        "2026-12-04 06:31:02 delivered m1 -> bob (web) to mcp",
        "2026-12-04 06:31:02 shown     m1 -> bob (web) by hook",
        "2026-12-04 06:31:02 join      carol (api)",
        "2026-12-04 06:31:02 proposal  prop-1 alice (web): "
        "Ship it? [majority: bob (web), carol (api)]",
    ]


def test_a_multi_line_body_stays_on_one_line() -> None:
    """However many lines a body has, its event is one line (grep sees one event)."""
    (row,) = WatchModel().apply(message(preview="a\nb\r\nc\x0bd"))
    assert "\n" not in line(row) and "\r" not in line(row)


def test_colour_only_on_the_kind_and_only_when_asked() -> None:
    """With colour the kind is wrapped in one ANSI colour; without, no escape at all."""
    (row,) = WatchModel().apply(message(ts=TS))
    assert "\x1b" not in line(row)
    coloured = line(row, color=True)
    assert "\x1b[36mmessage  \x1b[0m" in coloured


def test_wants_color_honours_no_color_and_dumb_terminals() -> None:
    """Colour for a TTY only, never with NO_COLOR set (even empty) or TERM=dumb."""
    assert wants_color(True, {"TERM": "xterm"})
    assert not wants_color(False, {})
    assert not wants_color(True, {"NO_COLOR": ""})
    assert not wants_color(True, {"TERM": "dumb"})


def test_json_lines() -> None:
    """--json: each row one ASCII JSON object."""
    (row,) = WatchModel().apply(message(preview="h\u00e9", size=3))
    data = json.loads(json_line(row))
    assert data["kind"] == "message" and data["text"] == "h\u00e9"
    assert json_line(row).isascii()


def test_line_mode_sends_what_is_typed_as_the_person() -> None:
    """--lines --as Ada: '@bob text' typed on stdin is sent as Ada; a bad line says how;
    what became of each goes to stderr, never among the event lines."""

    async def scenario() -> tuple[list[dict[str, Any]], str, str]:
        handled = asyncio.Event()

        async def typed() -> AsyncIterator[str]:
            yield "@bob hello there\n"
            yield "\n"
            yield "no at sign\n"
            handled.set()  # resumed: the last line was handled

        source = FakeSource()
        source.put(message())
        out, err = io.StringIO(), io.StringIO()
        task = asyncio.create_task(
            run_lines(
                source,
                WatchModel(),
                out,
                color=False,
                as_json=False,
                sender="Ada",
                typed=typed(),
                err=err,
            )
        )
        await source.taken()
        await asyncio.wait_for(handled.wait(), 5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return source.sent, out.getvalue(), err.getvalue()

    sent, out, err = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert sent == [
        {"name": "Ada", "to": "bob", "body": "hello there", "thread": None, "reply_to": None}
    ]
    assert err.splitlines() == [
        "sent sent-1 to bob as Ada",
        "not sent: write @PEER MESSAGE "
        '(@"Name (Project)" MESSAGE for a full address, @* for everyone)',
    ]
    assert [line.split()[2] for line in out.splitlines()] == ["message"]
