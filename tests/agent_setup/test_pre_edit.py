"""``ai-connect setup`` installs the pre-edit hook (issue 15) and uninstall removes it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ai_connect.agent_setup.clients import pre_edit_command
from ai_connect.agent_setup.edits import is_our_command
from ai_connect.cli import main
from ai_connect.leases import front


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return root


def _groups(path: Path, event: str) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = json.loads(path.read_text())["hooks"].get(event, [])
    return groups


@pytest.mark.parametrize(
    ("client", "file", "event", "matcher", "flag"),
    [
        ("claude-code", ".claude/settings.json", "PreToolUse",
         "Edit|Write|MultiEdit|NotebookEdit", "claude"),
        ("codex", ".codex/hooks.json", "PreToolUse", "apply_patch|Bash", "codex"),
        ("gemini", ".gemini/settings.json", "BeforeTool", "write_file|replace", "gemini"),
    ],
)  # fmt: skip
def test_setup_installs_the_pre_edit_hook_and_uninstall_removes_it(
    project: Path, client: str, file: str, event: str, matcher: str, flag: str
) -> None:
    """One group on the client's edit tools runs the hook; uninstall takes it away."""
    assert main(["setup", client, "--project", "--command", "/opt/ai/bin/ai-connect"]) == 0
    (group,) = _groups(project / file, event)
    assert group["matcher"] == matcher
    (hook,) = group["hooks"]
    assert hook["command"] == f"/opt/ai/bin/ai-connect hook pre-edit --client {flag}"
    assert main(["setup", client, "--project", "--uninstall", "--command", "x"]) == 0
    path = project / file
    assert not path.exists() or _groups(path, event) == []


def test_this_installation_runs_the_front_file_directly(tmp_path: Path) -> None:
    """The ai-connect script of this Python: the hook is python -I -S .../front.py,
    recognised as ours; another program keeps PROGRAM hook pre-edit."""
    script = tmp_path / "ai-connect"
    script.write_text(f"#!{sys.executable}\nimport sys\n")
    command = pre_edit_command([str(script)], lambda p: p.read_text())
    assert command == [sys.executable, "-I", "-S", str(Path(front.__file__).resolve())]
    assert is_our_command(" ".join([*command, "--client", "claude"]))
    other = pre_edit_command(["/usr/local/bin/uvx", "ai-connect"], lambda p: None)
    assert other == ["/usr/local/bin/uvx", "ai-connect", "hook", "pre-edit"]
    assert pre_edit_command([sys.executable, "-m", "ai_connect"], lambda p: None)[1:3] == [
        "-I",
        "-S",
    ]


def test_setup_says_what_the_pre_edit_hook_does(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The person running setup learns about leases and the deny switch."""
    assert main(["setup", "claude-code", "--project", "--command", "/opt/ai/bin/ai-connect"]) == 0
    out = capsys.readouterr().out
    assert "File leases" in out and "on_conflict: deny" in out
