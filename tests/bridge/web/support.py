"""The dashboard in a real browser: Debian's Chromium driven by Playwright, a bridge with
``ui=True`` in a thread, and peers as BridgeClients in that bridge's loop.

Playwright cannot download its own browser here, so it launches Debian's ``chromium``
(``scripts/ensure_deb.sh`` installs it, ``scripts/test.sh`` runs that) through
``executable_path``. Without it the tests skip, and in CI (``CI=true``) they fail.
Every wait is Playwright's ``expect`` (polling the page's DOM, bounded by ``TIMEOUT_MS``)
or a future with a timeout: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from ai_connect.client import BridgeClient
from ai_connect.client.mailbox import Message
from ai_connect.protocol import AckPath
from tests.support.bridge import ThreadedBridge

__all__ = ["TIMEOUT_MS", "Peer", "chromium_path", "dashboard_url", "peer", "send_once"]

TIMEOUT_MS = 10_000
"""The longest any expectation on the page waits."""


def chromium_path() -> str:
    """Debian's chromium, or skip (locally) / fail (CI) saying how to install it."""
    path = shutil.which("chromium")
    if path is not None:
        return path
    message = (
        "the dashboard tests need Debian's chromium: "
        "sh scripts/ensure_deb.sh chromium chromium dashboard "
        "(apt-get install chromium, as root)"
    )
    if os.environ.get("CI", "").lower() in ("1", "true"):
        pytest.fail(message)
    pytest.skip(message)


def dashboard_url(live: ThreadedBridge) -> str:
    """http://127.0.0.1:PORT/ui/ of a bridge started with ``ui=True``."""
    assert live.server is not None
    return live.server.url.replace("ws", "http", 1) + "/ui/"


class Peer:
    """A BridgeClient living in the bridge thread's loop, driven from the test's thread."""

    def __init__(self, live: ThreadedBridge, client: BridgeClient) -> None:
        self.live, self.client = live, client

    def send(self, to: str, body: str, **options: Any) -> str:
        """Sends and returns the message id once the bridge stored it."""
        receipt = self.live.call(self.client.send(to, body, **options))
        assert receipt.id is not None, receipt
        return receipt.id

    def propose(self, question: str, participants: list[str], **options: Any) -> dict[str, Any]:
        return self.live.call(self.client.propose(question, participants, **options))

    def vote(self, proposal: str, choice: Any, reason: str = "") -> dict[str, Any]:
        return self.live.call(self.client.vote(proposal, choice, reason))

    def take(self, timeout: float = 5.0) -> list[Message]:
        """Waits for mail and acks it; the messages."""

        async def take() -> list[Message]:
            found = await self.client.wait(timeout)
            await self.client.ack(found)
            return found

        return self.live.call(take())

    def read_all(self, timeout: float = 5.0, path: AckPath | None = None) -> int:
        """Waits for mail, then acks all of it (as an agent's hook would); how many."""

        async def take() -> int:
            found = await self.client.wait(timeout)
            await self.client.ack(found, path=path)
            return len(found)

        return self.live.call(take())


@contextmanager
def peer(live: ThreadedBridge, name: str, **options: Any) -> Iterator[Peer]:
    """A connected peer ``name (web)`` for the length of the block."""
    assert live.server is not None
    url = live.server.url

    async def start() -> BridgeClient:
        client = BridgeClient(url, name, "web", reconnect=False, **options)
        await client.connect()
        return client

    client = live.call(start())
    try:
        yield Peer(live, client)
    finally:
        live.call(client.close())


def send_once(url: str, name: str, to: str, body: str) -> str:
    """``name (web)`` connects, sends ``body`` to ``to``, leaves; the message id. In a
    thread of its own: Playwright's sync API holds this thread's event loop."""

    async def send() -> str:
        async with BridgeClient(url, name, "web", reconnect=False) as client:
            receipt = await client.send(to, body)
        assert receipt.id is not None
        return receipt.id

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, send()).result(timeout=30)
