"""The stdio MCP server's stdin and its signals: Ctrl-C and SIGTERM stop it gracefully.

An agent client ends a stdio server by closing its stdin. Started by hand in a terminal,
or stopped by a service manager, it gets SIGINT or SIGTERM instead, with stdin still open:
the SDK reads stdin in a worker thread that a cancel cannot interrupt, so the server
ignored Ctrl-C until Ctrl-D and died of SIGTERM (exit 143) with its advert to the hooks
left behind. Here stdin is read by a thread the cancel abandons, and both signals cancel
the serving task: every ``finally`` runs (advert removed, bridge link closed) and the
process exits 0, as docs/mcp.md promises.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TextIO

from anyio import AsyncFile

__all__ = ["StdinLines", "claimed_stdin", "stop_on_signals", "whole_unicode"]

log = logging.getLogger("ai_connect.mcp")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StdinLines(AsyncFile[str]):
    """stdin for ``stdio_server(stdin=…)``, read line by line by a daemon thread of its
    own: a cancelled read returns at once, and a read that never ends (a terminal) does
    not hold the process at exit, as a worker thread of anyio's would."""

    def __init__(self, fp: TextIO) -> None:
        super().__init__(fp)
        self._lines: asyncio.Queue[str] | None = None

    def _pump(self, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str]) -> None:
        while True:
            try:
                line = self.wrapped.readline()
            except (OSError, ValueError):
                line = ""
            try:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            except RuntimeError:  # the loop is closed: nobody reads any more
                return
            if not line:
                return

    async def readline(self) -> str:
        if self._lines is None:
            self._lines = asyncio.Queue()
            args = (asyncio.get_running_loop(), self._lines)
            threading.Thread(target=self._pump, args=args, name="mcp-stdin", daemon=True).start()
        line = await self._lines.get()
        if not line:
            self._lines.put_nowait(line)  # EOF stays EOF for every later read
        if "\\ud" in line or "\\uD" in line:
            return whole_unicode(line)
        return line


_LONE = re.compile("[\ud800-\udfff]")
"""A surrogate left in a str after JSON decoding: a pair decodes to one code point."""


def whole_unicode(line: str) -> str:
    """``line`` with every lone surrogate escape (``\\ud800``) made U+FFFD, as the
    bytes that are not UTF-8 already are (``errors="replace"``): the SDK cannot parse
    such a request, so it answered nothing and the agent's tool call hung until the
    client gave up. A line that is not JSON, or has none, is passed on as it came."""
    try:
        message = json.loads(line)
    except ValueError:
        return line
    fixed = _replaced(message)
    if fixed == message:
        return line
    return json.dumps(fixed, ensure_ascii=False) + "\n"


def _replaced(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replaced(v) for v in value]
    if isinstance(value, dict):
        return {_replaced(k): _replaced(v) for k, v in value.items()}
    return value


@contextlib.contextmanager
def claimed_stdin() -> Iterator[StdinLines]:
    """fd 0 for MCP alone, as the SDK's own claim does it: the protocol is read from a
    private duplicate, and fd 0 reads the null device meanwhile (a child or a library
    reading stdin gets EOF instead of the client's messages)."""
    private = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    raw = os.fdopen(private, "rb", buffering=0, closefd=False)
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors="replace")
    try:
        yield StdinLines(text)
    finally:
        # The private duplicate stays open: an abandoned reader may still block on it.
        os.dup2(private, 0)


async def stop_on_signals(work: Coroutine[Any, Any, None]) -> None:
    """Runs ``work`` until it ends, or until SIGINT/SIGTERM cancel it; a stop by signal
    returns normally (exit code 0), anything else propagates."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    got: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> None:
        if not got:
            log.info("stopping on %s", sig.name)
        got.append(sig)
        task.cancel()

    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop, sig)
    try:
        await task
    except asyncio.CancelledError:
        if not got:
            raise
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
        sys.stderr.flush()
