"""End to end with the real Claude Code: a file leased by another agent, met at the edit.

Agent A (a client of the bridge, as its MCP server would be) claims ``src/app.py`` in
its clone of github.com/org/app (origin over ssh). Agent B is a real, headless Claude
Code session, after ``ai-connect setup claude-code --project``, in another clone of the
same repository (origin over https, another folder, another peer name). B's scripted
model reads the file and edits it three times:

1. warn (the default): the edit goes ahead, and the pre-edit hook's context tells B's
   model who holds the file, why and until when, beside the tool result;
2. deny (``leases.on_conflict: deny`` in B's config file): the edit is refused with
   that reason as the tool result, and the file is unchanged;
3. after A releases the lease: the edit goes ahead with no word about leases.

The tests check what the scripted model received in the request after each edit.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ai_connect.protocol import Presence
from ai_connect.repo_identity import repo_identity
from tests.agents.clients import versions
from tests.agents.scripted import ScriptedModel
from tests.claude_e2e.fake_api import ScriptedApi, Text, ToolUse
from tests.claude_e2e.support import ClaudeSession, claude_binary, claude_env, run_setup
from tests.client.support import make_client
from tests.leases.support import clones
from tests.support.bridge import bridge

REASON = "renaming the greeting (lease-e2e)"


@dataclass
class Run:
    repo_a: str = ""
    repo_b: str = ""
    after_warn: list[dict[str, Any]] = field(default_factory=list)
    after_deny: list[dict[str, Any]] = field(default_factory=list)
    after_release: list[dict[str, Any]] = field(default_factory=list)
    content_warn: str = ""
    content_deny: str = ""
    content_release: str = ""
    holder: str = ""


def _after_last_tool_result(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The last tool result and every block after it (hook context rides beside it: in
    the same user message, or a system message after it, by Claude Code version)."""
    blocks: list[dict[str, Any]] = []
    for message in body["messages"]:
        content = message["content"]
        items = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for item in items:
            if item.get("type") == "tool_result":
                blocks = []
            blocks.append(item)
    return blocks


async def _turn(cc: ClaudeSession, api: ScriptedModel, prompt: str, *uses: ToolUse) -> int:
    """One user turn whose model makes ``uses`` one after the other, then ends; returns
    the index of the request after the last tool use."""
    start = len(api.requests)
    for use in uses:
        api.reply(use)
    api.reply(Text("done"))
    await cc.say(prompt)
    await cc.turn_end()
    assert len(api.requests) == start + len(uses) + 1, cc.tail()
    return start + len(uses)


async def _session(root: Path, binary: Path) -> Run:
    run = Run()
    a_root, b_root = clones(root)
    home = root / "home"
    home.mkdir()
    runtime = root / "rt"
    runtime.mkdir(mode=0o700)
    target = b_root / "src" / "app.py"
    run.repo_a = repo_identity(a_root).key  # type: ignore[union-attr]
    run.repo_b = repo_identity(b_root).key  # type: ignore[union-attr]
    async with (
        bridge() as br,
        ScriptedApi() as api,
        make_client(br.url, "alice", project="app", kind="mcp", presence=True) as alice,
    ):
        joined = asyncio.Event()
        alice.add_listener(
            lambda item: (
                joined.set()
                if isinstance(item, Presence) and item.event == "join" and item.peer.name == "cc"
                else None
            )
        )
        env = claude_env(
            home, api.url, AI_CONNECT_BRIDGE=br.url, AI_CONNECT_PEER_NAME="cc",
            AI_CONNECT_RUNTIME_DIR=str(runtime),
        )  # fmt: skip
        config = Path(env["AI_CONNECT_CONFIG"])
        await run_setup(b_root, env)
        granted = await alice.claim(run.repo_a, ["src/app.py"], ttl=3600, reason=REASON)
        run.holder = granted.leases[0].holder
        args = ("--permission-mode", "acceptEdits")
        async with ClaudeSession(binary, b_root, env, *args) as cc:
            await cc.joined(joined)
            read = ToolUse("Read", {"file_path": str(target)})
            edit = ToolUse(
                "Edit", {"file_path": str(target), "old_string": "hello", "new_string": "bye"}
            )
            i = await _turn(cc, api, "rename the greeting", read, edit)
            run.after_warn = _after_last_tool_result(api.requests[i])
            run.content_warn = target.read_text(encoding="utf-8")

            await asyncio.to_thread(config.write_text, "leases:\n  on_conflict: deny\n")
            again = ToolUse(
                "Edit", {"file_path": str(target), "old_string": "bye", "new_string": "ciao"}
            )
            i = await _turn(cc, api, "once more", read, again)
            run.after_deny = _after_last_tool_result(api.requests[i])
            run.content_deny = target.read_text(encoding="utf-8")

            await alice.release(run.repo_a)
            i = await _turn(cc, api, "and now", read, again)
            run.after_release = _after_last_tool_result(api.requests[i])
            run.content_release = target.read_text(encoding="utf-8")
            await cc.end_input()
    return run


@pytest.fixture(scope="module", params=versions("claude"))
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    binary = claude_binary(request.param)
    root = tmp_path_factory.mktemp("claude-leases")
    return asyncio.run(asyncio.wait_for(_session(root, binary), 120))


def _text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_two_clones_are_one_repository(session: Run) -> None:
    """ssh and https spellings of the remote give one repository key."""
    assert session.repo_a == session.repo_b == "github.com/org/app"


def test_warn_tells_the_model_who_why_and_until_when(session: Run) -> None:
    """Warn mode: the edit is made, and B's next request carries the holder, the reason
    and the expiry as the pre-edit hook's context beside the tool result."""
    assert session.content_warn == "print('bye')\n"
    blocks = session.after_warn
    assert blocks[0]["type"] == "tool_result" and not blocks[0].get("is_error")
    said = _text(blocks)
    assert session.holder in said and REASON in said and "until" in said
    assert "src/app.py" in said and "another agent has leased" in said


def test_deny_refuses_the_edit_with_the_reason(session: Run) -> None:
    """Deny mode: the tool result is the refusal naming holder and reason; no change."""
    assert session.content_deny == "print('bye')\n"
    result = session.after_deny[0]
    assert result["type"] == "tool_result" and result.get("is_error") is True
    said = _text([result])
    assert session.holder in said and REASON in said and "blocked" in said


def test_after_release_the_edit_goes_through_without_a_word(session: Run) -> None:
    """Released: the edit is made and nothing about leases reaches the model."""
    assert session.content_release == "print('ciao')\n"
    said = _text(session.after_release)
    assert session.holder not in said and "leased" not in said and "ai-connect" not in said
