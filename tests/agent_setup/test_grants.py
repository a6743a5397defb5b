"""``ai-connect setup`` grants ai-connect's own tools (and only those) in each client."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ai_connect.agent_setup.grants import ALL, SENDING
from ai_connect.mcp.server import ALL_TOOLS
from tests.agent_setup.test_setup import PROGRAM, load, project, setup

__all__ = ["project"]

RULES = [f"mcp__ai-connect__{t}" for t in ALL]


def test_every_tool_is_either_reading_or_sending() -> None:
    """The grant classes cover exactly the tools the MCP server offers."""
    assert sorted(ALL) == sorted(t.name for t in ALL_TOOLS)
    assert len(set(ALL)) == len(ALL)


def test_claude_allows_exactly_our_tools_and_uninstall_removes_exactly_them(
    project: Path,
) -> None:
    """permissions.allow gets one rule per ai-connect tool beside the user's own rules;
    uninstall takes exactly those out again."""
    claude = project / ".claude"
    claude.mkdir()
    (claude / "settings.json").write_text('{"permissions": {"allow": ["Bash(ls)"]}}\n')
    code, out = setup("claude-code")
    assert code == 0 and "run without asking" in out
    allow = load(claude / "settings.json")["permissions"]["allow"]
    assert allow == ["Bash(ls)", *RULES]
    assert all(r.startswith("mcp__ai-connect__") for r in allow[1:])
    setup("claude-code", "--uninstall")
    assert load(claude / "settings.json")["permissions"]["allow"] == ["Bash(ls)"]


def test_ask_before_send_leaves_the_sending_tools_to_the_client(project: Path) -> None:
    """--ask-before-send grants reading and waiting only, also over an earlier full grant."""
    setup("claude-code")
    code, out = setup("claude-code", "--ask-before-send")
    assert code == 0 and "asks you before peer_send" in out
    allow = load(project / ".claude" / "settings.json")["permissions"]["allow"]
    assert "mcp__ai-connect__peer_read" in allow and "mcp__ai-connect__peer_wait" in allow
    assert not {f"mcp__ai-connect__{t}" for t in SENDING} & set(allow)


def test_codex_approves_our_tools_and_passes_our_environment(project: Path) -> None:
    """The Codex server block approves ai-connect's tools and names the AI_CONNECT_*
    variables Codex would strip; --ask-before-send asks per sending tool."""
    setup("codex", "--ask-before-send")
    server = tomllib.loads((project / ".codex" / "config.toml").read_text())["mcp_servers"][
        "ai-connect"
    ]
    assert server["default_tools_approval_mode"] == "approve"
    assert {"AI_CONNECT_BRIDGE", "AI_CONNECT_TOKEN", "AI_CONNECT_RUNTIME_DIR"} <= set(
        server["env_vars"]
    )
    assert server["tools"] == {t: {"approval_mode": "prompt"} for t in SENDING}
    setup("codex", "--uninstall")
    assert not (project / ".codex" / "config.toml").exists()


def test_gemini_trusts_the_server_unless_asked_and_advisor_holds_the_turn(
    project: Path,
) -> None:
    """Gemini: trust on the server entry (off with --ask-before-send); --advisor makes
    the AfterAgent hook wait for mail, with a hook timeout above that wait."""
    path = project / ".gemini" / "settings.json"
    code, out = setup("gemini", "--advisor")
    assert code == 0 and "advisor mode" in out and "trusted folder" in out
    data = load(path)
    assert data["mcpServers"]["ai-connect"]["trust"] is True
    (hook,) = data["hooks"]["AfterAgent"][0]["hooks"]
    assert hook["command"] == f"{PROGRAM} hook gemini --wait 3600"
    assert hook["timeout"] > 3600 * 1000
    setup("gemini", "--ask-before-send")
    data = load(path)
    assert data["mcpServers"]["ai-connect"]["trust"] is False
    (hook,) = data["hooks"]["AfterAgent"][0]["hooks"]
    assert hook["command"] == f"{PROGRAM} hook gemini"


@pytest.mark.parametrize("client", ["claude-code", "codex", "cursor", "vscode"])
def test_advisor_is_refused_where_the_client_wakes_by_itself(project: Path, client: str) -> None:
    """--advisor is a Gemini CLI option; elsewhere it is a usage error."""
    assert setup(client, "--advisor")[0] == 2
