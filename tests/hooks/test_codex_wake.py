"""``ai-connect hook wait --client codex``: the Codex waiter hands mail to ``codex queue``.

A stand-in ``codex`` on PATH records its arguments; the real Codex is tested in
tests/agents. Run as a real process, as Codex runs its async Stop hook.
"""

from __future__ import annotations

import os
from pathlib import Path

from ai_connect.identity import format_address
from tests.client.support import make_client, run
from tests.support.bridge import bridge

from .support import NAME, agent, codex_input, env, runtime_dir, start_hook

PROJECT = "proj"
ADDRESS = format_address(NAME, PROJECT)
WAIT = ["wait", "--client", "codex", "--timeout", "60"]
FAKE = '#!/bin/sh\nprintf "%s\\n" "$@" > "$FAKE_CODEX_LOG"\nexit "${FAKE_CODEX_EXIT:-0}"\n'


def _fake_codex(folder: Path) -> Path:
    script = folder / "codex"
    script.write_text(FAKE)
    script.chmod(0o755)
    return folder


def test_mail_is_queued_for_the_sessions_thread_and_acked(tmp_path: Path) -> None:
    """A message makes the waiter run `codex queue --thread SESSION --message DIGEST`,
    exit 0, and mark the message read."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1") as mcp:
                bin_dir = _fake_codex(tmp_path)
                log = tmp_path / "queue.log"
                path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
                hook_env = env(rt, srv.url, PATH=path, FAKE_CODEX_LOG=str(log))
                stop = codex_input("Stop", tmp_path, session_id="0199-thread")
                waiter = await start_hook(WAIT, stop, hook_env, cwd=tmp_path)
                assert await waiter.ready() == ADDRESS
                async with make_client(srv.url, "Bob", PROJECT) as bob:
                    receipt = await bob.send(ADDRESS, "QUEUE-ME please")
                    code, out, err = await waiter.finish()
                assert (code, out, err) == (0, "", "")
                args = log.read_text().split("\n", 4)
                assert args[:4] == ["queue", "--thread", "0199-thread", "--message"]
                assert "QUEUE-ME please" in args[4] and str(receipt.id) in args[4]
                assert "woke this idle session" in args[4]
                assert (await mcp.status()).unread == 0

    run(scenario())


def test_a_failed_queue_leaves_the_mail_unread(tmp_path: Path) -> None:
    """When `codex queue` fails the waiter shows nothing, acks nothing, and keeps waiting."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1") as mcp:
                path = f"{_fake_codex(tmp_path)}{os.pathsep}{os.environ['PATH']}"
                log = tmp_path / "queue.log"
                hook_env = env(rt, srv.url, PATH=path, FAKE_CODEX_LOG=str(log), FAKE_CODEX_EXIT="1")
                waiter = await start_hook(
                    WAIT, codex_input("Stop", tmp_path), hook_env, cwd=tmp_path
                )
                assert await waiter.ready() == ADDRESS
                async with make_client(srv.url, "Bob", PROJECT) as bob:
                    await bob.send(ADDRESS, "not lost")
                    assert await waiter.running_after(1.0)
                assert log.exists()
                assert (await mcp.status()).unread == 1
                waiter.proc.kill()
                await waiter.finish()

    run(scenario())
