"""Runs ``ai-connect watch``: picks the view, connects as an observer, pumps the events.

The terminal view (:mod:`ai_connect.watch.app`) when stdout is a terminal that can draw;
one line per event (:mod:`ai_connect.watch.lines`) when it is a pipe or a file, with
``--lines`` or ``--json``, or on ``TERM=dumb``. The client is an observer (``hello``
``mode: "observe"``, docs/protocol.md §9): it never registers as a peer, needs an admin
token where the bridge has auth on, and reconnects on its own after the first connect.
In line mode with ``--as``, lines typed on stdin (``@PEER text``) are sent as that person.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Literal, TextIO

from ai_connect.errors import BridgeError
from ai_connect.identity import parse_address
from ai_connect.watch.compose import parse_send
from ai_connect.watch.events import WatchSource
from ai_connect.watch.lines import json_line, line
from ai_connect.watch.model import WatchModel

__all__ = ["View", "choose_view", "parse_as", "run_app", "run_lines", "stdin_lines"]

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
    source: WatchSource,
    model: WatchModel,
    out: TextIO,
    *,
    color: bool,
    as_json: bool,
    sender: str | None = None,
    typed: AsyncIterator[str] | None = None,
    err: TextIO | None = None,
) -> None:
    """Prints each event's rows as they come, flushed at once, until the source ends.

    With a ``sender`` (``--as``), each line of ``typed`` (stdin) that reads ``@PEER
    text`` is sent as that person; what became of it goes to ``err`` (stderr), so stdout
    keeps one line per event."""
    tasks = []
    if sender is not None and typed is not None:
        tasks.append(asyncio.create_task(_send_typed(source, sender, typed, err or sys.stderr)))
    try:
        async for event in source.events():
            for row in model.apply(event):
                out.write((json_line(row) if as_json else line(row, color=color)) + "\n")
            out.flush()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _send_typed(
    source: WatchSource, sender: str, typed: AsyncIterator[str], err: TextIO
) -> None:
    async for text in typed:
        if not text.strip():
            continue
        try:
            target, body = parse_send(text.strip())
            message_id = await source.send(sender, target, body)
        except (ValueError, BridgeError) as exc:
            err.write(f"not sent: {exc}\n")
        else:
            err.write(f"sent {message_id} to {target} as {sender}\n")
        err.flush()


async def stdin_lines() -> AsyncIterator[str]:
    """The lines typed on stdin, without blocking the loop (nothing when it is closed)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (OSError, ValueError):  # no stdin, or one asyncio cannot watch (a regular file)
        return
    while raw := await reader.readline():
        yield raw.decode(errors="replace")


async def run_app(source: WatchSource, model: WatchModel, *, sender: str | None) -> None:
    """The terminal view until the user quits (q, ctrl+c)."""
    from ai_connect.watch.app import WatchApp  # Textual loads only for the terminal view

    await WatchApp(model, source, sender=sender).run_async()
