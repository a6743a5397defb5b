"""Threads that run the store's blocking calls for the event loop (server.py: one writer,
``READ_THREADS`` readers).

``loop.run_in_executor`` on a ``ThreadPoolExecutor`` wraps each call in a
``concurrent.futures.Future`` (with a lock and a condition of its own), a work item and
an asyncio future chained to it by callbacks: 147 µs of the event loop's CPU per call on
this machine, against 64-81 µs for a queue and one ``call_soon_threadsafe`` (bench/
RESULTS.md). A lone message takes two such calls (its commit, its ack's commit), so the
difference is a part of every message's latency. The semantics the server relies on
stay: calls run in order on one thread (the writer), a call whose caller was cancelled
before it started never runs (a running one finishes, its result dropped), exceptions
reach the caller, and ``shutdown`` returns once everything queued ran. A thread with
nothing to do may do work that can wait (``idle``: SQLite's search index, store/sqlite/
search_index.py), between calls, never ahead of one already queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, TypeVarTuple

__all__ = ["Workers"]

log = logging.getLogger("ai_connect.bridge.server")

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_Job = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]]


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """On the loop: the call's outcome, unless its caller gave up (cancelled) meanwhile."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    elif isinstance(value, StopIteration):  # (an asyncio future refuses it: as a task does)
        future.set_exception(RuntimeError(f"the call raised StopIteration: {value!r}"))
    else:
        future.set_exception(value)


class Workers:
    """``threads`` threads named ``name`` (``name-2``... after the first), started on the
    first call; ``await workers.run(call, *args)`` from the event loop.

    ``idle()``, if given, runs on a thread whose queue is empty: after each call, then
    again after the seconds it returns (``None``: not before the next call). Its errors
    are logged; it is tried again after the next call."""

    def __init__(
        self, threads: int, name: str, idle: Callable[[], float | None] | None = None
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        self._count = threads
        self._name = name
        self._idle = idle
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shut = False

    async def run(self, call: Callable[[*Ts], T], *args: *Ts) -> T:
        """``call(*args)`` on one of the threads; its result or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._start()
        self._jobs.put((loop, future, call, args))
        return await future

    def _start(self) -> None:
        with self._lock:
            if self._shut:
                raise RuntimeError(f"{self._name}: cannot run a call after shutdown")
            while len(self._threads) < self._count:
                n = len(self._threads) + 1
                name = self._name if n == 1 else f"{self._name}-{n}"
                thread = threading.Thread(target=self._work, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def _next(self, idle_at: float | None) -> _Job | None:
        """The next call; meanwhile ``idle()`` each time it is due (``idle_at``, monotonic)."""
        while idle_at is not None:
            try:
                return self._jobs.get(timeout=max(0.0, idle_at - time.monotonic()))
            except queue.Empty:
                idle_at = self._run_idle()
        return self._jobs.get()

    def _run_idle(self) -> float | None:
        """``idle()``; when it is next due (monotonic), ``None``: after the next call."""
        assert self._idle is not None
        try:
            wait = self._idle()
        except Exception:
            log.exception("%s: its idle work failed; tried again after the next call", self._name)
            return None
        return None if wait is None else time.monotonic() + wait

    def _work(self) -> None:
        idle_at: float | None = None
        while (job := self._next(idle_at)) is not None:
            loop, future, call, args = job
            idle_at = None if self._idle is None else 0.0  # due once the queue is empty
            if future.cancelled():  # its caller gave up before it started
                continue
            try:
                outcome = (True, call(*args))
            except BaseException as exc:  # handed to the caller, as an executor does
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_resolve, future, *outcome)
            del job, future, outcome  # (not kept alive until the next call)

    def shutdown(self) -> None:
        """Waits for the calls queued so far to run, then ends the threads. Idempotent;
        a later ``run`` raises ``RuntimeError``."""
        with self._lock:
            self._shut = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()
