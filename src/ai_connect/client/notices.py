"""Receipts the bridge pushes to a sender that asked for them (docs/protocol.md §3.7).

A send made with ``receipt=True`` (or by a client made with ``receipts=True``) gets a
``receipt`` frame each time a recipient is shown the message. :class:`Notices` keeps them
until the surface takes them, oldest first and bounded, and lets it wait for the next.
"""

from __future__ import annotations

import asyncio

from ai_connect.protocol import ReceiptNotice
from ai_connect.waiting import wait_event

__all__ = ["Notices"]


class Notices:
    """The receipts that came and were not taken yet, the newest :attr:`KEEP` of them."""

    KEEP = 1000
    """Receipts kept for a surface that never takes them: the oldest go first."""

    def __init__(self) -> None:
        self.items: list[ReceiptNotice] = []
        self._came = asyncio.Event()

    def add(self, notice: ReceiptNotice) -> None:
        self.items = [*self.items[-(self.KEEP - 1) :], notice]
        self._came.set()

    def take(self) -> list[ReceiptNotice]:
        """The receipts that came since the last take, oldest first."""
        taken, self.items = self.items, []
        self._came.clear()
        return taken

    async def wait(self, timeout: float) -> list[ReceiptNotice]:
        """Waits up to ``timeout`` for a receipt, then takes them (``[]`` on timeout)."""
        if not self.items:
            await wait_event(self._came, timeout)
        return self.take()
