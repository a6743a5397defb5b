"""``ai-connect setup``: merge into each client's files, idempotent, exact uninstall."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ai_connect.agent_setup.apply import backup_folder, backups_of
from ai_connect.agent_setup.clients import CLIENT_ENV, advisor_skill
from ai_connect.cli import main

PROGRAM = "/opt/ai/bin/ai-connect"
HOOK = f"{PROGRAM} hook claude"
WAIT = f"{PROGRAM} hook wait --timeout 86400"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git project as cwd, and a throwaway HOME."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return root


def setup(*args: str) -> tuple[int, str]:
    """Runs ``ai-connect setup ARGS --command PROGRAM``; returns (exit code, stdout)."""
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(["setup", *args, "--command", PROGRAM])
    return code, buffer.getvalue()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (but .git), by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def commands(settings: dict[str, Any], event: str) -> list[str]:
    return [h["command"] for g in settings["hooks"][event] for h in g["hooks"]]


# --- Claude Code ------------------------------------------------------------------------


def test_claude_project_on_an_empty_project(project: Path) -> None:
    """Creates .mcp.json, the hooks in .claude/settings.json and the advisor skill."""
    code, out = setup("claude-code", "--project")
    assert code == 0
    assert load(project / ".mcp.json") == {
        "mcpServers": {"ai-connect": {"type": "stdio", "command": PROGRAM, "args": ["mcp"]}}
    }
    settings = load(project / ".claude" / "settings.json")
    for event in ("SessionStart", "UserPromptSubmit", "PostToolUse", "SessionEnd"):
        assert commands(settings, event) == [HOOK]
    (waiter,) = settings["hooks"]["Stop"][0]["hooks"]
    assert waiter == {
        "type": "command",
        "command": WAIT,
        "timeout": 86400,
        "async": True,
        "asyncRewake": True,
    }
    skill = project / ".claude" / "skills" / "advisor" / "SKILL.md"
    assert skill.read_text() == advisor_skill()
    assert out.count("created") == 3


def test_second_run_changes_nothing_and_says_so(project: Path) -> None:
    """Idempotent: same bytes, no backups, and a line that says nothing changed."""
    setup("claude-code")
    before = snapshot(project)
    code, out = setup("claude-code")
    assert code == 0 and snapshot(project) == before
    assert "Nothing changed: ai-connect is already set up for claude-code." in out


def test_claude_merge_keeps_every_key_and_uninstall_restores_bytes(project: Path) -> None:
    """A pre-filled settings file keeps its keys and hooks; uninstall gives back its bytes."""
    claude = project / ".claude"
    claude.mkdir()
    mine = {
        "permissions": {"allow": ["Bash(npm test)"]},
        "env": {"FOO": "1"},
        "hooks": {
            "PostToolUse": [
                {"matcher": "Edit", "hooks": [{"type": "command", "command": "npm run fmt"}]}
            ],
            "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
        },
    }
    original = json.dumps(mine, indent=4) + "\n"
    (claude / "settings.json").write_text(original)
    servers = '{"mcpServers": {"db": {"command": "db-mcp"}}}\n'
    (project / ".mcp.json").write_text(servers)
    setup("claude-code")
    settings = load(claude / "settings.json")
    assert settings["permissions"]["allow"][0] == "Bash(npm test)"
    assert settings["env"] == {"FOO": "1"}
    assert commands(settings, "PostToolUse") == ["npm run fmt", HOOK]
    assert commands(settings, "Stop") == ["notify-send done", WAIT]
    assert set(load(project / ".mcp.json")["mcpServers"]) == {"db", "ai-connect"}
    backups = backups_of(claude / "settings.json", backup_folder())
    assert [b.read_text() for b in backups] == [original]
    assert not [p for p in project.rglob("*") if ".bak-" in p.name]
    code, out = setup("claude-code", "--uninstall")
    assert code == 0 and "restored" in out
    assert (claude / "settings.json").read_text() == original
    assert (project / ".mcp.json").read_text() == servers
    assert not (claude / "skills" / "advisor" / "SKILL.md").exists()


def test_uninstall_after_user_edits_keeps_the_edits(project: Path) -> None:
    """Changes made after setup survive the uninstall; only our entries go."""
    setup("claude-code")
    path = project / ".claude" / "settings.json"
    settings = load(path)
    settings["model"] = "opus"
    path.write_text(json.dumps(settings))
    setup("claude-code", "--uninstall")
    assert load(path) == {"model": "opus"}


def test_claude_user_scope_uses_home_files(project: Path, tmp_path: Path) -> None:
    """--user: ~/.claude/settings.json, ~/.claude.json (other keys kept), ~/.claude/skills."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").write_text('{"numStartups": 3, "projects": {}}')
    setup("claude-code", "--user")
    state = load(home / ".claude.json")
    assert state["numStartups"] == 3 and "ai-connect" in state["mcpServers"]
    assert commands(load(home / ".claude" / "settings.json"), "SessionStart") == [HOOK]
    assert (home / ".claude" / "skills" / "advisor" / "SKILL.md").exists()
    assert not (project / ".claude").exists()
    setup("claude-code", "--user", "--uninstall")
    assert load(home / ".claude.json") == {"numStartups": 3, "projects": {}}


def test_a_new_program_path_replaces_our_entries(project: Path) -> None:
    """Setup from another install updates our commands instead of adding a second set."""
    setup("claude-code")
    main(["setup", "claude-code", "--command", "/new/ai-connect"])
    settings = load(project / ".claude" / "settings.json")
    assert commands(settings, "PostToolUse") == ["/new/ai-connect hook claude"]
    assert load(project / ".mcp.json")["mcpServers"]["ai-connect"]["command"] == "/new/ai-connect"


def test_default_program_is_this_python(project: Path) -> None:
    """Without --command (and not run as ai-connect): python -m ai_connect, absolute."""
    assert main(["setup", "vscode"]) == 0
    entry = load(project / ".vscode" / "mcp.json")["servers"]["ai-connect"]
    assert entry["command"] == str(Path(sys.executable).absolute())
    assert entry["args"] == ["-m", "ai_connect", "mcp"]


# --- refusals and dry run ---------------------------------------------------------------


def test_broken_json_is_refused_and_nothing_is_written(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid settings file: exit 1, a clear error, no file touched or created."""
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text('{"hooks": {,}')
    before = snapshot(project)
    assert main(["setup", "claude-code", "--command", PROGRAM]) == 1
    assert "is not valid JSON" in capsys.readouterr().err
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("client", "file", "content", "said"),
    [
        ("claude-code", ".claude/settings.json", '{"hooks": {"Stop": [{"hooks": 5}]}}',
         "hooks.Stop[0].hooks must be a list"),
        ("claude-code", ".claude/settings.json", '{"permissions": 5}',
         "'permissions' must be an object"),
        ("codex", ".codex/hooks.json", '{"hooks": {"Stop": [{"hooks": "x"}]}}',
         "hooks.Stop[0].hooks must be a list"),
        ("gemini", ".gemini/settings.json", '{"mcpServers": 3}',
         "'mcpServers' must be an object"),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_shape_is_refused_naming_the_file(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    client: str,
    file: str,
    content: str,
    said: str,
) -> None:
    """Valid JSON with a value of the wrong shape: exit 1 naming the file and the key, no
    file touched ('hooks': 5 inside a Stop group was a TypeError traceback; the others
    said "in the file" without saying which)."""
    (project / file).parent.mkdir(parents=True, exist_ok=True)
    (project / file).write_text(content)
    before = snapshot(project)
    assert main(["setup", client, "--command", PROGRAM]) == 1
    err = capsys.readouterr().err
    assert f"{project / file}: {said}; fix it first: nothing was changed" in err
    assert snapshot(project) == before


def test_broken_toml_is_refused_and_nothing_is_written(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid Codex config.toml is refused the same way."""
    (project / ".codex").mkdir()
    (project / ".codex" / "config.toml").write_text("model = \n")
    before = snapshot(project)
    assert main(["setup", "codex", "--command", PROGRAM]) == 1
    assert "is not valid TOML" in capsys.readouterr().err
    assert snapshot(project) == before


def test_a_foreign_server_named_ai_connect_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An 'ai-connect' MCP entry that runs something else is not overwritten."""
    (project / ".mcp.json").write_text('{"mcpServers": {"ai-connect": {"command": "other"}}}')
    assert main(["setup", "claude-code", "--command", PROGRAM]) == 1
    assert "not ai-connect" in capsys.readouterr().err


def test_dry_run_prints_the_diff_and_writes_nothing(project: Path) -> None:
    """--dry-run shows a unified diff of each file and leaves the project as it was."""
    before = snapshot(project)
    code, out = setup("claude-code", "--dry-run")
    assert code == 0 and snapshot(project) == before
    assert "+++ " + str(project / ".mcp.json") in out
    assert any(line.startswith("+") and '"asyncRewake": true' in line for line in out.split("\n"))
    assert "Dry run: nothing was written." in out


# --- Codex, Gemini CLI, Cursor, VS Code --------------------------------------------------

CODEX_TOML = """# my codex config
model = "gpt-5-codex"

[mcp_servers.docs]
command = "docs-mcp"   # keep this comment

[projects."/home/me/x"]
trust_level = "trusted"
"""


def test_codex_appends_a_marked_table_and_removes_exactly_it(project: Path) -> None:
    """config.toml keeps its comments; [mcp_servers.ai-connect] comes and goes as a block."""
    path = project / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(CODEX_TOML)
    setup("codex")
    text = path.read_text()
    assert text.startswith(CODEX_TOML) and "# keep this comment" in text
    data = tomllib.loads(text)
    assert data["mcp_servers"]["ai-connect"] == {
        "command": PROGRAM,
        "args": ["mcp"],
        "tool_timeout_sec": 3600,
        "env_vars": list(CLIENT_ENV),
        "default_tools_approval_mode": "approve",
        "required": True,
    }
    assert data["mcp_servers"]["docs"] == {"command": "docs-mcp"}
    hooks = load(project / ".codex" / "hooks.json")
    assert commands(hooks, "Stop") == [
        f"{PROGRAM} hook codex",
        f"{PROGRAM} hook wait --client codex --timeout 86400",
    ]
    assert [h.get("async", False) for h in hooks["hooks"]["Stop"][0]["hooks"]] == [False, True]
    assert commands(hooks, "PostToolUse") == [f"{PROGRAM} hook codex"]
    before = snapshot(project)
    assert "Nothing changed" in setup("codex")[1] and snapshot(project) == before
    setup("codex", "--uninstall")
    assert path.read_text() == CODEX_TOML
    assert not (project / ".codex" / "hooks.json").exists()


def test_codex_table_written_by_hand_is_left_alone(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hand-made [mcp_servers.ai-connect] that differs from ours is refused, not edited."""
    path = project / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text('[mcp_servers.ai-connect]\ncommand = "old"\n')
    assert main(["setup", "codex", "--command", PROGRAM]) == 1
    assert "by hand" in capsys.readouterr().err
    assert path.read_text() == '[mcp_servers.ai-connect]\ncommand = "old"\n'


def test_codex_on_an_empty_project_round_trips(project: Path) -> None:
    """Created from nothing, removed to nothing."""
    setup("codex")
    assert tomllib.loads((project / ".codex" / "config.toml").read_text())["mcp_servers"]
    setup("codex", "--uninstall")
    assert snapshot(project) == {}


def test_gemini_settings_get_server_and_millisecond_hooks(project: Path) -> None:
    """.gemini/settings.json: mcpServers plus four hook events, timeouts in ms."""
    path = project / ".gemini" / "settings.json"
    path.parent.mkdir()
    original = '{\n  "theme": "GitHub",\n  "mcpServers": {"x": {"command": "x"}}\n}\n'
    path.write_text(original)
    setup("gemini")
    data = load(path)
    assert data["theme"] == "GitHub" and set(data["mcpServers"]) == {"x", "ai-connect"}
    server = data["mcpServers"]["ai-connect"]
    assert server["timeout"] == 3_600_000 and server["trust"] is True
    assert server["env"] == {"AI_CONNECT_TOKEN": "$AI_CONNECT_TOKEN"}
    for event in ("SessionStart", "BeforeAgent", "AfterTool", "AfterAgent"):
        (hook,) = data["hooks"][event][0]["hooks"]
        assert hook["command"] == f"{PROGRAM} hook gemini"
        assert (hook["timeout"], hook["name"]) == (30_000, "ai-connect")
    setup("gemini", "--uninstall")
    assert path.read_text() == original


def test_cursor_hooks_are_flat_and_versioned(project: Path) -> None:
    """.cursor/hooks.json: {"version": 1, "hooks": {"stop": [...]}}; a user's hook stays."""
    hooks = project / ".cursor" / "hooks.json"
    hooks.parent.mkdir()
    original = '{"version": 1, "hooks": {"stop": [{"command": "./audit.sh"}]}}'
    hooks.write_text(original)
    setup("cursor")
    assert load(hooks)["hooks"]["stop"] == [
        {"command": "./audit.sh"},
        {"command": f"{PROGRAM} hook cursor"},
    ]
    assert load(project / ".cursor" / "mcp.json")["mcpServers"]["ai-connect"]["args"] == ["mcp"]
    setup("cursor", "--uninstall")
    assert hooks.read_text() == original
    assert not (project / ".cursor" / "mcp.json").exists()


def test_cursor_from_nothing_and_back(project: Path) -> None:
    """A hooks.json we created (version and all) is removed by the uninstall."""
    setup("cursor")
    assert load(project / ".cursor" / "hooks.json")["version"] == 1
    setup("cursor", "--uninstall")
    assert not (project / ".cursor" / "hooks.json").exists()


def test_vscode_registers_under_servers(project: Path) -> None:
    """.vscode/mcp.json uses "servers" with a stdio entry; inputs are kept."""
    path = project / ".vscode" / "mcp.json"
    path.parent.mkdir()
    path.write_text('{"inputs": [], "servers": {}}')
    setup("vscode")
    assert load(path) == {
        "inputs": [],
        "servers": {"ai-connect": {"type": "stdio", "command": PROGRAM, "args": ["mcp"]}},
    }
    setup("vscode", "--uninstall")
    assert path.read_text() == '{"inputs": [], "servers": {}}'


def test_unknown_client_and_both_scopes_are_usage_errors(project: Path) -> None:
    """A wrong client name or --project with --user exits 2 (usage)."""
    assert main(["setup", "emacs"]) == 2
    assert main(["setup", "codex", "--user", "--project"]) == 2


# --- backups: private, outside the project (issue 11, item 7) ----------------------------


def test_backups_keep_the_originals_mode_and_live_outside_the_project(
    project: Path, tmp_path: Path
) -> None:
    """A 0600 settings file's backup is 0600, in a 0700 folder under the XDG state dir;
    setup says where; uninstall leaves no .bak-* anywhere in the project."""
    import stat

    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"env": {"SECRET": "1"}}\n')
    settings.chmod(0o600)
    servers = project / ".mcp.json"
    servers.write_text('{"mcpServers": {}}\n')
    servers.chmod(0o644)
    code, out = setup("claude-code")
    assert code == 0
    folder = tmp_path / "state" / "ai-connect" / "backups"
    assert backup_folder() == folder
    [backup] = backups_of(settings, folder)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(backups_of(servers, folder)[0].stat().st_mode) == 0o644
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert project not in backup.parents
    assert f"(backup: {backup})" in out and str(folder) in out
    code, out = setup("claude-code", "--uninstall")
    assert code == 0 and settings.read_text() == '{"env": {"SECRET": "1"}}\n'
    assert not [p for p in project.rglob("*") if ".bak-" in p.name]


def test_backups_an_older_setup_left_in_the_project_move_out(project: Path) -> None:
    """FILE.bak-<time> beside a file (older ai-connect) moves to the backup folder, mode
    kept, and still serves the uninstall; another program's .bak stays."""
    import stat

    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    original = '{"env": {"A": "1"}}\n'
    old = settings.with_name("settings.json.bak-20261101-101010")
    old.write_text(original)
    old.chmod(0o600)
    foreign = settings.with_name("settings.json.bak-mine")
    foreign.write_text("keep me")
    settings.write_text(original)
    code, out = setup("claude-code")
    assert code == 0 and "moved 1 backup" in out
    assert setup("claude-code", "--uninstall")[0] == 0
    assert not old.exists() and foreign.read_text() == "keep me"
    moved = [b for b in backups_of(settings, backup_folder()) if b.name == old.name]
    assert [b.read_text() for b in moved] == [original]
    assert stat.S_IMODE(moved[0].stat().st_mode) == 0o600
    assert settings.read_text() == original


# --- first contact: --dry-run words, --dir ------------------------------------------------


def test_dry_run_says_would_create_never_created(project: Path) -> None:
    """--dry-run names what it would do ("would create"), not what it did not do."""
    code, out = setup("claude-code", "--dry-run")
    listed = [line.split() for line in out.splitlines() if line.startswith("  ")]
    assert code == 0 and listed
    assert all(words[0] != "created" for words in listed), out
    assert any(words[:2] == ["would", "create"] for words in listed), out


def test_setup_dir_must_exist(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt --dir is a usage error (exit 2) and creates no folder."""
    typo = project.parent / "porj"
    code, _ = setup("vscode", "--dir", str(typo))
    assert code == 2 and not typo.exists()
    assert "does not exist" in capsys.readouterr().err
