"""Locks and the waiter slot of ``ai-connect hook`` (cross-process, per user).

``file_lock``: an exclusive ``flock`` on a file under the runtime directory, awaited
without blocking the event loop. ``waiter_slot``: a Claude Code session's one waiter,
as a Unix socket that a newer waiter, the session's next prompt or its end connects to
("knocks on") to make the older waiter step aside. The handover happens under a file
lock, so two waiters started together still leave exactly one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from ai_connect.errors import BridgeError, RequestTimeout
from ai_connect.waiting import bounded

try:
    import fcntl
except ImportError:  # Windows: no flock; hooks there run without the cross-process lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["dismiss", "file_lock", "key", "waiter_slot"]

LOCK_TIMEOUT_S = 10.0


def key(*parts: str) -> str:
    """A short stable file-name key for ``parts``."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@contextlib.asynccontextmanager
async def file_lock(path: Path, timeout: float = LOCK_TIMEOUT_S) -> AsyncIterator[None]:
    """An exclusive ``flock`` on ``path``; raises RequestTimeout after ``timeout``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if fcntl is None:
        try:
            yield
        finally:
            os.close(fd)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        await _blocking_lock(fd, path, timeout)
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


async def _blocking_lock(fd: int, path: Path, timeout: float) -> None:
    """Waits for the ``flock`` on ``fd`` in a daemon thread (a lock never granted cannot
    hold up exit). Given up -- timed out or cancelled -- the lock is let go the moment it
    is had: whoever closes ``fd`` first, this wait or the thread, releases it (a kept
    lock would time out every later hook of the address while the process lives)."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future[None] = loop.create_future()
    mutex = threading.Lock()
    state = {"granted": False, "abandoned": False}

    def granted() -> None:
        if not got.done():
            got.set_result(None)

    def block() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with mutex:
            if state["abandoned"]:
                os.close(fd)
                return
            state["granted"] = True
        with contextlib.suppress(RuntimeError):  # the loop is gone
            loop.call_soon_threadsafe(granted)

    threading.Thread(target=block, daemon=True).start()
    try:
        await bounded(asyncio.shield(got), timeout)  # a cancellation always ends it
    except BaseException as exc:
        with mutex:
            if state["granted"]:
                os.close(fd)
            else:
                state["abandoned"] = True
        if isinstance(exc, TimeoutError):
            raise RequestTimeout(f"{path} stayed locked for {timeout:g} s") from exc
        raise


async def _knock(sock: Path) -> bool:
    """Tells the waiter listening on ``sock`` to step aside; ``False`` if there is none."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(sock)), 2.0)
    except (OSError, TimeoutError):
        return False  # no socket, or nobody listening: no waiter
    # It may hang up at once (it heard the connection itself): a reset is a yes.
    with contextlib.suppress(OSError, TimeoutError):
        writer.write(b"q")
        await writer.drain()
        await asyncio.wait_for(reader.read(), 2.0)  # it closes once it has heard
    writer.close()
    return True


async def dismiss(sock: Path, lock: Path) -> bool:
    """Makes the waiter on ``sock`` (if any) exit quietly; ``True`` if there was one."""
    try:
        async with file_lock(lock):
            return await _knock(sock)
    except BridgeError:
        return False


@contextlib.asynccontextmanager
async def waiter_slot(sock: Path, lock: Path) -> AsyncIterator[asyncio.Event]:
    """Becomes the one waiter on ``sock``; the event is set when it must step aside."""
    leave = asyncio.Event()

    async def heard(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        leave.set()
        writer.close()

    async with file_lock(lock):
        await _knock(sock)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sock)
        server = await asyncio.start_unix_server(heard, path=str(sock))
        mine = os.stat(sock).st_ino
    try:
        yield leave
    finally:
        server.close()
        with contextlib.suppress(BridgeError, OSError):
            async with file_lock(lock):
                if os.stat(sock).st_ino == mine:  # not yet replaced by a newer waiter
                    os.unlink(sock)
