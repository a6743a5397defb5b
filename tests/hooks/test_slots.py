"""``file_lock``: a lock wait given up (timed out or cancelled) never keeps the lock."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_connect.errors import RequestTimeout
from ai_connect.hooks.slots import file_lock
from tests.client.support import run


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    """Another holder of the lock (as another process's hook would be)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


async def _taken_then_free(path: Path) -> None:
    """Another process gets the lock (a blocking flock), twice: the second starts after
    the first let go, when a waiter left behind here would have taken the lock for good."""
    probe = "import fcntl, os, sys; fcntl.flock(os.open(sys.argv[1], os.O_RDWR), fcntl.LOCK_EX)"
    for _ in range(2):
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", probe, str(path))
        try:
            assert await asyncio.wait_for(proc.wait(), 10.0) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def test_a_lock_wait_that_timed_out_does_not_keep_the_lock(tmp_path: Path) -> None:
    """The wait runs in a thread that still gets the lock once the holder lets go: it
    used to keep it for the life of the process (the MCP server's channel), so that every
    hook of that address timed out after it. Now it lets go of it at once."""
    path = tmp_path / "m.lock"

    async def scenario() -> None:
        with held(path), pytest.raises(RequestTimeout):
            async with file_lock(path, timeout=0.05):
                pass
        await _taken_then_free(path)

    run(scenario())


def test_a_cancelled_lock_wait_ends_and_does_not_keep_the_lock(tmp_path: Path) -> None:
    """A cancellation ends the wait (the channel stops with the MCP server), and the lock
    its thread gets later is let go."""
    path = tmp_path / "m.lock"

    async def scenario() -> None:
        entered = asyncio.Event()

        async def take() -> None:
            async with file_lock(path, timeout=30.0):
                entered.set()

        with held(path):
            task = asyncio.ensure_future(take())
            # One turn of the loop: the task's first step runs to its first suspension,
            # the wait for the lock (its thread blocks in flock meanwhile).
            await asyncio.sleep(0)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert not entered.is_set()
        await _taken_then_free(path)

    run(scenario())
