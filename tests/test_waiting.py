"""wait_event and bounded: bounded, and a cancellation arriving as the event is set or the
future completes still ends the waiter (asyncio.wait_for on Python 3.11 lost it: a
bridge's close hung; an MCP server's channel went back to waiting for mail, cancelled,
and its shutdown waited for it forever)."""

from __future__ import annotations

import asyncio
import math

import pytest

from ai_connect.waiting import bounded, wait_event


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
        await _cancelled_in_this_turn(task)

    asyncio.run(scenario())


def test_bounded_answers_the_result_or_times_out() -> None:
    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await bounded(loop.create_future(), 0.01)
        done: asyncio.Future[int] = loop.create_future()
        loop.call_soon(done.set_result, 7)
        return await bounded(done, math.inf)

    assert asyncio.run(scenario()) == 7


def test_a_cancel_in_the_turn_the_future_completes_is_not_lost() -> None:
    """The channel's ack: its reply arrived in the turn the server cancelled the channel
    (CI saw the hang once)."""

    async def scenario() -> None:
        reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def request() -> str:
            answer = await bounded(reply, 10.0)
            await asyncio.Event().wait()  # as the channel: back to waiting for mail
            return answer

        task = asyncio.create_task(request())
        await asyncio.sleep(0)  # the task reaches its wait
        reply.set_result("acked")
        await _cancelled_in_this_turn(task)

    asyncio.run(scenario())


async def _cancelled_in_this_turn(task: asyncio.Task[object]) -> None:
    """Cancels ``task`` in the turn its wait was answered: it must end, cancelled."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5.0)
    assert done, "the cancellation was lost: the task went on waiting"
    with pytest.raises(asyncio.CancelledError):
        task.result()
