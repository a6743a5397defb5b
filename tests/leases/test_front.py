"""The pre-edit hook: its front (standard library) and the MCP server's lease link."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from ai_connect.hooks import agent_link
from ai_connect.leases import front
from ai_connect.leases.link import LeaseLink, serving
from tests.client.support import make_client, run
from tests.leases.support import clones
from tests.support.inprocess import bridge, unserved_url


def test_edited_paths_of_each_client() -> None:
    """Claude's file_path, a notebook's path, Gemini's file_path, Codex's patch headers."""
    claude = {"tool_name": "Edit", "tool_input": {"file_path": "/r/src/app.py", "old_string": ""}}
    assert front.edited_paths("claude", claude) == ["/r/src/app.py"]
    notebook = {"tool_input": {"notebook_path": "/r/n.ipynb"}}
    assert front.edited_paths("claude", notebook) == ["/r/n.ipynb"]
    patch = (
        "*** Begin Patch\n*** Update File: src/app.py\n@@\n-a\n+b\n"
        "*** Add File: src/new.py\n+x\n*** End Patch\n"
    )
    codex = {"tool_name": "apply_patch", "tool_input": {"command": ["apply_patch", patch]}}
    assert front.edited_paths("codex", codex) == ["src/app.py", "src/new.py"]
    assert front.edited_paths("codex", {"tool_input": patch}) == ["src/app.py", "src/new.py"]
    assert front.edited_paths("gemini", {"tool_input": {"content": "x"}}) == []


@pytest.mark.parametrize(
    "env", [{}, {"AI_CONNECT_RUNTIME_DIR": "/somewhere/rt"}, {"AI_CONNECT_RUNTIME_DIR": "~/rt"}]
)
def test_the_front_finds_the_runtime_folder_as_agent_link_does(env: dict[str, str]) -> None:
    """The front repeats agent_link's rule without its imports: same folder either way."""
    found = front.runtime_dir(env)
    if found is not None:  # None: not Linux, where the front asks agent_link itself
        assert found == str(agent_link.runtime_dir(env))


@pytest.mark.parametrize(
    "value",
    [
        {"paths": ["/r/a b.py", "/r/é\u2028.py"], "cwd": "/r"},
        {"decision": "warn", "text": 'held "x"\n\tuntil 14:05', "n": 3, "f": 1.5},
        {"hookSpecificOutput": {"additionalContext": "x"}, "ok": True, "none": None},
        ["a", 1, [2, {}]],
    ],
)
def test_the_fronts_json_agrees_with_the_json_package(value: Any) -> None:
    """The front's start-up JSON (no json package) reads and writes what json does."""
    text = front.dumps(value)
    assert json.loads(text) == value
    assert front.loads(json.dumps(value, ensure_ascii=False)) == value
    assert front.loads("  " + text + "\n") == value
    for bad in ("", "{", '{"a": 1} x', "nope"):
        with pytest.raises(ValueError):
            front.loads(bad)


def test_outputs_follow_each_contract() -> None:
    """deny: permissionDecision (Claude, Codex) or decision (Gemini); warn: context."""
    deny = json.loads(front.output("claude", "PreToolUse", "deny", "held"))
    assert deny["hookSpecificOutput"] == {
        "hookEventName": "PreToolUse",
        "permissionDecision": "deny",
        "permissionDecisionReason": "held",
    }
    warn = json.loads(front.output("codex", "PreToolUse", "warn", "held"))
    assert warn["hookSpecificOutput"]["additionalContext"] == "held"
    assert json.loads(front.output("gemini", "BeforeTool", "deny", "held")) == {
        "decision": "deny",
        "reason": "held",
    }
    assert front.output("claude", "PreToolUse", "allow", "") == ""


def _hook(path: Path, cwd: Path) -> str:
    return json.dumps(
        {
            "hook_event_name": "PreToolUse",
            "session_id": "s1",
            "cwd": str(cwd),
            "tool_name": "Edit",
            "tool_input": {"file_path": str(path), "old_string": "a", "new_string": "b"},
        }
    )


def _run_front(stdin: str, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> Any:
    code = front.main(["--client", "claude"], io.StringIO(stdin), env)
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out) if out.strip() else None


def test_warn_then_deny_then_release_through_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """B's hook, in another clone, is told A holds the file (warn), then denied (deny);
    after A releases it is silent; A's own hook renews A's lease."""
    a_root, b_root = clones(tmp_path)
    runtime = tmp_path / "rt"
    env = {"AI_CONNECT_RUNTIME_DIR": str(runtime), "AI_CONNECT_CONFIG": str(tmp_path / "c.yaml")}
    b_file = b_root / "src" / "app.py"

    async def scenario() -> None:
        async with (
            bridge() as br,
            make_client(br.url, "alice", kind="mcp") as alice,
            make_client(br.url, "bob", kind="mcp") as bob,
            # This test process is the hook; its parent plays the agent.
            serving(bob, env=env, agent=os.getppid()) as path,
        ):
            assert path is not None
            granted = await alice.claim("github.com/org/app", ["src/app.py"], reason="rename")
            first = granted.leases[0]
            said = await asyncio.to_thread(_run_front, _hook(b_file, b_root), env, capsys)
            context = said["hookSpecificOutput"]["additionalContext"]
            assert "alice" in context and "rename" in context and "src/app.py" in context
            (tmp_path / "c.yaml").write_text("leases:\n  on_conflict: deny\n", encoding="utf-8")
            said = await asyncio.to_thread(_run_front, _hook(b_file, b_root), env, capsys)
            assert said["hookSpecificOutput"]["permissionDecision"] == "deny"
            assert "alice" in said["hookSpecificOutput"]["permissionDecisionReason"]
            # Alice's own check renews her lease (a minute or more gained counts).
            link = LeaseLink(alice, now=lambda: first.created)
            mine = await link.answer({"paths": [str(a_root / "src" / "app.py")]})
            assert mine == {"decision": "allow", "text": ""}
            await alice.release("github.com/org/app")
            said = await asyncio.to_thread(_run_front, _hook(b_file, b_root), env, capsys)
            assert said is None

    run(scenario())


def test_a_bridge_that_is_down_never_blocks_and_is_said_once(tmp_path: Path) -> None:
    """With the bridge unreachable the link allows every edit; it says so the first time."""
    a_root, _ = clones(tmp_path)

    async def scenario() -> None:
        client = make_client(unserved_url(), "alice", reconnect=False)
        link = LeaseLink(client)
        target = str(a_root / "src" / "app.py")
        first = await link.answer({"paths": [target]})
        assert first["decision"] == "allow" and "not checked" in first["text"]
        assert await link.answer({"paths": [target]}) == {"decision": "allow", "text": ""}

    run(scenario())


def test_a_file_name_that_is_not_utf8_is_allowed_not_a_traceback(tmp_path: Path) -> None:
    """An edit of a file whose name holds bytes that are not UTF-8 (JSON's "\udcff"):
    no lease can name it, so the link allows it; it raised a ValidationError, and the
    pre-edit hook printed a traceback on every such edit."""
    a_root, _ = clones(tmp_path)

    async def scenario() -> None:
        async with bridge() as br, make_client(br.url, "alice", kind="mcp") as alice:
            await alice.claim("github.com/org/app", ["src/**"], reason="all of src")
            async with make_client(br.url, "bob", kind="mcp") as bob:
                odd = str(a_root / "src" / "caf\udce9.py")
                answer = await LeaseLink(bob).answer({"paths": [odd]})
                assert answer == {"decision": "allow", "text": ""}
                said = await LeaseLink(bob).answer({"paths": [odd, str(a_root / "src/a.py")]})
                assert said["decision"] == "warn" and "alice" in said["text"]

    run(scenario())


def test_edits_outside_any_repository_are_not_asked_about(tmp_path: Path) -> None:
    """A file in no git work tree has no lease: the link answers at once, silently."""

    async def scenario() -> None:
        client = make_client(unserved_url(), "alice", reconnect=False)
        answer = await LeaseLink(client).answer({"paths": [str(tmp_path / "x.py")]})
        assert answer == {"decision": "allow", "text": ""}

    run(scenario())


def test_the_front_without_a_link_takes_the_bounded_slow_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No MCP server listens: the hook asks the bridge itself; a dead bridge is allowed."""
    a_root, _ = clones(tmp_path)
    env = {"AI_CONNECT_RUNTIME_DIR": str(tmp_path / "rt")}
    monkeypatch.setenv("AI_CONNECT_RUNTIME_DIR", str(tmp_path / "rt"))
    monkeypatch.setenv("AI_CONNECT_BRIDGE", "ws://127.0.0.1:1")
    monkeypatch.setenv("AI_CONNECT_CONFIG", str(tmp_path / "none.yaml"))
    said = _run_front(_hook(a_root / "src" / "app.py", a_root), env, capsys)
    assert "not checked" in said["hookSpecificOutput"]["additionalContext"]
    assert _run_front(_hook(a_root / "src" / "app.py", a_root), env, capsys) is None
    assert sys.platform != "win32"


def test_the_front_refuses_unknown_arguments(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only --client and --token-file; anything else says what it takes (exit 1)."""
    monkeypatch.setenv("AI_CONNECT_TOKEN_FILE", "")  # restored after: the front sets it
    assert front.main(["--verbose"], io.StringIO("{}"), {}) == 1
    assert "--client" in capsys.readouterr().err
    assert front.main(["--client", "vim"], io.StringIO("{}"), {}) == 1
    assert front.main(["--client=codex", "--token-file", "/dev/null"], io.StringIO("{}"), {}) == 0
