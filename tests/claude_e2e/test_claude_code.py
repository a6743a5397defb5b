"""End to end with the real Claude Code: after ``ai-connect setup claude-code --project``,
peer messages wake an idle session and reach a busy one, with no polling.

One headless session (stream-json input kept open) runs once for the module against a
scripted Messages API (fake_api.py) and a bridge on 127.0.0.1; the tests then check what
its model requests carried. The session:

1. turn 1: "hello" -> "ready"; the turn ends and the Stop hook's waiter says it listens;
2. a peer sends WAKE: the waiter wakes the session, whose next request carries WAKE;
3. that turn calls Bash ``true``; while it is between two tool calls (its request after
   the first one is not answered yet) the peer sends MIDTURN; after the second tool call
   the PostToolUse hook adds MIDTURN as context to the tool result;
4. the turn ends; stdin closes; Claude Code stops its MCP server and exits.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ai_connect.client import BridgeClient
from ai_connect.protocol import Presence
from tests.agents.apis import claude_offers
from tests.agents.clients import versions
from tests.claude_e2e.fake_api import ScriptedApi, Text, ToolUse, texts
from tests.claude_e2e.support import (
    WAIT_S,
    ClaudeSession,
    ReadyPipe,
    claude_binary,
    claude_env,
    run_setup,
)
from tests.client.support import make_client
from tests.support.bridge import bridge

PROJECT = "proj"
ADDRESS = f"cc ({PROJECT})"
WAKE = "WAKE-e2e: the build on main is red, can you look at test_login?"
MIDTURN = "MIDTURN-e2e: never mind, I fixed test_login myself."
BASH_TRUE = ToolUse("Bash", {"command": "true", "description": "do nothing"})


@dataclass
class Run:
    """What one session did, for the tests to check."""

    setup: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    turn1_requests: int = 0
    idle_requests: int = -1
    waiter: str = ""
    wake_index: int = -1
    wake_s: float = -1.0
    wake_id: str = ""
    quiet_index: int = -1
    """The request after the first tool call, answered only after MIDTURN was sent."""
    midturn_index: int = -1
    midturn_id: str = ""
    exit_code: int | None = None
    exit_s: float = -1.0
    unread_after: int = -1
    receipts: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """Message id -> (state, path) as the sender's receipts tell them (protocol §3.7)."""
    notices: list[tuple[str, str | None]] = field(default_factory=list)
    """(message id, path) of the receipt notices alice got."""


async def _session(root: Path, binary: Path) -> Run:
    run = Run()
    home, project = root / "home", root / PROJECT
    home.mkdir()
    project.mkdir()
    runtime = root / "rt"
    runtime.mkdir(mode=0o700)
    async with (
        bridge() as br,
        ScriptedApi() as api,
        ReadyPipe(root / "ready.fifo") as ready,
        make_client(br.url, "alice", presence=True) as alice,
    ):
        joined = asyncio.Event()
        alice.add_listener(
            lambda item: (
                joined.set()
                if isinstance(item, Presence)
                and item.event == "join"
                and item.peer.address == ADDRESS
                else None
            )
        )
        env = claude_env(
            home, api.url,
            AI_CONNECT_BRIDGE=br.url, AI_CONNECT_PEER_NAME="cc",
            AI_CONNECT_RUNTIME_DIR=str(runtime), AI_CONNECT_HOOK_READY_FIFO=str(ready.path),
        )  # fmt: skip
        run.setup = await run_setup(project, env)
        async with ClaudeSession(binary, project, env, "--allowedTools", "Bash(true)") as cc:
            # The first prompt goes out once the session's MCP server is on the bridge:
            # Claude Code may send its first request before a slow (loaded) MCP server
            # has answered, and then offers no ai-connect tool in it.
            await cc.joined(joined)
            api.reply(Text("ready"))
            await cc.say("hello")
            await cc.turn_end()
            run.turn1_requests = len(api.requests)
            run.waiter = await ready.ready()
            run.idle_requests = len(api.requests) - run.turn1_requests

            begun = time.perf_counter()
            run.wake_id = str((await alice.send("cc", WAKE, receipt=True)).id)
            run.wake_index = run.turn1_requests
            await api.request(run.wake_index, WAIT_S)
            run.wake_s = time.perf_counter() - begun
            api.reply(BASH_TRUE)

            run.quiet_index = run.wake_index + 1
            await api.request(run.quiet_index, WAIT_S)
            run.midturn_id = str((await alice.send("cc", MIDTURN)).id)
            api.reply(BASH_TRUE)
            run.midturn_index = run.quiet_index + 1
            await api.request(run.midturn_index, WAIT_S)
            api.reply(Text("done"))
            await cc.turn_end()

            begun = time.perf_counter()
            run.exit_code = await cc.end_input()
            run.exit_s = time.perf_counter() - begun
        run.requests = list(api.requests)
        for mid in (run.wake_id, run.midturn_id):
            (state,) = (await alice.receipts(mid)).recipients
            run.receipts[mid] = (state.state, state.path)
        run.notices = [(n.id, n.path) for n in await alice.wait_receipts(WAIT_S)]
        async with BridgeClient(br.url, "cc", PROJECT, request_timeout=5) as check:
            assert check.address == ADDRESS
            run.unread_after = (await check.status()).unread
    return run


@pytest.fixture(scope="module", params=versions("claude"))
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    binary = claude_binary(request.param)
    root = tmp_path_factory.mktemp("claude")
    return asyncio.run(asyncio.wait_for(_session(root, binary), 90))


def _after_last_tool_result(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The last tool result and every content block after it: hook context comes in the
    same user message (Claude Code 2.1.197) or in a ``system`` message after it (2.1.33x)."""
    blocks: list[dict[str, Any]] = []
    for message in body["messages"]:
        content = message["content"]
        items = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for item in items:
            if item.get("type") == "tool_result":
                blocks = []
            blocks.append(item)
    return blocks


def test_setup_registers_the_server_and_the_hooks(session: Run) -> None:
    """The real ``ai-connect setup claude-code --project`` wrote the files Claude Code read."""
    assert ".mcp.json" in session.setup and ".claude/settings.json" in session.setup
    # The woken turn's request: Claude Code 2.1.33x connects MCP servers in the
    # background, so on a loaded machine its very first request may go out before it
    # listed our tools (the bridge saw the server join, Claude had not finished with it).
    woken = session.requests[session.wake_index]
    assert claude_offers(woken, "mcp__ai-connect__peer_send") in ("direct", "deferred")
    assert claude_offers(woken, "mcp__ai-connect__peer_wait") in ("direct", "deferred")


def test_an_idle_session_is_woken_by_a_peer_message(session: Run) -> None:
    """After turn 1 the waiter listens as the session's address; a message sent to it
    makes Claude Code send a new model request that carries the message."""
    assert session.waiter == ADDRESS
    woken = texts(session.requests[session.wake_index])
    assert WAKE in woken and session.wake_id in woken
    assert f"[peer message from alice ({PROJECT})" in woken
    assert "woke this idle session" in woken and "not your user speaking" in woken
    assert session.wake_s < 10


def test_a_message_sent_mid_turn_arrives_as_context_on_the_next_tool_result(
    session: Run,
) -> None:
    """A message sent while the model works is added by PostToolUse to the next tool
    result, not before."""
    assert MIDTURN not in texts(session.requests[session.quiet_index])
    blocks = _after_last_tool_result(session.requests[session.midturn_index])
    assert blocks[0]["type"] == "tool_result"
    context = " ".join(b.get("text", "") for b in blocks[1:])
    assert "PostToolUse:Bash hook additional context" in context
    assert MIDTURN in context and session.midturn_id in context
    assert "not from your user" in context


def test_the_idle_session_makes_no_model_request(session: Run) -> None:
    """Between the end of turn 1 and the message, Claude Code asked the model nothing."""
    assert session.turn1_requests == 1
    assert session.idle_requests == 0


def test_each_message_reaches_the_model_once_and_is_acked(session: Run) -> None:
    """In the last request's whole conversation each message shows up once; the bridge
    holds nothing unread for the session afterwards."""
    final = json.dumps(session.requests[-1]["messages"], ensure_ascii=False)
    assert final.count(WAKE) == 1 and final.count(MIDTURN) == 1
    assert len(session.requests) == session.midturn_index + 1
    assert session.unread_after == 0


def test_the_sender_learns_each_message_was_shown_by_a_hook(session: Run) -> None:
    """Receipts (protocol §3.7): both messages shown, through the hooks that showed them;
    the one sent with receipt=True brought its sender a notice saying so."""
    assert session.receipts == {
        session.wake_id: ("shown", "hook"),
        session.midturn_id: ("shown", "hook"),
    }
    assert session.notices == [(session.wake_id, "hook")]


def test_ending_the_input_ends_the_session(session: Run) -> None:
    """Closing stdin stops Claude Code: its waiting Stop hook leaves with the MCP server."""
    assert session.exit_code == 0
    assert session.exit_s < 10
