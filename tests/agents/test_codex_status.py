"""Work status with the real Codex CLI (interactive, on a pty): its hooks publish the
session's repository, branch and dirty count, working then idle, with no model call.

Codex 0.171 runs PostToolUse for shell commands (``tool_name`` ``Bash``) but not for a
patch applied with ``apply_patch`` (checked here: the file is written, no PostToolUse
comes), so a Codex session's status names no edited files; docs/hooks.md says so. This
test pins that down: if a newer Codex starts reporting patches, ``files`` fills in and
the assertion on it must change with the docs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ai_connect.client import BridgeClient
from ai_connect.protocol import FeedEvent, WorkView
from tests.agents.apis import ResponsesApi
from tests.agents.clients import WAIT_S, binary, codex_env, run_setup, versions
from tests.agents.scripted import Text, ToolUse
from tests.agents.sessions import CodexTui
from tests.support.bridge import bridge
from tests.support.checkout import git_checkout

ADDRESS = "cx (app)"
PATCH = "*** Begin Patch\n*** Add File: src/feature.py\n+x = 1\n*** End Patch\n"


async def _work(observer: BridgeClient, activity: str, seen: list[str]) -> WorkView:
    """The first status of ADDRESS with ``activity``; ``seen``: every item on the way."""
    async for item in observer.observe():
        peers = [item.peer] if isinstance(item, FeedEvent) and item.peer else []
        if not isinstance(item, FeedEvent):
            peers = list(item.peers)
        seen.append(f"{type(item).__name__}: " + ", ".join(
            f"{p.address} {p.work.activity if p.work else '-'}" for p in peers
        ))  # fmt: skip
        for peer in peers:
            if peer.address == ADDRESS and peer.work and peer.work.activity == activity:
                return peer.work
    raise AssertionError("the observer's feed ended")


async def _awaited(observer: BridgeClient, activity: str, home: Path, runtime: Path) -> WorkView:
    """``_work`` within WAIT_S; if not, what the feed showed and what the logs say."""
    seen: list[str] = []
    try:
        return await asyncio.wait_for(_work(observer, activity, seen), WAIT_S)
    except TimeoutError:
        raise AssertionError(
            f"{ADDRESS} never showed {activity!r} within {WAIT_S} s; the feed:\n"
            + "\n".join(seen[-30:])
            + "\n"
            + _told(home, runtime)
        ) from None


def _told(home: Path, runtime: Path) -> str:
    """The session's runtime files and the tail of each ai-connect log under ``home``."""
    logs = [p for p in (home / ".local" / "state").rglob("*.log") if p.is_file()]
    told = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)
    files = sorted(str(p.relative_to(runtime)) for p in runtime.rglob("*"))
    return f"runtime dir: {files}\n{told}"


async def _session(root: Path, exe: Path) -> dict[str, Any]:
    project = git_checkout(root / "app", "git@github.com:Org/App.git")
    runtime = root / "rt"
    runtime.mkdir(mode=0o700)
    async with (
        bridge() as br,
        ResponsesApi() as api,
        BridgeClient(br.url, "ops", "app", mode="observe", request_timeout=5) as observer,
    ):
        env = codex_env(root / "home", api.url, project, AI_CONNECT_BRIDGE=br.url,
                        AI_CONNECT_PEER_NAME="cx", AI_CONNECT_RUNTIME_DIR=str(runtime))  # fmt: skip
        await run_setup("codex", project, env)
        async with CodexTui(exe, project, env) as cx:
            await cx.say("add a feature")
            await api.request(0, WAIT_S)
            working = await _awaited(observer, "working", root / "home", runtime)
            api.reply(ToolUse("exec_command", {"cmd": f"apply_patch <<'EOF'\n{PATCH}EOF\n"}))
            await api.request(1, WAIT_S)
            api.reply(Text("done"))
            idle = await _awaited(observer, "idle", root / "home", runtime)
        return {
            "working": working,
            "idle": idle,
            "written": (project / "src" / "feature.py").exists(),
            "requests": len(api.requests),
        }


@pytest.fixture(scope="module", params=versions("codex"))
def codex(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    exe = binary("codex", request.param)
    root = tmp_path_factory.mktemp("codex-status")
    return asyncio.run(asyncio.wait_for(_session(root, exe), 150))


def test_codex_hooks_publish_working_then_idle_with_the_checkout(codex: Any) -> None:
    """UserPromptSubmit: working; Stop: idle, with the repository identity (ssh remote
    normalised), branch, HEAD and the dirty count the patch made; two model requests."""
    working, idle = codex["working"], codex["idle"]
    assert codex["written"] and codex["requests"] == 2
    assert (working.repo, working.branch) == ("github.com/org/app", "main")
    assert (idle.repo, idle.branch, idle.head) == ("github.com/org/app", "main", working.head)
    assert idle.dirty == working.dirty + 1  # src/feature.py, written by apply_patch


def test_codex_reports_no_patch_to_its_hooks(codex: Any) -> None:
    """Codex 0.171 runs no PostToolUse for apply_patch: no edited file can be named."""
    assert codex["idle"].files == []
