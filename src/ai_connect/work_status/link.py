"""The local link: a hook hands its Observation to its session's MCP server.

The stdio MCP server (``ai-connect mcp``) listens on a Unix socket in the private runtime
directory (mode 0700, :func:`ai_connect.hooks.agent_link.private_dir`) and names it in its
advert, which its agent's hooks find already (:mod:`ai_connect.hooks.agent_link`). A hook
connects, writes one JSON line and reads one byte back (``k``: taken; ``e``: refused):
well under a millisecond, and no bridge connection. The server reads git and publishes
(:mod:`ai_connect.work_status.publisher`), off the hook's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

from ai_connect.hooks.agent_link import private_dir, runtime_dir
from ai_connect.work_status.observe import Observation

__all__ = ["HAND_TIMEOUT_S", "MAX_LINE", "hand_over", "serving", "socket_path"]

HAND_TIMEOUT_S = 1.0
"""How long a hook waits for its MCP server to take an Observation."""
MAX_LINE = 64 * 1024


def socket_path(env: Mapping[str, str] | None = None, pid: int | None = None) -> Path:
    """Where the MCP server of process ``pid`` (default: this one) listens."""
    folder = private_dir(private_dir(runtime_dir(env)) / "s")
    return folder / f"{os.getpid() if pid is None else pid}.sock"


@contextlib.asynccontextmanager
async def serving(path: Path, take: Callable[[Observation], None]) -> AsyncIterator[Path]:
    """Listens on ``path`` while open; each Observation a hook sends goes to ``take``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answer = b"e"
        try:
            line = await asyncio.wait_for(reader.readline(), HAND_TIMEOUT_S)
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            take(Observation.from_dict(data))
            answer = b"k"
        except (ValueError, TimeoutError, OSError):
            pass  # a stray or broken client: refused, the server carries on
        with contextlib.suppress(OSError):
            writer.write(answer)
            await writer.drain()
        writer.close()

    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by a server that was killed
    server = await asyncio.start_unix_server(handle, path=str(path), limit=MAX_LINE)
    try:
        os.chmod(path, 0o600)
        yield path
    finally:
        server.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


async def hand_over(path: Path, observation: Observation, timeout: float = HAND_TIMEOUT_S) -> bool:
    """Gives ``observation`` to the MCP server on ``path``; ``False`` if none took it."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), timeout)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(json.dumps(observation.as_dict()).encode() + b"\n")
        await writer.drain()
        return await asyncio.wait_for(reader.read(1), timeout) == b"k"
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
