"""``ai-connect hook CLIENT`` as each client runs it: stdin JSON in, stdout and exit code out."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ai_connect.identity import format_address
from tests.client.support import make_client, run
from tests.support.bridge import bridge

from .support import INPUTS, NAME, agent, env, runtime_dir, start_hook

PROJECT = "proj"
ADDRESS = format_address(NAME, PROJECT)


def test_each_client_command_answers_in_its_contract(tmp_path: Path) -> None:
    """Claude PostToolUse, Codex Stop, Gemini AfterAgent, Cursor stop: JSON on stdout, exit 0."""
    cases: list[tuple[str, str, Callable[[dict[str, Any]], object]]] = [
        ("claude", "PostToolUse", lambda o: o["hookSpecificOutput"]["additionalContext"]),
        ("codex", "Stop", lambda o: o["decision"] == "block" and o["reason"]),
        ("gemini", "AfterAgent", lambda o: o["decision"] == "deny" and o["reason"]),
        ("cursor", "stop", lambda o: o["followup_message"]),
    ]

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                for client, event, text_of in cases:
                    await bob.send(ADDRESS, f"ping {client}")
                    data = INPUTS[client](event, tmp_path)
                    proc = await start_hook([client], data, env(rt, srv.url), cwd=tmp_path)
                    code, out, err = await proc.finish()
                    assert (code, err) == (0, "")
                    text = text_of(json.loads(out))
                    assert isinstance(text, str) and f"ping {client}" in text
                await bob.close()

    run(scenario())


def test_no_mail_means_no_output(tmp_path: Path) -> None:
    """Nothing unread: Claude's hook prints nothing, Cursor's an empty object; exit 0."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                for client, event, expected in (
                    ("claude", "SessionStart", ""),
                    ("cursor", "stop", "{}"),
                ):
                    data = INPUTS[client](event, tmp_path)
                    proc = await start_hook([client], data, env(rt, srv.url), cwd=tmp_path)
                    assert await proc.finish() == (0, expected, "")

    run(scenario())


def test_bad_stdin_exits_1_with_a_message() -> None:
    """Not run as a hook (stdin not JSON): exit 1 and a ConfigError on stderr."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            code, out, err = await _raw_hook(["gemini"], b"not json", env(rt, "ws://127.0.0.1:9"))
            assert (code, out) == (1, "")
            assert err.startswith("ConfigError: the gemini hook input on stdin is not JSON")

    run(scenario())


def test_without_a_bridge_the_hook_exits_0(tmp_path: Path) -> None:
    """The bridge is down: the agent is not disturbed (exit 0, no stdout)."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            data = INPUTS["claude"]("PostToolUse", tmp_path)
            proc = await start_hook(["claude"], data, env(rt, "ws://127.0.0.1:9"), cwd=tmp_path)
            code, out, err = await proc.finish()
            assert (code, out) == (0, "")
            assert err.startswith("ai-connect hook: no mail check")

    run(scenario())


async def _raw_hook(args: list[str], stdin: bytes, environ: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ai_connect", "hook", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=environ,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin), 10)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
