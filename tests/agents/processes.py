"""Waiting for an agent's hook processes to end: on the processes themselves (a pidfd
becomes readable when its process exits), never by polling."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from ai_connect.hooks.agent_link import command_line, process_chain

__all__ = ["descendants", "exited", "hooks_ended"]


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid``: those with ``pid`` in their ancestry
    (``agent_link.process_chain``, the hooks' own reading of /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and pid in process_chain(int(entry.name))[1:]:
            found.append(int(entry.name))
    return found


async def exited(pid: int, timeout: float) -> None:
    """Returns once process ``pid`` has ended (at once if it has); AssertionError after
    ``timeout`` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not gone.done():
            gone.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(gone, timeout)
    except TimeoutError:
        still = f"process {pid} {command_line(pid)} still runs after {timeout:g} s"
        raise AssertionError(still) from None
    finally:
        loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            os.close(fd)


async def hooks_ended(agent: int, words: tuple[str, ...], timeout: float) -> list[str]:
    """Waits until every process below ``agent`` whose command line holds ``words`` in a
    row has ended; returns their command lines."""
    waited = []
    for pid in descendants(agent):
        argv = command_line(pid)
        if any(tuple(argv[i : i + len(words)]) == words for i in range(len(argv))):
            waited.append(" ".join(argv))
            await exited(pid, timeout)
    return waited
