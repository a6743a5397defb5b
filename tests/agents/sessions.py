"""Agent sessions driven as a user drives them: Codex's TUI on a pty, Gemini headless.

Claude Code runs headless with stream-json input kept open
(:class:`tests.claude_e2e.support.ClaudeSession`). Codex CLI's idle wake needs its
interactive TUI (``codex exec`` ends after its answer), so :class:`CodexTui` types at it
on a pseudo-terminal. Gemini CLI runs ``gemini -p``: its turn-end hook holds the run
open in advisor mode. Nothing here sleeps: every wait is bounded, on a pipe, a
condition or a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from tests.agents.clients import WAIT_S
from tests.agents.terminal import Terminal

__all__ = ["CodexTui", "GeminiRun"]


class CodexTui:
    """Interactive Codex in ``project``: ``async with CodexTui(exe, project, env) as cx``."""

    def __init__(self, exe: Path, project: Path, env: dict[str, str]) -> None:
        # --dangerously-bypass-hook-trust stands in for the user's one-time review of
        # the new hooks ("Trust all and continue"), which the test cannot click.
        argv = [str(exe), "--dangerously-bypass-hook-trust", "--no-alt-screen"]
        self.term = Terminal(argv, project, env)

    async def __aenter__(self) -> CodexTui:
        await self.term.__aenter__()
        try:
            await self.term.expect(r"Ask Codex|to do anything", WAIT_S)
        except BaseException:
            await self.term.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.term.__aexit__(*exc_info)

    async def say(self, text: str) -> None:
        """Types a prompt and presses Enter (after the echo, so a paste is not merged)."""
        start = len(self.term.text)
        self.term.type(text)
        await self.term.expect(text[-12:].replace("?", r"\?"), WAIT_S, since=start)
        self.term.type("\r")


class GeminiRun:
    """``gemini -p PROMPT`` in ``project``, its output kept in a log file."""

    def __init__(self, exe: Path, project: Path, env: dict[str, str], prompt: str) -> None:
        self.argv = [str(exe), "-p", prompt, "--output-format", "text"]
        self.project, self.env = project, env
        self.proc: asyncio.subprocess.Process | None = None
        self.log = project.parent / f"gemini-{project.name}.log"

    async def __aenter__(self) -> GeminiRun:
        out = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, cwd=self.project, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(out)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), WAIT_S)

    async def finish(self, timeout: float = WAIT_S) -> int:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"gemini did not finish in {timeout:g} s; {self.tail()}") from None

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"gemini output: {text[-2000:]!r}"
