"""wait_event: bounded, and a cancellation arriving as the event is set still ends a loop
that waits on it (asyncio.wait_for on Python 3.11 lost it: a bridge's close then hung)."""

from __future__ import annotations

import asyncio

import pytest

from ai_connect.waiting import wait_event


def test_a_set_event_answers_true_and_a_timeout_false() -> None:
    async def scenario() -> tuple[bool, bool]:
        event = asyncio.Event()
        missed = await wait_event(event, 0.01)
        event.set()
        return missed, await wait_event(event, 0.01)

    assert asyncio.run(scenario()) == (False, True)


def test_a_cancel_in_the_turn_the_event_is_set_ends_the_loop() -> None:
    async def scenario() -> None:
        event = asyncio.Event()

        async def loop() -> None:
            while True:
                await wait_event(event, 10.0)
                event.clear()

        task = asyncio.create_task(loop())
        for _ in range(3):  # let the loop reach its wait
            await asyncio.sleep(0)
        event.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5.0)
        assert done, "the cancelled loop went on waiting"
        with pytest.raises(asyncio.CancelledError):
            task.result()

    asyncio.run(scenario())
