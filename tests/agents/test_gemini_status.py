"""Work status with the real Gemini CLI (issue 15 item 1): an edit by its ``write_file``
tool reaches the bridge through the AfterTool hook, the turn end says idle; its model
calls nothing to publish.

One ``gemini -p`` run per Gemini version against a scripted ``streamGenerateContent``
(tests/agents/apis.py), in a git checkout where ``ai-connect setup gemini --project``
ran (a trusted folder, ``--yolo`` so that ``write_file`` runs headless). An observer
awaits the published status on the bridge's feed (no sleep).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ai_connect.client import BridgeClient
from ai_connect.protocol import FeedEvent, WorkView
from tests.agents.apis import GeminiApi
from tests.agents.clients import WAIT_S, binary, gemini_env, run_setup, versions
from tests.agents.scripted import Text, ToolUse
from tests.agents.sessions import GeminiRun
from tests.support.bridge import bridge
from tests.support.checkout import git_checkout

ADDRESS = "gm (app)"
FEATURE = "src/feature.py"


async def _idle_work(observer: BridgeClient) -> WorkView:
    async for item in observer.observe():
        peers = [item.peer] if isinstance(item, FeedEvent) and item.peer else []
        if not isinstance(item, FeedEvent):
            peers = list(item.peers)
        for peer in peers:
            work = peer.work
            if peer.address == ADDRESS and work and work.activity == "idle" and work.files:
                return work
    raise AssertionError("the observer's feed ended")


async def _session(root: Path, exe: Path) -> tuple[WorkView, list[dict[str, Any]]]:
    home = root / "home"
    project = git_checkout(root / "app", "https://github.com/Org/App.git")
    async with (
        bridge() as br,
        GeminiApi() as api,
        BridgeClient(br.url, "ops", "app", mode="observe", request_timeout=5) as observer,
    ):
        env = gemini_env(home, api.url, project, AI_CONNECT_BRIDGE=br.url,
                         AI_CONNECT_PEER_NAME="gm")  # fmt: skip
        await run_setup("gemini", project, env)
        run = GeminiRun(exe, project, env, "Add a feature module.")
        run.argv.append("--yolo")
        async with run:
            await api.request(0, WAIT_S)
            path = str(project / FEATURE)
            api.reply(ToolUse("write_file", {"file_path": path, "content": "x = 1\n"}))
            await api.request(1, WAIT_S)
            api.reply(Text("done"))
            work = await asyncio.wait_for(_idle_work(observer), WAIT_S)
            await run.finish()
        return work, list(api.requests)


@pytest.fixture(scope="module", params=versions("gemini"))
def gemini(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    exe = binary("gemini", request.param)
    root = tmp_path_factory.mktemp("gemini-status")
    return asyncio.run(asyncio.wait_for(_session(root, exe), 120))


def test_a_write_file_edit_is_published_by_the_hooks(gemini: Any) -> None:
    """The status names the file write_file wrote, repository-relative, on main of
    github.com/org/app, idle after the turn; the model made its two scripted requests
    and called no ai-connect tool."""
    work, requests = gemini
    assert (work.repo, work.branch, work.files) == ("github.com/org/app", "main", [FEATURE])
    assert work.dirty >= 1
    assert len(requests) == 2
    calls = json.dumps([r["contents"] for r in requests])
    assert "mcp_ai-connect_" not in calls
