"""Helpers for the hook tests: an "MCP server" stand-in that advertises its session, the
documented stdin JSON of each client, and hook processes run with a readiness pipe.

Nothing here sleeps: every wait is on a future, a pipe or a process, bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_connect.client import BridgeClient
from ai_connect.hooks import agent_link
from ai_connect.hooks.contracts import HookInput, parse_input
from ai_connect.hooks.runtime import HookSettings
from tests.client.support import make_client

ROOT = Path(__file__).resolve().parents[2]
NAME = "Claude"
WAIT_S = 10.0

# The stdin each client documents for its hooks (docs/hooks.md), minimal but complete.
CLAUDE_BASE = {
    "session_id": "c0ffee00-0000-4000-8000-000000000001",
    "transcript_path": "/tmp/transcript.jsonl",
    "permission_mode": "default",
}


def claude_input(event: str, cwd: Path, session: str | None = None, **extra: Any) -> dict[str, Any]:
    data = {**CLAUDE_BASE, "cwd": str(cwd), "hook_event_name": event, **extra}
    if session is not None:
        data["session_id"] = session
    if event == "Stop":
        data.setdefault("stop_hook_active", False)
        data.setdefault("last_assistant_message", "done")
    if event == "PostToolUse":
        data.setdefault("tool_name", "Bash")
        data.setdefault("tool_input", {"command": "ls"})
        data.setdefault("tool_response", {"stdout": "x"})
    return data


def codex_input(event: str, cwd: Path, **extra: Any) -> dict[str, Any]:
    data = {
        "session_id": "019a-codex",
        "transcript_path": None,
        "cwd": str(cwd),
        "hook_event_name": event,
        "model": "gpt-5-codex",
        **extra,
    }
    if event == "Stop":
        data.setdefault("stop_hook_active", False)
        data.setdefault("last_assistant_message", "done")
    return data


def gemini_input(event: str, cwd: Path, **extra: Any) -> dict[str, Any]:
    data = {
        "session_id": "gemini-1",
        "transcript_path": "/tmp/t.json",
        "cwd": str(cwd),
        "hook_event_name": event,
        "timestamp": "2025-12-01T10:30:00Z",
        **extra,
    }
    if event == "AfterAgent":
        data.setdefault("prompt", "fix it")
        data.setdefault("prompt_response", "done")
        data.setdefault("stop_hook_active", False)
    return data


def cursor_input(event: str, cwd: Path, **extra: Any) -> dict[str, Any]:
    return {
        "conversation_id": "conv-123",
        "generation_id": "gen-456",
        "hook_event_name": event,
        "workspace_roots": [str(cwd)],
        "status": "completed",
        "loop_count": 0,
        **extra,
    }


INPUTS = {"claude": claude_input, "codex": codex_input, "gemini": gemini_input}
INPUTS["cursor"] = cursor_input


@contextlib.contextmanager
def runtime_dir() -> Iterator[Path]:
    """A short private runtime directory (Unix socket paths must stay under 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="ach") as folder:
        yield Path(folder)


def env(runtime: Path, url: str, **more: str) -> dict[str, str]:
    """The environment of a hook: our bridge, our runtime dir, no user config file."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")}
    return {
        **base,
        "AI_CONNECT_RUNTIME_DIR": str(runtime),
        "AI_CONNECT_CONFIG": str(runtime / "no-config.yaml"),
        "AI_CONNECT_BRIDGE": url,
        "AI_CONNECT_PEER_NAME": NAME,
        "PYTHONUNBUFFERED": "1",
        **more,
    }


def settings(runtime: Path, url: str, **fields: Any) -> HookSettings:
    """In-process hook settings: this process's pid heads the ancestor chain."""
    fields.setdefault("chain", (os.getpid(),))
    fields.setdefault("connect_timeout_s", 3.0)
    fields.setdefault("drain_s", 1.0)
    return HookSettings(env=env(runtime, url), **fields)


def hook(client: str, data: dict[str, Any]) -> HookInput:
    return parse_input(client, json.dumps(data))


@contextlib.asynccontextmanager
async def agent(
    url: str, runtime: Path, project: str, session: str, pid: int | None = None
) -> AsyncIterator[BridgeClient]:
    """An agent's MCP server: a connected client that advertises its session for ``pid``."""
    client = make_client(url, NAME, project, session=session)
    await client.connect()
    with agent_link.advertise(
        url, NAME, project, session, env={"AI_CONNECT_RUNTIME_DIR": str(runtime)},
        agent=os.getpid() if pid is None else pid,
    ):  # fmt: skip
        try:
            yield client
        finally:
            await client.close()


@dataclass
class Emitted:
    """What an in-process hook wrote, by stream."""

    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def __call__(self, stream: str, text: str) -> None:
        (self.out if stream == "out" else self.err).append(text)

    def json(self) -> dict[str, Any]:
        assert len(self.out) == 1, self.out
        value = json.loads(self.out[0])
        assert isinstance(value, dict)
        return value


@dataclass
class HookProcess:
    """A hook run as its client runs it: a process with the JSON on stdin."""

    proc: asyncio.subprocess.Process
    ready_r: int | None = None

    async def ready(self, timeout: float = WAIT_S) -> str:
        """The waiter's ``ready ADDRESS`` line (it is connected and listening)."""
        assert self.ready_r is not None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(self.ready_r, "rb", 0)
        )
        self.ready_r = None
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        finally:
            transport.close()
        assert line.startswith(b"ready "), line
        return line[6:].decode().strip()

    async def finish(self, timeout: float = WAIT_S) -> tuple[int, str, str]:
        """Waits for the exit; returns (code, stdout, stderr)."""
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode(), err.decode()

    async def running_after(self, seconds: float) -> bool:
        """``True`` if the process is still running ``seconds`` from now (a bounded wait)."""
        try:
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), seconds)
        except TimeoutError:
            return True
        return False


async def start_hook(
    args: list[str],
    data: dict[str, Any],
    environ: dict[str, str],
    *,
    cwd: Path,
    launcher: bool = False,
    agent_args: tuple[str, ...] = (),
) -> HookProcess:
    """Starts ``python -m ai_connect hook ARGS`` with ``data`` on stdin.

    ``launcher``: start it through tests/hooks/launcher.py, a stand-in agent process that
    waits for a go line before it runs the hook (so its pid can be advertised first);
    with ``agent_args`` the stand-in's command line reads ``claude ARGS`` (``-p``: a
    one-shot Claude Code run).
    """
    ready_r, ready_w = os.pipe()
    argv = [sys.executable, "-m", "ai_connect", "hook", *args]
    if launcher:
        # With agent_args the stand-in shows as "claude ARGS" in its command line.
        program = "claude" if agent_args else sys.executable
        launch = [program, str(Path(__file__).with_name("launcher.py")), *agent_args]
        argv = [*launch, "--", *argv]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        executable=sys.executable,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**environ, "AI_CONNECT_HOOK_READY_FD": str(ready_w)},
        pass_fds=(ready_w,),
        cwd=cwd,
    )
    os.close(ready_w)
    assert proc.stdin is not None
    payload = json.dumps(data).encode()
    if not launcher:
        proc.stdin.write(payload)
        proc.stdin.close()
    return HookProcess(proc, ready_r) if not launcher else _Launched(proc, ready_r, payload)


@dataclass
class _Launched(HookProcess):
    payload: bytes = b""

    def go(self) -> None:
        """Lets the launcher run its hook (after its pid was advertised)."""
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(b"go\n" + self.payload)
        stdin.close()
