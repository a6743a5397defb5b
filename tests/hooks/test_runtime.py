"""Hook flows in process against a real bridge: mid-turn context, turn-end continuation,
caps, identity, and one showing per message whichever path carries it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ai_connect.client import BridgeClient
from ai_connect.code_context import read_context
from ai_connect.errors import NotConnected
from ai_connect.hooks.runtime import dismiss_waiter, run_inject, run_turn_end
from ai_connect.identity import format_address
from ai_connect.text.agent import CONTEXT_CAP
from tests.client.support import make_client, run
from tests.support.checkouts import two_clones
from tests.support.inprocess import bridge

from .support import (
    INPUTS,
    NAME,
    Emitted,
    agent,
    claude_input,
    hook,
    runtime_dir,
    settings,
)

PROJECT = "proj"
ADDRESS = format_address(NAME, PROJECT)


def test_inject_without_mail_prints_nothing(tmp_path: Path) -> None:
    """No unread mail: exit 0, no output at all."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                emitted = Emitted()
                data = claude_input("PostToolUse", tmp_path)
                assert await run_inject(hook("claude", data), settings(rt, srv.url), emitted) == 0
                assert emitted == Emitted()

    run(scenario())


def test_inject_shows_mail_as_additional_context_and_acks_it(tmp_path: Path) -> None:
    """PostToolUse gets hookSpecificOutput.additionalContext; the MCP server then has none."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1") as mcp:
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                await bob.send(ADDRESS, "the tests fail on main", thread="t1")
                emitted = Emitted()
                data = claude_input("PostToolUse", tmp_path)
                await run_inject(hook("claude", data), settings(rt, srv.url), emitted)
                out = emitted.json()["hookSpecificOutput"]
                assert out["hookEventName"] == "PostToolUse"
                assert "1 new peer message" in out["additionalContext"]
                assert "not from your user" in out["additionalContext"]
                assert "    the tests fail on main" in out["additionalContext"]
                assert "thread t1" in out["additionalContext"]
                report = await mcp.status()
                assert (report.unread, mcp.unread()) == (0, [])
                await bob.close()

    run(scenario())


def test_inject_keeps_to_the_cap_and_acks_only_what_it_showed(tmp_path: Path) -> None:
    """Five 3,000-character messages: some shown within 10,000, the rest stay unread."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1") as mcp:
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                for i in range(5):
                    await bob.send(ADDRESS, f"{i}" * 3000)
                emitted = Emitted()
                data = claude_input("UserPromptSubmit", tmp_path, prompt="go")
                await run_inject(hook("claude", data), settings(rt, srv.url), emitted)
                text = emitted.json()["hookSpecificOutput"]["additionalContext"]
                assert len(text) <= CONTEXT_CAP
                shown = sum(1 for i in range(5) if f"{i}" * 3000 in text)
                assert 1 <= shown < 5
                assert f"{5 - shown} more unread peer messages: call peer_read" in text
                report = await mcp.status()
                assert (report.acked, report.unread) == (shown, 5 - shown)
                await bob.close()

    run(scenario())


def test_mail_read_by_the_mcp_server_is_not_shown_again(tmp_path: Path) -> None:
    """The MCP server showed and acked it (peer_read): the hook finds nothing to show."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1") as mcp:
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                await bob.send(ADDRESS, "once")
                messages = await mcp.wait(5.0)
                await mcp.ack(messages, wait=True)
                emitted = Emitted()
                data = claude_input("PostToolUse", tmp_path)
                await run_inject(hook("claude", data), settings(rt, srv.url), emitted)
                assert emitted.out == []
                await bob.close()

    run(scenario())


def test_a_hook_that_died_between_showing_and_its_ack_does_not_show_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook wrote the mail, and its ack never reached the bridge (it died there): the
    next hook drops the bridge's repeat (the shown id is on disk) and acks it."""
    real_request = BridgeClient._request

    async def ack_lost(self: BridgeClient, frame: Any, expect: Any, timeout: Any = None) -> Any:
        if frame.type == "ack":
            raise NotConnected("the hook died here")
        return await real_request(self, frame, expect, timeout)

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1") as mcp:
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                await bob.send(ADDRESS, "show me once")
                data = claude_input("PostToolUse", tmp_path)
                s = settings(rt, srv.url, keep_dir=tmp_path / "state")
                first, second = Emitted(), Emitted()
                with monkeypatch.context() as patch:
                    patch.setattr(BridgeClient, "_request", ack_lost)
                    await run_inject(hook("claude", data), s, first)
                assert len(first.out) == 1 and "show me once" in first.out[0]
                await run_inject(hook("claude", data), s, second)
                assert second.out == []
                assert (await mcp.status()).unread == 0
                await bob.close()

    run(scenario())


def test_concurrent_hooks_show_a_message_once(tmp_path: Path) -> None:
    """Three hooks at once (parallel tool calls): exactly one of them shows the message."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                await bob.send(ADDRESS, "only once")
                outs = [Emitted() for _ in range(3)]
                data = claude_input("PostToolUse", tmp_path)
                await asyncio.gather(
                    *(run_inject(hook("claude", data), settings(rt, srv.url), e) for e in outs)
                )
                texts = [o for e in outs for o in e.out]
                assert len(texts) == 1 and "only once" in texts[0]
                await bob.close()

    run(scenario())


def test_turn_end_outputs_follow_each_clients_contract(tmp_path: Path) -> None:
    """Codex Stop blocks, Gemini AfterAgent denies, Cursor stop follows up, Claude Stop blocks."""
    cases = [
        ("codex", "Stop", "decision", "block", "reason"),
        ("gemini", "AfterAgent", "decision", "deny", "reason"),
        ("claude", "Stop", "decision", "block", "reason"),
        ("cursor", "stop", None, None, "followup_message"),
    ]

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                for client, event, key, value, text_key in cases:
                    await bob.send(ADDRESS, f"hello {client}")
                    emitted = Emitted()
                    data = INPUTS[client](event, tmp_path)
                    await run_turn_end(hook(client, data), settings(rt, srv.url), emitted)
                    out = emitted.json()
                    if key is not None:
                        assert out[key] == value
                    assert f"hello {client}" in out[text_key]
                    assert "end your turn" in out[text_key]
                await bob.close()

    run(scenario())


def test_turn_end_without_mail_lets_the_turn_end(tmp_path: Path) -> None:
    """No mail: no output (Cursor gets an empty JSON object)."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                for client, event, expected in (
                    ("codex", "Stop", []),
                    ("gemini", "AfterAgent", []),
                    ("cursor", "stop", ["{}"]),
                ):
                    emitted = Emitted()
                    data = INPUTS[client](event, tmp_path)
                    await run_turn_end(hook(client, data), settings(rt, srv.url), emitted)
                    assert emitted.out == expected

    run(scenario())


def test_turn_end_may_wait_for_mail(tmp_path: Path) -> None:
    """With --wait, a message that arrives during the wait continues the turn."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                emitted = Emitted()
                data = INPUTS["codex"]("Stop", tmp_path)
                task = asyncio.ensure_future(
                    run_turn_end(hook("codex", data), settings(rt, srv.url, wait_s=10), emitted)
                )
                done, _ = await asyncio.wait({task}, timeout=0.3)
                assert not done
                await bob.send(ADDRESS, "late news")
                await asyncio.wait_for(task, 5)
                assert "late news" in emitted.json()["reason"]
                await bob.close()

    run(scenario())


def test_gemini_and_codex_mid_turn_events_get_additional_context(tmp_path: Path) -> None:
    """AfterTool / BeforeAgent (Gemini) and PostToolUse / SessionStart (Codex) inject."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                for client, event in (
                    ("gemini", "AfterTool"),
                    ("gemini", "BeforeAgent"),
                    ("codex", "PostToolUse"),
                    ("codex", "SessionStart"),
                ):
                    await bob.send(ADDRESS, f"note for {event}")
                    emitted = Emitted()
                    data = INPUTS[client](event, tmp_path)
                    await run_inject(hook(client, data), settings(rt, srv.url), emitted)
                    out = emitted.json()["hookSpecificOutput"]
                    assert out["hookEventName"] == event
                    assert f"note for {event}" in out["additionalContext"]
                await bob.close()

    run(scenario())


def test_without_an_mcp_server_the_hook_acts_for_the_config_address(tmp_path: Path) -> None:
    """No advert: name from env, project from the git root of cwd, while nobody holds it."""

    async def scenario() -> None:
        repo = tmp_path / "myrepo"
        (repo / ".git").mkdir(parents=True)
        (repo / "sub").mkdir()
        address = format_address(NAME, "myrepo")
        with runtime_dir() as rt:
            async with bridge() as srv:
                bob = make_client(srv.url, "Bob", "myrepo")
                await bob.connect()
                me = make_client(srv.url, NAME, "myrepo")
                await me.connect()  # makes the address known...
                await me.close()  # ...and leaves it free
                await bob.send(address, "anyone home?")
                emitted = Emitted()
                data = claude_input("SessionStart", repo / "sub", source="startup")
                await run_inject(hook("claude", data), settings(rt, srv.url), emitted)
                assert "anyone home?" in emitted.json()["hookSpecificOutput"]["additionalContext"]
                await bob.close()

    run(scenario())


def test_a_hook_never_acts_for_another_sessions_address(tmp_path: Path) -> None:
    """No advert and the address held by another session: nothing shown, a note on stderr."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv:
                other = make_client(srv.url, NAME, PROJECT)
                await other.connect()
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                await bob.send(ADDRESS, "not for the hook")
                emitted = Emitted()
                data = claude_input("PostToolUse", tmp_path / PROJECT)
                (tmp_path / PROJECT).mkdir()
                code = await run_inject(hook("claude", data), settings(rt, srv.url), emitted)
                assert (code, emitted.out) == (0, [])
                assert "address_in_use" in "".join(emitted.err) or "held" in "".join(emitted.err)
                assert len(await other.wait(5.0)) == 1
                await other.close()
                await bob.close()

    run(scenario())


def test_bridge_down_is_not_the_agents_problem(tmp_path: Path) -> None:
    """No bridge: exit 0, nothing on stdout, one note on stderr."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            emitted = Emitted()
            data = claude_input("PostToolUse", tmp_path)
            url = "ws://127.0.0.1:9"  # discard port: nothing listens
            assert await run_inject(hook("claude", data), settings(rt, url), emitted) == 0
            assert emitted.out == [] and len(emitted.err) == 1

    run(scenario())


def test_a_held_turn_ends_when_the_session_ends(tmp_path: Path) -> None:
    """Gemini advisor mode: the held AfterAgent hook leaves at once, quietly, when the
    session's SessionEnd hook dismisses it; the turn ends with nothing shown."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                emitted = Emitted()
                data = INPUTS["gemini"]("AfterAgent", tmp_path)
                held = settings(rt, srv.url, wait_s=60)
                task = asyncio.ensure_future(run_turn_end(hook("gemini", data), held, emitted))
                done, _ = await asyncio.wait({task}, timeout=0.5)
                assert not done
                end = hook("gemini", INPUTS["gemini"]("SessionEnd", tmp_path))
                assert await dismiss_waiter(end, settings(rt, srv.url))
                assert await asyncio.wait_for(task, 5) == 0
                assert emitted.out == []

    run(scenario())


def test_mail_with_a_context_reference_shows_the_reference_in_the_hooks_checkout(
    tmp_path: Path,
) -> None:
    """The hook's cwd is a clone of the sender's repo: the reference, not the content."""

    async def scenario() -> None:
        alice_repo, bob_repo = two_clones(tmp_path)
        code = read_context("src/app.py", "21-40", cwd=alice_repo).as_dict()
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                await bob.send(ADDRESS, "review f11-f20", context=code)
                other = code | {"ref": code["ref"] | {"sha256": "0" * 64}}  # file differs
                await bob.send(ADDRESS, "same lines, other file", context=other)
                emitted = Emitted()
                data = claude_input("PostToolUse", bob_repo)
                await run_inject(hook("claude", data), settings(rt, srv.url), emitted)
                shown = emitted.json()["hookSpecificOutput"]["additionalContext"]
                local = (bob_repo / "src" / "app.py").resolve()
                assert f"by reference: your copy {local} lines 21-40 is verified" in shown
                assert shown.count("    | def f11():") == 0  # the second verifies by lines
                assert f"{local} lines 21-40 in your copy are verified identical" in shown
                await bob.close()

    run(scenario())
