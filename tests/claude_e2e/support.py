"""The real Claude Code (npm, pinned in scripts/ensure_claude.sh) as a test subject.

:func:`claude_binary` finds the pinned install (or skips, or fails in CI);
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
import re
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENSURE = ROOT / "scripts" / "ensure_claude.sh"
PREFIX = ROOT / ".cache" / "claude"
BINARY = PREFIX / "node_modules" / ".bin" / "claude"
PACKAGE = PREFIX / "node_modules" / "@anthropic-ai" / "claude-code" / "package.json"
WAIT_S = 20.0
"""Upper bound of any single wait on Claude Code; the runs take a fraction of it."""


def pinned_version() -> str:
    """The Claude Code version scripts/ensure_claude.sh installs."""
    match = re.search(r"^VERSION=(\S+)$", ENSURE.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"no VERSION= line in {ENSURE}"
    return match.group(1)


def claude_binary() -> Path:
    """The pinned ``claude``; else skip (locally) or fail (CI) saying how to install it."""
    version = None
    with contextlib.suppress(OSError, ValueError, KeyError):
        version = json.loads(PACKAGE.read_text(encoding="utf-8"))["version"]
    if version == pinned_version() and os.access(BINARY, os.X_OK):
        return BINARY
    why = (
        f"Claude Code {pinned_version()} is not installed in {PREFIX} (found {version}); "
        "run `sh scripts/ensure_claude.sh` (needs node and npm)"
    )
    if os.environ.get("CI", "").lower() in ("1", "true"):
        pytest.fail(why)
    pytest.skip(why)


def ai_connect_command() -> list[str]:
    """The ``ai-connect`` of this interpreter (what ``setup`` then writes into configs)."""
    script = shutil.which("ai-connect", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "ai_connect"]


def claude_env(home: Path, api: str, **extra: str) -> dict[str, str]:
    """A clean environment: no user config of ai-connect or Claude, only loopback traffic."""
    drop: tuple[str, ...] = ("AI_CONNECT_", "ANTHROPIC_", "CLAUDE", "OTEL_", "HTTP_PROXY")
    drop += ("HTTPS_PROXY",)
    drop += ("NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env |= {
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": api,
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        # Anything else Claude Code might reach for meets a closed local port instead.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "NO_COLOR": "1",
        "AI_CONNECT_CONFIG": str(home / "no-ai-connect-config.yaml"),
        **extra,
    }
    return env


async def run_setup(project: Path, env: dict[str, str]) -> str:
    """``ai-connect setup claude-code --project`` in ``project``, as a user runs it."""
    proc = await asyncio.create_subprocess_exec(
        *ai_connect_command(), "setup", "claude-code", "--project",
        cwd=project, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), WAIT_S)
    assert proc.returncode == 0, out.decode()
    return out.decode()


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
        """The address of the next waiter that says it listens."""
        line = await asyncio.wait_for(self._reader.readline(), timeout)
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

    def tail(self) -> str:
        text = self._log.read_text(errors="replace") if self._log.exists() else ""
        return f"claude stderr: {text[-2000:]!r}; last events: {self.events[-3:]!r}"
