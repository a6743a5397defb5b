"""The threads that run the store's calls for the event loop (bridge/workers.py): what
the server counted on from ``run_in_executor`` -- order on the writer, cancellation
before a call starts, exceptions, and a shutdown that runs what was queued."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from ai_connect.bridge.workers import Workers

WAIT_S = 10


def bounded(scenario: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """The test runs ``scenario`` on a loop of its own, bounded in time."""

    @functools.wraps(scenario)
    def test() -> None:
        asyncio.run(asyncio.wait_for(scenario(), 3 * WAIT_S))

    return test


@bounded
async def test_calls_on_one_thread_run_in_order_and_return_their_results() -> None:
    workers = Workers(1, "test-writer")
    ran: list[tuple[int, str]] = []

    def call(i: int) -> int:
        ran.append((i, threading.current_thread().name))
        return i * i

    try:
        results = await asyncio.gather(*(workers.run(call, i) for i in range(50)))
    finally:
        workers.shutdown()
    assert results == [i * i for i in range(50)]
    assert ran == [(i, "test-writer") for i in range(50)]


@bounded
async def test_an_exception_reaches_the_caller_and_the_thread_goes_on() -> None:
    workers = Workers(1, "test-writer")

    def fail() -> None:
        raise KeyError("gone")

    def stop() -> None:
        raise StopIteration("done")  # (an asyncio future refuses this one as it is)

    try:
        with pytest.raises(KeyError, match="gone"):
            await workers.run(fail)
        with pytest.raises(RuntimeError, match="StopIteration"):
            await workers.run(stop)
        assert await workers.run(len, "abc") == 3
    finally:
        workers.shutdown()


@bounded
async def test_a_call_whose_caller_gave_up_before_it_started_never_runs() -> None:
    """The server never cancels a commit (it would lose its batch): a queued call whose
    caller was cancelled is skipped, as an executor's would be; the one running ends."""
    workers = Workers(1, "test-writer")
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def block() -> str:
        started.set()
        release.wait(WAIT_S)
        ran.append("block")
        return "block"

    try:
        running = asyncio.ensure_future(workers.run(block))
        assert await asyncio.to_thread(started.wait, WAIT_S)
        queued = asyncio.ensure_future(workers.run(ran.append, "queued"))
        await asyncio.sleep(0)  # (one turn: the call is queued behind the running one)
        queued.cancel()
        running.cancel()
        release.set()
        await workers.run(ran.append, "after")
        assert ran == ["block", "after"]
        assert running.cancelled() and queued.cancelled()
    finally:
        release.set()
        workers.shutdown()


@bounded
async def test_readers_run_side_by_side() -> None:
    """Two threads: two calls that each wait for the other both finish."""
    workers = Workers(2, "test-read")
    barrier = threading.Barrier(2, timeout=WAIT_S)

    def meet() -> str:
        barrier.wait()
        return threading.current_thread().name

    try:
        names = await asyncio.gather(workers.run(meet), workers.run(meet))
    finally:
        workers.shutdown()
    assert sorted(names) == ["test-read", "test-read-2"]


@bounded
async def test_shutdown_runs_what_was_queued_then_refuses() -> None:
    workers = Workers(1, "test-writer")
    release = threading.Event()
    ran: list[int] = []
    try:
        first = asyncio.ensure_future(workers.run(release.wait, WAIT_S))
        rest = [asyncio.ensure_future(workers.run(ran.append, i)) for i in range(3)]
        await asyncio.sleep(0)  # (one turn: all four are queued)
        shutting = asyncio.ensure_future(asyncio.to_thread(workers.shutdown))
        release.set()
        await asyncio.wait_for(shutting, WAIT_S)
        assert ran == [0, 1, 2]
        assert await first is True
        await asyncio.gather(*rest)  # each ran, nothing raised
        with pytest.raises(RuntimeError, match="after shutdown"):
            await workers.run(len, "x")
        workers.shutdown()  # again: nothing to do
    finally:
        release.set()


async def _until(event: threading.Event) -> None:
    """Waits (off the loop) for a thread's event, bounded."""
    assert await asyncio.to_thread(event.wait, WAIT_S), "the idle work did not come"


@bounded
async def test_idle_work_runs_once_nothing_is_queued_never_ahead_of_a_call() -> None:
    """``idle`` waits for the queue to empty (a call queued meanwhile runs first), runs on
    the worker's thread, and returning None is not called again before the next call."""
    ran: list[str] = []
    idled = threading.Event()
    hold = threading.Event()

    def idle() -> None:
        ran.append(f"idle on {threading.current_thread().name}")
        idled.set()

    def call(i: int) -> None:
        if i == 0:
            assert hold.wait(WAIT_S)
        ran.append(f"call {i}")

    workers = Workers(1, "test-writer", idle)
    try:
        first = asyncio.ensure_future(workers.run(call, 0))
        rest = [asyncio.ensure_future(workers.run(call, i)) for i in (1, 2, 3)]
        await asyncio.sleep(0)  # all four queued, the first one held
        hold.set()
        await asyncio.gather(first, *rest)
        await _until(idled)
        idled.clear()
        await workers.run(call, 4)
        await _until(idled)
    finally:
        workers.shutdown()
    idle_ran = "idle on test-writer"
    assert ran == ["call 0", "call 1", "call 2", "call 3", idle_ran, "call 4", idle_ran]


@bounded
async def test_idle_work_comes_back_after_the_delay_it_asks_for() -> None:
    asked: list[float] = []
    again = threading.Event()

    def idle() -> float | None:
        asked.append(0.0)
        if len(asked) == 2:
            again.set()
            return None
        return 0.01

    workers = Workers(1, "test-writer", idle)
    try:
        await workers.run(int)
        await _until(again)
    finally:
        workers.shutdown()
    assert len(asked) == 2


def test_idle_work_that_fails_is_logged_and_the_thread_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []
    idled = threading.Event()

    def idle() -> float:
        calls.append(1)
        idled.set()
        raise OSError("no space left")

    async def scenario() -> None:
        workers = Workers(1, "test-writer", idle)
        try:
            await workers.run(int)
            await _until(idled)
            idled.clear()
            assert await workers.run(len, "abc") == 3  # the thread goes on
            await _until(idled)  # and tries again after the next call
        finally:
            workers.shutdown()

    with caplog.at_level("ERROR", logger="ai_connect.bridge.server"):
        bounded(scenario)()
    assert len(calls) == 2
    assert "test-writer: its idle work failed" in caplog.text
    assert "no space left" in caplog.text
