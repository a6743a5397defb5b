"""The receipts a sender was pushed, on their own (client/notices.py): no bridge, no
socket; the waits run in one event loop per test, bounded."""

from __future__ import annotations

import asyncio

from ai_connect.client.notices import Notices
from ai_connect.protocol import ReceiptNotice

from .support import run


def notice(n: int) -> ReceiptNotice:
    return ReceiptNotice(id=f"m{n}", recipient="bob (p)", path="hook", ts=float(n))


def test_take_hands_out_what_came_oldest_first_once() -> None:
    """take() returns the receipts in arrival order and leaves none behind."""

    async def scenario() -> None:
        notices = Notices()
        notices.add(notice(1))
        notices.add(notice(2))
        assert [n.id for n in notices.take()] == ["m1", "m2"]
        assert notices.take() == [] and notices.items == []

    run(scenario())


def test_a_surface_that_never_takes_keeps_only_the_newest() -> None:
    """Past KEEP receipts the oldest go: memory stays bounded, the newest are kept."""

    async def scenario() -> None:
        notices = Notices()
        for n in range(Notices.KEEP + 5):
            notices.add(notice(n))
        kept = notices.take()
        assert len(kept) == Notices.KEEP
        assert kept[0].id == "m5" and kept[-1].id == f"m{Notices.KEEP + 4}"

    run(scenario())


def test_wait_returns_as_a_receipt_comes_and_empty_on_timeout() -> None:
    """wait() wakes on the next receipt; with none in time it returns []."""

    async def scenario() -> None:
        notices = Notices()
        assert await notices.wait(0.01) == []
        # The add runs once wait() is waiting (call_soon): it must wake it.
        asyncio.get_running_loop().call_soon(notices.add, notice(7))
        assert [n.id for n in await notices.wait(10.0)] == ["m7"]
        notices.add(notice(8))
        assert [n.id for n in await notices.wait(10.0)] == ["m8"]  # one there: no wait

    run(scenario())
