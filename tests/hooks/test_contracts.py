"""Pure hook contracts: each client's documented stdin JSON in, its output shape out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_connect.errors import ConfigError
from ai_connect.hooks.contracts import (
    HookInput,
    Role,
    context_output,
    empty_output,
    parse_input,
    role_of,
    turn_end_output,
)

from .support import claude_input, codex_input, cursor_input, gemini_input


def test_claude_stop_input_is_parsed() -> None:
    """Claude Code Stop: session_id, cwd, hook_event_name and stop_hook_active are read."""
    data = claude_input("Stop", Path("/work/p"), stop_hook_active=True)
    hook = parse_input("claude", json.dumps(data))
    assert (hook.event, hook.session, hook.cwd) == ("Stop", data["session_id"], Path("/work/p"))
    assert hook.stop_hook_active is True
    assert hook.raw["transcript_path"] == "/tmp/transcript.jsonl"


def test_codex_and_gemini_inputs_are_parsed() -> None:
    """Codex Stop and Gemini AfterAgent carry session_id, cwd and stop_hook_active."""
    codex = parse_input("codex", json.dumps(codex_input("Stop", Path("/c"))))
    gemini = parse_input("gemini", json.dumps(gemini_input("AfterAgent", Path("/g"))))
    assert (codex.session, codex.cwd, codex.stop_hook_active) == ("019a-codex", Path("/c"), False)
    assert (gemini.event, gemini.session, gemini.cwd) == ("AfterAgent", "gemini-1", Path("/g"))


def test_cursor_input_uses_conversation_id_and_workspace_root() -> None:
    """Cursor has no cwd or session_id: workspace_roots[0] and conversation_id stand in."""
    hook = parse_input("cursor", json.dumps(cursor_input("stop", Path("/w"), loop_count=2)))
    assert (hook.session, hook.cwd, hook.loop_count) == ("conv-123", Path("/w"), 2)


def test_empty_stdin_is_an_empty_input() -> None:
    """A client that sends nothing gets the default (nothing to do), not a crash."""
    hook = parse_input("claude", "")
    assert (hook.event, hook.session, hook.cwd) == ("", "", None)
    assert role_of(hook) is Role.IGNORE


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"x"'])
def test_bad_stdin_is_a_config_error(text: str) -> None:
    """Stdin that is not a JSON object is refused with a message naming the hook."""
    with pytest.raises(ConfigError, match="claude hook input"):
        parse_input("claude", text)


def test_unknown_client_is_refused() -> None:
    """Only the four known clients have contracts."""
    with pytest.raises(ConfigError, match="unknown hook client"):
        parse_input("emacs", "{}")


@pytest.mark.parametrize(
    ("client", "event", "role"),
    [
        ("claude", "SessionStart", Role.INJECT),
        ("claude", "UserPromptSubmit", Role.INJECT),
        ("claude", "PostToolUse", Role.INJECT),
        ("claude", "PostToolBatch", Role.INJECT),
        ("claude", "Stop", Role.TURN_END),
        ("claude", "SessionEnd", Role.IGNORE),
        ("codex", "PostToolUse", Role.INJECT),
        ("codex", "Stop", Role.TURN_END),
        ("gemini", "AfterTool", Role.INJECT),
        ("gemini", "BeforeAgent", Role.INJECT),
        ("gemini", "AfterAgent", Role.TURN_END),
        ("cursor", "stop", Role.TURN_END),
        ("cursor", "afterFileEdit", Role.IGNORE),
    ],
)
def test_each_event_has_its_role(client: str, event: str, role: Role) -> None:
    """Mid-turn events inject, turn-end events continue, others are ignored."""
    assert role_of(HookInput(client, event, "s", None)) is role


def test_outputs_have_each_clients_shape() -> None:
    """hookSpecificOutput for context; block / deny / followup_message at turn end."""
    claude = HookInput("claude", "PostToolBatch", "s", None)
    assert context_output(claude, "t") == {
        "hookSpecificOutput": {"hookEventName": "PostToolBatch", "additionalContext": "t"}
    }
    assert turn_end_output(HookInput("codex", "Stop", "s", None), "t") == {
        "decision": "block",
        "reason": "t",
    }
    assert turn_end_output(HookInput("gemini", "AfterAgent", "s", None), "t") == {
        "decision": "deny",
        "reason": "t",
    }
    cursor = HookInput("cursor", "stop", "s", None)
    assert turn_end_output(cursor, "t") == {"followup_message": "t"}
    assert (empty_output(cursor), empty_output(claude)) == ("{}", "")
