"""An MCP server says in its log, within seconds, that its bridge is unreachable, and its
``/healthz`` answers 503 with the reason until the bridge is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2

from tests.client.support import run
from tests.mcp.support import http_server, settings
from tests.support.bridge import RestartableBridge


class Said(logging.Handler):
    """Wakes a waiter when a log line of ``ai_connect`` contains some words."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self._changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self._changed.set()

    async def wait_for(self, words: str, timeout: float) -> str:
        async def seen() -> str:
            while True:
                for line in self.lines:
                    if words in line:
                        return line
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(seen(), timeout)


@contextmanager
def said() -> Iterator[Said]:
    logger = logging.getLogger("ai_connect")  # the MCP server's and its client's lines
    handler, level = Said(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_lost_bridge_is_logged_and_reported_by_healthz_until_it_is_back() -> None:
    """Bridge up: 200 ok. Stopped: a warning naming the URL within 5 s and 503 with the
    reason. Back: 'reached … again' and 200 ok."""

    async def scenario() -> None:
        with said() as log:
            async with (
                RestartableBridge() as br,
                http_server(settings(br.url, "srv")) as base,
                httpx2.AsyncClient() as http,
            ):
                await log.wait_for(f"connected to {br.url}", 5)
                health = await http.get(f"{base}/healthz")
                assert (health.status_code, health.text) == (200, "ok")
                await br.stop()
                line = await log.wait_for("cannot reach the bridge", 5)
                assert br.url in line
                health = await http.get(f"{base}/healthz")
                assert health.status_code == 503
                assert health.text.startswith(f"no link to the bridge at {br.url}")
                await br.start()
                await log.wait_for("reached the bridge", 10)
                health = await http.get(f"{base}/healthz")
                assert (health.status_code, health.text) == (200, "ok")

    run(scenario(), timeout=40)
