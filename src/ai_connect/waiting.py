"""Waits bounded in time that a cancellation always ends.

On Python 3.11, ``asyncio.wait_for`` loses a cancellation that arrives in the loop turn
in which the awaited thing completes (CPython gh-86296, fixed in 3.12): a loop such as
``while True: await wait_for(event.wait(), t)`` then carries on, and whoever cancelled it
(a bridge closing, a client closing) waits for it forever. ``asyncio.timeout`` has no
such gap; every bounded wait on an event or a future goes through here.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["bounded", "wait_event"]

_T = TypeVar("_T")


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Waits up to ``timeout`` seconds for ``event``: True once it is set, False when the
    time ran out. A cancellation always raises."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def bounded(awaitable: Awaitable[_T], timeout: float) -> _T:
    """``await awaitable`` for at most ``timeout`` seconds (``math.inf``: no limit), then
    ``TimeoutError``: as ``asyncio.wait_for``, but a cancellation always raises -- also
    one that comes in the turn the awaited thing completes."""
    async with asyncio.timeout(None if math.isinf(timeout) else timeout):
        return await awaitable
