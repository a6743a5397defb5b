"""``ai-connect hook wait``: the Claude Code async-rewake Stop hook, run as a real process."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ai_connect.identity import format_address
from tests.client.support import make_client, run
from tests.support.bridge import bridge

from .support import (
    NAME,
    agent,
    claude_input,
    env,
    runtime_dir,
    start_hook,
)

PROJECT = "proj"
ADDRESS = format_address(NAME, PROJECT)
WAIT = ["wait", "--timeout", "60"]


def test_waiter_exits_2_with_the_digest_after_a_message_and_not_before(tmp_path: Path) -> None:
    """The waiter stays until mail comes, then exits 2 with sender, id and body on stderr."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1") as mcp:
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                stop = claude_input("Stop", tmp_path)
                waiter = await start_hook(WAIT, stop, env(rt, srv.url), cwd=tmp_path)
                assert await waiter.ready() == ADDRESS
                assert await waiter.running_after(0.3)
                receipt = await bob.send(ADDRESS, "please review parser.py\nline two")
                code, out, err = await waiter.finish()
                assert (code, out) == (2, "")
                assert "1 new peer message woke this idle session" in err
                assert "not your user" in err and "peer_send" in err
                assert f"[peer message from Bob ({PROJECT}) · id {receipt.id}" in err
                assert "    please review parser.py\n    line two" in err
                # The MCP server of the session hears that the hook showed it: no repeat.
                await mcp.status()
                assert mcp.unread() == []
                assert (await mcp.status()).unread == 0
                await bob.close()

    run(scenario())


def test_waiter_with_mail_already_waiting_exits_at_once(tmp_path: Path) -> None:
    """Mail that came during the turn wakes the session as soon as the turn ends."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                await bob.send(ADDRESS, "one")
                await bob.send(ADDRESS, "two")
                waiter = await start_hook(
                    WAIT, claude_input("Stop", tmp_path), env(rt, srv.url), cwd=tmp_path
                )
                code, _, err = await waiter.finish()
                assert code == 2
                assert "2 new peer messages" in err
                assert err.index("    one") < err.index("    two")
                await bob.close()

    run(scenario())


def test_newer_waiter_of_the_session_supersedes_the_older(tmp_path: Path) -> None:
    """A second waiter of the same session makes the first exit 0 quietly; it gets the mail."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                stop = claude_input("Stop", tmp_path)
                first = await start_hook(WAIT, stop, env(rt, srv.url), cwd=tmp_path)
                await first.ready()
                second = await start_hook(WAIT, stop, env(rt, srv.url), cwd=tmp_path)
                assert await first.finish() == (0, "", "")
                await second.ready()
                await bob.send(ADDRESS, "for the newest")
                code, _, err = await second.finish()
                assert code == 2 and "for the newest" in err
                await bob.close()

    run(scenario())


def test_next_prompt_and_session_end_dismiss_the_waiter(tmp_path: Path) -> None:
    """UserPromptSubmit (a new turn) and SessionEnd each make the waiter leave quietly."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                environ = env(rt, srv.url)
                for event in ("UserPromptSubmit", "SessionEnd"):
                    stop = claude_input("Stop", tmp_path)
                    waiter = await start_hook(WAIT, stop, environ, cwd=tmp_path)
                    await waiter.ready()
                    extra = {"prompt": "go on"} if event == "UserPromptSubmit" else {}
                    data = claude_input(event, tmp_path, **extra)
                    other = await start_hook(["claude"], data, environ, cwd=tmp_path)
                    assert await other.finish() == (0, "", "")
                    assert await waiter.finish() == (0, "", "")

    run(scenario())


def test_waiter_leaves_quietly_before_its_timeout(tmp_path: Path) -> None:
    """With no mail the waiter exits 0 without output shortly before --timeout."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                loop = asyncio.get_running_loop()
                stop = claude_input("Stop", tmp_path)
                waiter = await start_hook(
                    ["wait", "--timeout", "1"], stop, env(rt, srv.url), cwd=tmp_path
                )
                await waiter.ready()
                begun = loop.time()
                assert await waiter.finish() == (0, "", "")
                assert loop.time() - begun < 1.0

    run(scenario())


def test_two_sessions_in_one_project_each_wake_for_their_own_address(tmp_path: Path) -> None:
    """Claude and Claude#2 in one project: each session's waiter acts for its own address."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv:
                environ = env(rt, srv.url)
                one_stop = claude_input("Stop", tmp_path, session="one")
                two_stop = claude_input("Stop", tmp_path, session="two")
                w1 = await start_hook(WAIT, one_stop, environ, cwd=tmp_path, launcher=True)
                w2 = await start_hook(WAIT, two_stop, environ, cwd=tmp_path, launcher=True)
                async with (
                    agent(srv.url, rt, PROJECT, "s1", pid=w1.proc.pid) as mcp1,
                    agent(srv.url, rt, PROJECT, "s2", pid=w2.proc.pid) as mcp2,
                ):
                    assert (mcp1.address, mcp2.address) == (ADDRESS, f"{NAME}#2 ({PROJECT})")
                    w1.go()  # type: ignore[attr-defined]
                    w2.go()  # type: ignore[attr-defined]
                    assert await w1.ready() == ADDRESS
                    assert await w2.ready() == mcp2.address
                    bob = make_client(srv.url, "Bob", PROJECT)
                    await bob.connect()
                    await bob.send(mcp2.address, "for the second session")
                    code, _, err = await w2.finish()
                    assert code == 2 and "for the second session" in err
                    assert await w1.running_after(0.3)
                    await bob.send(ADDRESS, "for the first session")
                    code, _, err = await w1.finish()
                    assert code == 2 and "for the first session" in err
                    assert "second session" not in err
                    await bob.close()

    run(scenario(), timeout=30)


def test_waiter_under_a_one_shot_claude_p_leaves_at_once(tmp_path: Path) -> None:
    """Under ``claude -p`` (no stream-json input) no turn can follow: exit 0 at once."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                stop = claude_input("Stop", tmp_path)
                waiter = await start_hook(
                    WAIT, stop, env(rt, srv.url), cwd=tmp_path, launcher=True,
                    agent_args=("-p", "do it"),
                )  # fmt: skip
                waiter.go()  # type: ignore[attr-defined]
                assert await waiter.finish() == (0, "", "")

    run(scenario())


def test_the_waiter_writes_what_it_did_to_the_hooks_log(tmp_path: Path) -> None:
    """hooks.log (never stderr, which the model reads) says the waiter listened, as whom,
    and that it woke its agent; `ai-connect logs hooks` would print it."""

    async def scenario() -> None:
        state = tmp_path / "state"
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                stop = claude_input("Stop", tmp_path)
                hook_env = env(rt, srv.url, XDG_STATE_HOME=str(state))
                waiter = await start_hook(WAIT, stop, hook_env, cwd=tmp_path)
                assert await waiter.ready() == ADDRESS
                await bob.send(ADDRESS, "hello")
                code, _, err = await waiter.finish()
                assert code == 2 and "waiter" not in err
                await bob.close()
        text = (state / "ai-connect/log/hooks.log").read_text()
        assert f"waiter listens as {ADDRESS}" in text
        assert "waiter woke its agent with 1 message(s)" in text
        assert "leaves with exit 2" in text

    run(scenario())
