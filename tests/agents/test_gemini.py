"""End to end with the real Gemini CLI, after ``ai-connect setup gemini --project
--advisor``: the tools are offered headless, the MCP server gets its token, and a turn
held open at its end (advisor mode) is continued by a peer's message, which the model
answers with ``peer_send``, unasked.

Gemini CLI cannot wake an idle session (its hooks run synchronously and none is
detached; docs/hooks.md): advisor mode is what it allows. One ``gemini -p`` run per
Gemini version (pinned and newest) against a scripted ``streamGenerateContent``
(tests/agents/apis.py, ``GOOGLE_GEMINI_BASE_URL``) and a bridge on 127.0.0.1 that
requires tokens, in a trusted folder:

1. "wait for your peers" -> "waiting"; the AfterAgent hook holds the turn (its ready
   line says it listens);
2. alice sends WAKE; the hook continues the turn with it; the model calls
   ``mcp_ai-connect_peer_send``; Gemini runs it unasked; alice gets the answer;
3. the turn ends again and the hook holds it again.
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
from tests.agents.apis import GeminiApi, conversation
from tests.agents.clients import WAIT_S, binary, gemini_env, new_project, run_setup, versions
from tests.agents.presence import Joins
from tests.agents.scripted import Text, ToolUse
from tests.agents.sessions import GeminiRun
from tests.claude_e2e.support import ReadyPipe
from tests.client.support import make_client
from tests.support.bridge import bridge

PROJECT = "proj"
ADDRESS = f"gm ({PROJECT})"
WAKE = "WAKE-gemini: can you review the schema change?"
ANSWER = "ANSWER-gemini: reviewed, looks fine."
NOW = time.time()
GM_TOKEN, GM = new_token("gm", now=NOW)
ALICE_TOKEN, ALICE = new_token("alice", now=NOW)
SEND = "mcp_ai-connect_peer_send"


@dataclass
class Run:
    setup: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    held: str = ""
    held_again: str = ""
    peers: list[str] = field(default_factory=list)
    wake_s: float = -1.0
    wake_id: str = ""
    answers: list[str] = field(default_factory=list)


def _tools(body: dict[str, Any]) -> list[str]:
    return [d["name"] for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]


async def _session(root: Path, exe: Path) -> Run:
    run = Run()
    home = root / "home"
    project = new_project(root, PROJECT)
    async with (
        bridge(tokens=[GM, ALICE]) as br,
        GeminiApi() as api,
        ReadyPipe(root / "ready.fifo") as ready,
        make_client(br.url, "alice", PROJECT, token=ALICE_TOKEN, presence=True) as alice,
    ):
        joins = Joins(alice)
        env = gemini_env(
            home, api.url, project,
            AI_CONNECT_BRIDGE=br.url, AI_CONNECT_PEER_NAME="gm", AI_CONNECT_TOKEN=GM_TOKEN,
            AI_CONNECT_HOOK_READY_FIFO=str(ready.path),
        )  # fmt: skip
        run.setup = await run_setup("gemini", project, env, "--advisor")
        async with GeminiRun(exe, project, env, "Wait for your peers and answer them.") as gm:
            await api.request(0, WAIT_S)
            api.reply(Text("waiting"))
            run.held = await ready.ready(WAIT_S)
            run.peers = await joins.online_with(ADDRESS, WAIT_S)  # (presence.py)
            begun = time.perf_counter()
            run.wake_id = str((await alice.send(ADDRESS, WAKE)).id)
            await api.request(1, WAIT_S)
            run.wake_s = time.perf_counter() - begun
            args = {"to": f"alice ({PROJECT})", "message": ANSWER, "reply_to": run.wake_id}
            api.reply(ToolUse(SEND, args))
            await api.request(2, WAIT_S)
            api.reply(Text("answered"))
            assert await alice.wait(WAIT_S), f"no answer reached alice; {gm.tail()}"
            run.answers = [m.body for m in alice.unread()]
            run.held_again = await ready.ready(WAIT_S)
            run.requests = list(api.requests)
    return run


@pytest.fixture(scope="module", params=versions("gemini"))
def gemini(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    exe = binary("gemini", request.param)
    root = tmp_path_factory.mktemp("gemini")
    return asyncio.run(asyncio.wait_for(_session(root, exe), 120))


def test_a_headless_gemini_offers_ai_connects_tools(gemini: Run) -> None:
    """setup trusts the server: headless Gemini offers the tools (it hid untrusted ones)."""
    assert SEND in _tools(gemini.requests[0])
    assert "trusted folder" in gemini.setup and "advisor mode" in gemini.setup


def test_the_mcp_server_gets_its_token_on_an_auth_bridge(gemini: Run) -> None:
    """Gemini strips *TOKEN* variables from MCP servers unless named in "env": with the
    entry setup writes, the server registers as gm (proj) on a bridge that needs tokens."""
    assert ADDRESS in gemini.peers
    assert gemini.held == ADDRESS


def test_a_held_turn_is_continued_by_a_peer_message(gemini: Run) -> None:
    """The model sees the message once the hook lets go, framed as peer mail."""
    continued = conversation(gemini.requests[1])
    assert WAKE in continued and gemini.wake_id in continued
    assert "not from your user" in continued or "not your user" in continued
    assert gemini.wake_s < 20


def test_the_continued_gemini_answers_with_peer_send_unasked(gemini: Run) -> None:
    """The trusted server's peer_send runs without a confirmation; alice gets the answer;
    the turn is held again afterwards."""
    assert gemini.answers == [ANSWER]
    assert "functionResponse" in json.dumps(gemini.requests[2]["contents"][-1])
    assert gemini.held_again == ADDRESS


def test_each_message_reaches_the_model_once(gemini: Run) -> None:
    """WAKE occurs once in the last request's conversation."""
    assert conversation(gemini.requests[-1]).count(WAKE) == 1
