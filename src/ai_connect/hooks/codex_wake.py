"""Waking an idle Codex CLI session: ``codex queue`` (I/O).

Codex hooks cannot wake a session by themselves (an ``async`` hook's output waits for
the next user turn). But Codex keeps a queue of messages per thread
(``$CODEX_HOME/queue_*.sqlite``, written by ``codex queue --thread ID --message TEXT``)
that a running interactive session takes up as its next turn once it is idle, within
about a second (checked with Codex CLI 0.171). The waiter (``ai-connect hook wait
--client codex``, an ``async`` Stop hook) therefore hands a peer message to the session
by queueing it for the session's own thread, with the same Codex binary and
environment the session runs with.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from ai_connect.errors import BridgeError

__all__ = ["QueueFailed", "codex_binary", "queue"]

QUEUE_TIMEOUT_S = 30.0


class QueueFailed(BridgeError):
    """``codex queue`` did not take the message (it stays unread on the bridge)."""


def _exe(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


def codex_binary(chain: Iterable[int], env: Mapping[str, str]) -> str | None:
    """The ``codex`` executable of the nearest ancestor that runs one, else the PATH's."""
    for pid in chain:
        exe = _exe(pid)
        if exe is not None and exe.name in ("codex", "codex.exe"):
            return str(exe)
    return shutil.which("codex", path=env.get("PATH"))


async def queue(binary: str, thread: str, text: str, env: Mapping[str, str]) -> None:
    """Queues ``text`` as the next input of Codex thread ``thread``; raises QueueFailed."""
    try:
        proc = await asyncio.create_subprocess_exec(
            binary, "queue", "--thread", thread, "--message", text,
            env=dict(env), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    except OSError as exc:
        raise QueueFailed(f"cannot run {binary} queue: {exc}") from exc
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), QUEUE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise QueueFailed(f"{binary} queue did not finish in {QUEUE_TIMEOUT_S:g} s") from None
    if proc.returncode != 0:
        tail = out.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise QueueFailed(f"{binary} queue failed ({proc.returncode}): {tail[0]}")
