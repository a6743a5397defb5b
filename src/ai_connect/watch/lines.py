"""``ai-connect watch`` without a screen: one line per event, greppable. Pure.

Used when stdout is not a terminal (a pipe, a file, ``ssh host ai-connect watch | grep``),
with ``--lines``, or where the terminal cannot draw (``TERM=dumb``). Each line starts
with the local date and time and a fixed-width kind, so ``grep ' shown '`` or
``grep 4f2a9c1e`` finds what it should::

    2026-12-04 06:31:02 message   4f2a9c1e0b3d1 alice (web) -> bob (web) thread=review: Can you…
    2026-12-04 06:31:02 delivered 4f2a9c1e0b3d1 -> bob (web) to mcp
    2026-12-04 06:31:03 shown     4f2a9c1e0b3d1 -> bob (web) by hook
    2026-12-04 06:31:05 join      carol (web)

Colour (ANSI, on the kind only) only when asked: the caller decides from ``isatty`` and
``NO_COLOR`` (https://no-color.org) with :func:`wants_color`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

from ai_connect.text.terminal import to_json
from ai_connect.watch.model import Row

__all__ = ["json_line", "line", "wants_color"]

_COLORS = {
    "message": "36",  # cyan
    "delivered": "34",  # blue
    "shown": "32",  # green
    "join": "32",
    "leave": "33",  # yellow
    "proposal": "35",  # magenta
    "vote": "35",
    "verdict": "1;35",
    "link": "31",  # red
    "work": "2",  # dim
}


def wants_color(isatty: bool, environ: Mapping[str, str]) -> bool:
    """Colour for a terminal, unless ``NO_COLOR`` is set (to anything) or ``TERM=dumb``."""
    return isatty and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def line(row: Row, *, color: bool = False) -> str:
    """One row as one line (its text is already cleaned by the model)."""
    kind = f"{row.kind:<9}"
    if color:
        kind = f"\x1b[{_COLORS[row.kind]}m{kind}\x1b[0m"
    if row.kind in ("join", "leave"):
        rest = row.who
    elif row.kind == "work":
        rest = f"{row.who} {row.text}"
    elif row.kind == "link":
        rest = f"{row.key}: {row.text}"
    else:
        rest = f"{row.key} {row.who}"
        if row.thread:
            rest += f" thread={row.thread}"
        if row.text:
            rest += (": " if row.kind in ("message", "proposal", "vote", "verdict") else " ") + (
                row.text
            )
    return f"{_when(row.ts)} {kind} {rest}"


def json_line(row: Row) -> str:
    """One row as one JSON object (``--json``), ASCII-only."""
    return to_json(dataclasses.asdict(row), indent=None)
