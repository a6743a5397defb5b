"""Runs ``ai-connect watch``: picks the view, connects as an observer, pumps the events.

The terminal view (:mod:`ai_connect.watch.app`) when stdout is a terminal that can draw;
one line per event (:mod:`ai_connect.watch.lines`) when it is a pipe or a file, with
``--lines`` or ``--json``, or on ``TERM=dumb``. The client is an observer (``hello``
``mode: "observe"``, docs/protocol.md §9): it never registers as a peer, needs an admin
token where the bridge has auth on, and reconnects on its own after the first connect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, TextIO

from ai_connect.identity import parse_address
from ai_connect.watch.events import WatchSource
from ai_connect.watch.lines import json_line, line
from ai_connect.watch.model import WatchModel

__all__ = ["View", "choose_view", "parse_as", "run_app", "run_lines"]

View = Literal["app", "lines"]

_NAME = re.compile(r"^[^()#*\x00-\x1f\x7f]{1,64}$")
_PROJECT = re.compile(r"^[^()\x00-\x1f\x7f]{1,128}$")


def choose_view(*, isatty: bool, environ: Mapping[str, str], lines: bool) -> View:
    """``app`` for a terminal that can draw; else ``lines``."""
    if lines or not isatty or environ.get("TERM", "") in ("", "dumb"):
        return "lines"
    return "app"


def parse_as(value: str) -> tuple[str, str | None]:
    """``--as Ada`` -> (``Ada``, None); ``--as "Ada (ops)"`` -> (``Ada``, ``ops``).

    Raises ValueError saying what a name may be."""
    parsed = parse_address(value)
    name, project = parsed if parsed else (value.strip(), None)
    if not _NAME.match(name) or (project is not None and not _PROJECT.match(project)):
        raise ValueError(
            "--as takes a person's name (1-64 characters without ( ) # * or control "
            'characters), or "Name (Project)"'
        )
    return name, project


async def run_lines(
    source: WatchSource, model: WatchModel, out: TextIO, *, color: bool, as_json: bool
) -> None:
    """Prints each event's rows as they come, flushed at once, until the source ends."""
    async for event in source.events():
        for row in model.apply(event):
            out.write((json_line(row) if as_json else line(row, color=color)) + "\n")
        out.flush()


async def run_app(source: WatchSource, model: WatchModel, *, sender: str | None) -> None:
    """The terminal view until the user quits (q, ctrl+c)."""
    from ai_connect.watch.app import WatchApp  # Textual loads only for the terminal view

    await WatchApp(model, source, sender=sender).run_async()
