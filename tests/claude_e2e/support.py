"""The real Claude Code (npm: scripts/ensure_clients.sh) as a test subject.

:func:`claude_binary` finds an installed version (or skips, or fails in CI);
:class:`ClaudeSession` runs ``claude -p --input-format stream-json --output-format
stream-json --verbose`` with stdin kept open, so the session lives on between turns as an
interactive one does (plain ``-p`` ends after its answer), against a
:class:`~tests.claude_e2e.fake_api.ScriptedApi` and a throwaway ``HOME``;
:class:`ReadyPipe` is the named pipe on which ``ai-connect hook wait`` says it listens.

Nothing here sleeps: every wait is on a queue, a pipe or a process, bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

from ai_connect.logfiles import default_log_file
from tests.agents import clients
from tests.agents.clients import ai_connect_command, claude_env

__all__ = ["ai_connect_command", "claude_env"]

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20.0
"""Upper bound of any single wait on Claude Code; the runs take a fraction of it."""


def pinned_version() -> str:
    """The Claude Code version scripts/ensure_clients.sh pins."""
    return clients.CLIENTS["claude"].pinned


def claude_binary(version: str | None = None) -> Path:
    """Claude Code ``version`` (default: pinned); else skip (locally) or fail (CI)."""
    return clients.binary("claude", version or pinned_version())


async def run_setup(project: Path, env: dict[str, str], *args: str) -> str:
    """``ai-connect setup claude-code --project`` in ``project``, as a user runs it."""
    return await clients.run_setup("claude-code", project, env, *args)


def hooks_log(lines: int = 60) -> str:
    """The end of the hooks' log the clients' hooks write (they inherit XDG_STATE_HOME)."""
    path = default_log_file("hooks")
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError as exc:
        return f"no hooks log ({exc})"
    return f"the last lines of {path}:\n" + "\n".join(tail)


class ReadyPipe:
    """A named pipe the waiter writes ``ready ADDRESS`` to (``AI_CONNECT_HOOK_READY_FIFO``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path, 0o600)
        self._read = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        # Our own writer keeps the pipe from reading as closed between two waiters.
        self._keep = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        self._reader = asyncio.StreamReader()
        self._transport: asyncio.BaseTransport | None = None

    async def __aenter__(self) -> ReadyPipe:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(self._reader),
            os.fdopen(self._read, "rb", buffering=0, closefd=True),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._transport is not None:
            self._transport.close()
        os.close(self._keep)

    async def ready(self, timeout: float = WAIT_S) -> str:
        """The address of the next waiter that says it listens (on a timeout, the
        assertion shows the end of the hooks' log: what the waiters did)."""
        try:
            line = await asyncio.wait_for(self._reader.readline(), timeout)
        except TimeoutError:
            raise AssertionError(f"no waiter said ready in {timeout:g} s; {hooks_log()}") from None
        assert line.startswith(b"ready "), line
        return line.decode().removeprefix("ready ").strip()


class ClaudeSession:
    """A headless Claude Code session fed turn by turn on its stream-json stdin."""

    def __init__(self, binary: Path, project: Path, env: dict[str, str], *args: str) -> None:
        self.argv = [
            str(binary), "-p", "--input-format", "stream-json",
            "--output-format", "stream-json", "--verbose", *args,
        ]  # fmt: skip
        self.project, self.env = project, env
        self.events: list[dict[str, Any]] = []
        self._results: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._log = project.parent / "claude.stderr.log"

    async def __aenter__(self) -> ClaudeSession:
        log = os.open(self._log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv, cwd=self.project, env=self.env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=log,
            )  # fmt: skip
        finally:
            os.close(log)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), WAIT_S)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, WAIT_S)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for line in self._proc.stdout:
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                self.events.append(item)
                if item.get("type") == "result":
                    self._results.put_nowait(item)

    async def say(self, text: str) -> None:
        """Sends a user turn."""
        assert self._proc is not None and self._proc.stdin is not None
        turn = {"type": "user", "message": {"role": "user", "content": text}}
        self._proc.stdin.write((json.dumps(turn) + "\n").encode())
        await self._proc.stdin.drain()

    async def turn_end(self, timeout: float = WAIT_S) -> dict[str, Any]:
        """The ``result`` event that ends the next turn."""
        try:
            return await asyncio.wait_for(self._results.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"no turn end in {timeout:g} s; {self.tail()}") from None

    async def end_input(self, timeout: float = WAIT_S) -> int:
        """Closes stdin, as a stream-json client ending the session; returns the exit code."""
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            return await asyncio.wait_for(self._proc.wait(), timeout)
        except TimeoutError:
            self._proc.send_signal(signal.SIGTERM)
            raise AssertionError(
                f"claude did not exit {timeout:g} s after its input ended; {self.tail()}"
            ) from None

    async def joined(self, joined: asyncio.Event, timeout: float = WAIT_S) -> None:
        """Waits for ``joined`` (the session's MCP server is on the bridge); if it never
        comes, says what Claude Code printed and its last events (the ``init`` event
        lists its MCP servers and their status)."""
        try:
            await asyncio.wait_for(joined.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"the session's MCP server did not join the bridge in {timeout:g} s; {self.tail()}"
            ) from None

    def tail(self) -> str:
        text = self._log.read_text(errors="replace") if self._log.exists() else ""
        return f"claude stderr: {text[-2000:]!r}; last events: {self.events[-3:]!r}"
