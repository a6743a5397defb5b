"""Work status, the pure parts: what a hook observes, the tracker, git's answer, settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_connect.errors import ConfigError
from ai_connect.hooks.contracts import parse_input
from ai_connect.protocol import MAX_WORK_FILES
from ai_connect.work_status.git import parse_status
from ai_connect.work_status.observe import Observation, observe
from ai_connect.work_status.settings import StatusSettings, status_settings
from ai_connect.work_status.tracker import TASK_CHARS, GitState, Tracker, task_summary

PATCH = """*** Begin Patch
*** Update File: src/app.py
@@
-a
+b
*** Add File: docs/new.md
+hi
*** Delete File: old.txt
*** Update File: lib/x.py
*** Move to: lib/y.py
*** End Patch"""


def seen(client: str, event: str, **raw: object) -> Observation | None:
    data = {"hook_event_name": event, "cwd": "/w", "session_id": "s", **raw}
    return observe(parse_input(client, json.dumps(data)))


def test_each_clients_edit_tools_name_their_files() -> None:
    """Claude Edit/Write/MultiEdit/NotebookEdit, Gemini write_file/replace, Codex
    apply_patch (every file of its patch); other tools name none."""
    assert seen("claude", "PostToolUse", tool_name="Edit", tool_input={"file_path": "a.py"}) == (
        Observation("working", ("a.py",), "/w")
    )
    nb = seen("claude", "PostToolUse", tool_name="NotebookEdit", tool_input={"notebook_path": "n"})
    assert nb is not None and nb.files == ("n",)
    read = seen("claude", "PostToolUse", tool_name="Read", tool_input={"file_path": "a.py"})
    assert read == Observation("working", (), "/w")
    gem = seen("gemini", "AfterTool", tool_name="replace", tool_input={"file_path": "/w/b.py"})
    assert gem is not None and gem.files == ("/w/b.py",)
    codex = seen("codex", "PostToolUse", tool_name="apply_patch", tool_input={"input": PATCH})
    assert codex is not None
    assert codex.files == ("src/app.py", "docs/new.md", "old.txt", "lib/x.py", "lib/y.py")
    shell = seen("codex", "PostToolUse", tool_name="Bash", tool_input={"command": PATCH})
    assert shell is not None and shell.files[0] == "src/app.py"
    assert seen("claude", "PostToolUse", tool_name="Bash", tool_input={"command": PATCH}) == (
        Observation("working", (), "/w")
    )


def test_events_map_to_activities() -> None:
    """A prompt or a tool call: working; a turn end or a new session: idle; others: none.
    Codex's SessionStart comes with the first prompt (in either order with its
    UserPromptSubmit): it says nothing, and the session shows working whichever ran last."""
    assert seen("claude", "UserPromptSubmit", prompt="x") == Observation("working", (), "/w")
    assert seen("gemini", "AfterAgent") == Observation("idle", (), "/w")
    assert seen("claude", "SessionStart") == Observation("idle", (), "/w")
    assert seen("codex", "SessionStart") is None
    assert seen("claude", "SessionEnd") is None
    for order in (("UserPromptSubmit", "SessionStart"), ("SessionStart", "UserPromptSubmit")):
        tracker = Tracker()
        for event in order:
            observation = seen("codex", event, prompt="x")
            if observation is not None:
                tracker.apply(observation, None)
        assert tracker.activity == "working", order


def test_the_tracker_keeps_recent_repo_files_newest_first(tmp_path: Path) -> None:
    """Repo-relative, newest first, each once, at most MAX_WORK_FILES; files outside the
    repository (absolute elsewhere, or through ..) are never kept."""
    repo = tmp_path / "repo"
    repo.mkdir()
    tracker = Tracker()
    names = [f"f{i}.py" for i in range(MAX_WORK_FILES + 2)]
    tracker.apply(Observation("working", tuple(names), str(repo)), repo)
    tracker.apply(Observation(None, ("f3.py", str(repo / "src" / "a.py")), str(repo)), repo)
    outside = (str(tmp_path / "other.py"), "../other.py", "/etc/passwd", "~/x")
    tracker.apply(Observation(None, outside, str(repo)), repo)
    assert tracker.files[:3] == ["src/a.py", "f3.py", "f11.py"]
    assert len(tracker.files) == MAX_WORK_FILES and len(set(tracker.files)) == MAX_WORK_FILES
    assert not any("other" in f or f.startswith("/") for f in tracker.files)


def test_the_status_shows_waiting_over_the_activity_and_the_task_only_if_asked() -> None:
    """peer_wait shows as waiting; the task summary is left out unless opted in; outside
    a repository there are no files."""
    tracker = Tracker(files=["a.py"], activity="idle", task="fix it")
    git = GitState("main", "abc1234", 3)
    status = tracker.status("github.com/o/r", git)
    assert (status.branch, status.head, status.dirty, status.task) == ("main", "abc1234", 3, None)
    tracker.waiting = True
    assert tracker.status("github.com/o/r", git, task=True).activity == "waiting"
    assert tracker.status("github.com/o/r", git, task=True).task == "fix it"
    assert tracker.status(None, None).files == []


def test_a_task_summary_is_one_short_line_with_secrets_hidden() -> None:
    """First non-empty line, tokens and key=value secrets as ***, cut with …."""
    assert task_summary("\n  Fix login  \nsecond") == "Fix login"
    hidden = task_summary("deploy with aic_0123abcd_SECRETVALUE and password=hunter2 now")
    assert hidden is not None and "SECRET" not in hidden and "hunter2" not in hidden
    assert "ghp_" not in (task_summary("use ghp_abcdefghijklmnop1234 here") or "")
    long = task_summary("x" * 500)
    assert long is not None and len(long) == TASK_CHARS and long.endswith("…")
    assert task_summary("   \n\n") is None


def test_git_status_v2_gives_branch_head_and_dirty_count() -> None:
    """Headers give branch and HEAD; each entry counts once (a rename's source too)."""
    out = "\0".join(
        [
            "# branch.oid 0123456789abcdef0123456789abcdef01234567",
            "# branch.head feature/x",
            "1 .M N... 100644 100644 100644 a a src/a.py",
            "2 R. N... 100644 100644 100644 a a R100 new.py",
            "old.py",
            "? notes.txt",
            "",
        ]
    )
    assert parse_status(out) == GitState("feature/x", "0123456", 3)
    fresh = "# branch.oid (initial)\0# branch.head (detached)\0"
    assert parse_status(fresh) == GitState(None, None, 0)


def test_settings_come_from_the_config_file_and_the_environment(tmp_path: Path) -> None:
    """Defaults: publish, no task; the file's status: section; AI_CONNECT_STATUS wins;
    a wrong value is a ConfigError that names the key."""
    config = tmp_path / "c.yaml"
    env = {"AI_CONNECT_CONFIG": str(config)}
    assert status_settings(env) == StatusSettings(True, False)
    config.write_text("status:\n  task_summary: true\n")
    assert status_settings(env) == StatusSettings(True, True)
    assert status_settings({**env, "AI_CONNECT_STATUS": "off"}) == StatusSettings(False, False)
    config.write_text("status:\n  publish: false\n")
    assert status_settings({**env, "AI_CONNECT_STATUS": "on"}).publish is True
    config.write_text("status:\n  publish: maybe\n")
    with pytest.raises(ConfigError, match=r"status\.publish"):
        status_settings(env)
