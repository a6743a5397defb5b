"""End to end with the real Claude Code: work status published by the hooks alone.

Two headless sessions (stream-json input kept open), each in its own clone of one
repository (``git@github.com:Org/App.git`` and ``https://github.com/org/app``: one
repository identity), each against its own scripted Messages API:

1. alpha's model writes ``src/feature.py`` with Claude Code's Write tool; its turn ends.
   Its PostToolUse hook hands that to its MCP server, its Stop hook says idle; the server
   publishes; an observer sees the status arrive (no sleep: the feed event is awaited);
2. beta's model calls ``peer_list``: the tool result shows alpha's repository, branch,
   activity and the file it edited. Neither model called anything to publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ai_connect.client import BridgeClient
from ai_connect.protocol import FeedEvent, WorkView
from tests.agents.apis import claude_calls
from tests.agents.clients import trust_claude_project, versions
from tests.agents.scripted import ScriptedModel
from tests.claude_e2e.fake_api import ScriptedApi, Text, ToolUse
from tests.claude_e2e.support import WAIT_S, ClaudeSession, claude_binary, claude_env, run_setup
from tests.support.bridge import bridge
from tests.support.checkout import git_checkout

ALPHA, BETA = "alpha (app)", "beta (app)"
FEATURE = "src/feature.py"


@dataclass
class Run:
    alpha_requests: list[dict[str, Any]] = field(default_factory=list)
    beta_requests: list[dict[str, Any]] = field(default_factory=list)
    published: WorkView | None = None
    """alpha's status as the observer saw it arrive (after its turn ended)."""
    listed: str = ""
    """The text of beta's peer_list tool result, as its model got it."""


async def _work_of(observer: BridgeClient, address: str, done: str) -> WorkView:
    """The first status of ``address`` whose activity is ``done`` (feed events, awaited)."""
    async for item in observer.observe():
        if isinstance(item, FeedEvent) and item.kind == "work" and item.peer is not None:
            work = item.peer.work
            if item.peer.address == address and work is not None and work.activity == done:
                return work
        elif not isinstance(item, FeedEvent):
            for peer in item.peers:
                if peer.address == address and peer.work and peer.work.activity == done:
                    return peer.work
    raise AssertionError("the observer's feed ended")


async def _joined(observer: BridgeClient, address: str) -> None:
    async for item in observer.observe():
        if isinstance(item, FeedEvent) and item.kind == "join" and item.peer is not None:
            if item.peer.address == address:
                return
        elif not isinstance(item, FeedEvent) and any(
            p.address == address and p.online for p in item.peers
        ):
            return


@contextlib.asynccontextmanager
async def _session(
    root: Path, binary: Path, name: str, remote: str, url: str, api: ScriptedModel
) -> AsyncIterator[ClaudeSession]:
    home = root / name / "home"
    home.mkdir(parents=True)
    project = git_checkout(root / name / "app", remote)
    env = claude_env(home, api.url, AI_CONNECT_BRIDGE=url, AI_CONNECT_PEER_NAME=name)
    env["AI_CONNECT_RUNTIME_DIR"] = str(root / "rt")
    await run_setup(project, env)
    trust_claude_project(home, project)
    async with ClaudeSession(binary, project, env, "--allowedTools", "Write") as session:
        yield session


def _tool_result_text(body: dict[str, Any]) -> str:
    """The text of the last tool result in a request's conversation."""
    found = ""
    for message in body["messages"]:
        content = message["content"]
        for item in content if isinstance(content, list) else []:
            if item.get("type") == "tool_result":
                inner = item.get("content")
                if isinstance(inner, list):
                    found = "\n".join(str(x.get("text", "")) for x in inner)
                else:
                    found = str(inner)
    return found


async def _scenario(root: Path, binary: Path) -> Run:
    run = Run()
    (root / "rt").mkdir(mode=0o700)
    async with (
        bridge() as br,
        ScriptedApi() as api_a,
        ScriptedApi() as api_b,
        BridgeClient(br.url, "ops", "app", mode="observe", request_timeout=5) as observer,
    ):
        remote_a, remote_b = "git@github.com:Org/App.git", "https://github.com/org/app"
        async with _session(root, binary, "alpha", remote_a, br.url, api_a) as alpha:
            await asyncio.wait_for(_joined(observer, ALPHA), WAIT_S)
            path = str(alpha.project / FEATURE)
            api_a.reply(ToolUse("Write", {"file_path": path, "content": "x = 1\n"}), Text("done"))
            await alpha.say("Add a feature module.")
            await alpha.turn_end()
            run.published = await asyncio.wait_for(_work_of(observer, ALPHA, "idle"), WAIT_S)
            async with _session(root, binary, "beta", remote_b, br.url, api_b) as beta:
                await asyncio.wait_for(_joined(observer, BETA), WAIT_S)
                await beta.say("Who works on what?")
                body = await api_b.request(0, WAIT_S)
                calls = claude_calls(body, "mcp__ai-connect__peer_list", {})
                for n, call in enumerate(calls, 1):
                    api_b.reply(call)
                    await api_b.request(n, WAIT_S)
                api_b.reply(Text("ok"))
                await beta.turn_end()
                run.beta_requests = list(api_b.requests)
                run.listed = _tool_result_text(run.beta_requests[len(calls)])
                await beta.end_input()
            run.alpha_requests = list(api_a.requests)
            await alpha.end_input()
    return run


@pytest.fixture(scope="module", params=versions("claude"))
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    binary = claude_binary(request.param)
    root = tmp_path_factory.mktemp("work")
    return asyncio.run(asyncio.wait_for(_scenario(root, binary), 120))


def test_an_edit_is_published_without_a_model_call(session: Run) -> None:
    """alpha's status names the file its Write tool wrote, repository-relative, on main of
    github.com/org/app; its model made two requests (the Write, the answer) and called no
    ai-connect tool."""
    work = session.published
    assert work is not None
    assert (work.repo, work.branch, work.files) == ("github.com/org/app", "main", [FEATURE])
    assert work.dirty >= 1 and work.head is not None
    assert len(session.alpha_requests) == 2
    assert "mcp__ai-connect__" not in json.dumps(
        [m for r in session.alpha_requests for m in r["messages"] if m["role"] == "assistant"]
    )


def test_a_peer_sees_it_in_peer_list(session: Run) -> None:
    """beta's peer_list result, as its model read it, shows alpha's repository, branch,
    activity and edited file: Claude Code 2.1.197 hands the model the tool's structured
    data (JSON) when there is some, newer ones may hand it the text line."""
    listed = session.listed
    if listed.lstrip().startswith("{"):
        peers = {p["address"]: p for p in json.loads(listed)["peers"]}
        work = peers[ALPHA]["work"]
        assert peers[ALPHA]["online"] is True
        assert (work["repo"], work["branch"], work["activity"]) == (
            "github.com/org/app",
            "main",
            "idle",
        )
        assert work["files"] == [FEATURE]
    else:
        (line,) = [x for x in listed.splitlines() if ALPHA in x]
        assert line.startswith(f"online   {ALPHA} · idle · github.com/org/app main@")
        assert f"edited {FEATURE}" in line
