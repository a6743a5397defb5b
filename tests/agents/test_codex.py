"""End to end with the real Codex CLI (interactive, on a pty), after ``ai-connect setup
codex --project``: an idle session is woken by a peer's message and answers it with
``peer_send``, with nobody typing and nothing to approve.

One session per Codex version (pinned and newest) against a scripted OpenAI Responses
API (tests/agents/apis.py) and a bridge on 127.0.0.1 that requires tokens. As a user
would have it: ``AI_CONNECT_BRIDGE``, ``AI_CONNECT_PEER_NAME`` and ``AI_CONNECT_TOKEN``
set in the environment Codex starts in, and an ``XDG_RUNTIME_DIR`` (any desktop login)
that Codex does not pass to its MCP servers. The session:

1. turn 1: "hello" -> "ready"; the turn ends, the background Stop hook (the waiter)
   says it listens;
2. alice sends WAKE; the waiter queues it for the session's thread (``codex queue``);
   Codex takes it up as its next turn and asks the model;
3. the model calls ``peer_send`` (to alice, ``reply_to`` WAKE); Codex runs it unasked;
   alice gets the answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ai_connect.bridge.auth import new_token
from ai_connect.client import BridgeClient
from tests.agents.apis import ResponsesApi, conversation
from tests.agents.clients import WAIT_S, binary, codex_env, new_project, run_setup, versions
from tests.agents.presence import Joins
from tests.agents.processes import hooks_ended
from tests.agents.scripted import Text, ToolUse
from tests.agents.sessions import CodexTui
from tests.claude_e2e.support import ReadyPipe
from tests.client.support import make_client
from tests.support.bridge import bridge

PROJECT = "proj"
ADDRESS = f"cx ({PROJECT})"
WAKE = "WAKE-codex: is the parser change safe to merge?"
ANSWER = "ANSWER-codex: yes, merge it."
NOW = time.time()
CX_TOKEN, CX = new_token("cx", now=NOW)
ALICE_TOKEN, ALICE = new_token("alice", now=NOW)


def peer_send(to: str, message: str, reply_to: str) -> ToolUse:
    """Codex offers an MCP server's tools as one namespace tool, ``mcp__<server>``."""
    args = {"to": to, "message": message, "reply_to": reply_to}
    return ToolUse("peer_send", args, namespace="mcp__ai_connect")


@dataclass
class Run:
    setup: str = ""
    config: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)
    waiter: str = ""
    idle_requests: int = -1
    wake_index: int = -1
    wake_s: float = -1.0
    wake_id: str = ""
    answers: list[str] = field(default_factory=list)
    tool_output: str = ""
    unread_after: int = -1


async def _session(root: Path, exe: Path) -> Run:
    run = Run()
    home = root / "home"
    project = new_project(root, PROJECT)
    xdg = root / "xdg"
    xdg.mkdir(mode=0o700)
    async with (
        bridge(tokens=[CX, ALICE]) as br,
        ResponsesApi() as api,
        ReadyPipe(root / "ready.fifo") as ready,
        make_client(br.url, "alice", PROJECT, token=ALICE_TOKEN, presence=True) as alice,
    ):
        joins = Joins(alice)
        env = codex_env(
            home, api.url, project,
            AI_CONNECT_BRIDGE=br.url, AI_CONNECT_PEER_NAME="cx", AI_CONNECT_TOKEN=CX_TOKEN,
            XDG_RUNTIME_DIR=str(xdg), AI_CONNECT_HOOK_READY_FIFO=str(ready.path),
        )  # fmt: skip
        run.setup = await run_setup("codex", project, env)
        run.config = (project / ".codex" / "config.toml").read_text()
        async with CodexTui(exe, project, env) as cx:
            await cx.say("hello")
            await api.request(0, WAIT_S)
            api.reply(Text("ready"))
            run.waiter = await ready.ready(WAIT_S)
            run.peers = await joins.online_with(ADDRESS, WAIT_S)  # (presence.py)
            # Idle means the turn is over, its sync Stop hook too: the waiter (the async
            # Stop hook) may say it listens while that hook still runs, and a message sent
            # then carries the turn on as turn-end mail instead.
            assert cx.term.proc is not None
            await hooks_ended(cx.term.proc.pid, ("hook", "codex"), WAIT_S)
            run.idle_requests = len(api.requests) - 1

            begun = time.perf_counter()
            run.wake_id = str((await alice.send(ADDRESS, WAKE)).id)
            run.wake_index = 1
            await api.request(run.wake_index, WAIT_S)
            run.wake_s = time.perf_counter() - begun
            api.reply(peer_send(f"alice ({PROJECT})", ANSWER, run.wake_id))
            body = await api.request(run.wake_index + 1, WAIT_S)
            run.tool_output = json.dumps(body["input"][-1])
            api.reply(Text("answered"))
            assert await alice.wait(WAIT_S), f"no answer reached alice; {cx.term.text[-1500:]!r}"
            run.answers = [m.body for m in alice.unread()]
            run.requests = list(api.requests)
        async with BridgeClient(br.url, "cx", PROJECT, token=CX_TOKEN, request_timeout=5) as check:
            run.unread_after = (await check.status()).unread
    return run


@pytest.fixture(scope="module", params=versions("codex"))
def codex(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    exe = binary("codex", request.param)
    root = tmp_path_factory.mktemp("codex")
    return asyncio.run(asyncio.wait_for(_session(root, exe), 150))


def test_the_first_model_request_offers_ai_connects_tools(codex: Run) -> None:
    """Codex waits for the MCP server (setup marks it required): the very first request
    already carries the ai-connect tools."""
    assert "required = true" in codex.config
    names = [t.get("name") for t in codex.requests[0]["tools"]]
    assert "mcp__ai_connect" in names


def test_the_mcp_server_acts_for_the_users_address_with_the_users_token(codex: Run) -> None:
    """AI_CONNECT_* reach the MCP server Codex starts: on a bridge that requires tokens it
    registers as cx (proj), not as the host name on the default port."""
    assert ADDRESS in codex.peers


def test_the_hooks_find_their_mcp_servers_session_despite_xdg_runtime_dir(codex: Run) -> None:
    """With XDG_RUNTIME_DIR set for the hooks and stripped for the server, the waiter
    attaches to the server's session (its address, not a second one)."""
    assert codex.waiter == ADDRESS
    assert [p for p in codex.peers if p.startswith("cx")] == [ADDRESS]


def test_an_idle_codex_is_woken_by_a_peer_message(codex: Run) -> None:
    """Nothing is asked of the model while idle; a message makes Codex ask it again, with
    the message framed as peer mail, not as the user."""
    assert codex.idle_requests == 0
    woken = conversation(codex.requests[codex.wake_index])
    assert WAKE in woken and codex.wake_id in woken
    assert "woke this idle session" in woken and "not your user speaking" in woken
    assert codex.wake_s < 20


def test_the_woken_codex_answers_with_peer_send_unasked(codex: Run) -> None:
    """The model's peer_send runs without an approval prompt; alice gets the answer."""
    assert '\\"state\\":\\"accepted\\"' in codex.tool_output or "accepted" in codex.tool_output
    assert codex.answers == [ANSWER]


def test_each_message_reaches_the_model_once_and_is_acked(codex: Run) -> None:
    """WAKE occurs once in the last request's conversation; nothing stays unread."""
    assert conversation(codex.requests[-1]).count(WAKE) == 1
    assert codex.unread_after == 0
