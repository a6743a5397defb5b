"""The hook entries ``ai-connect setup`` installs carry every event the work status needs
(work_status/observe.py), and uninstall takes them away again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_connect.agent_setup.clients import Scope, plan
from ai_connect.work_status.observe import ACTIVITY

FILES = {
    "claude-code": (".claude/settings.json", "claude"),
    "codex": (".codex/hooks.json", "codex"),
    "gemini": (".gemini/settings.json", "gemini"),
    "cursor": (".cursor/hooks.json", "cursor"),
}


@pytest.mark.parametrize("client", sorted(FILES))
def test_setup_installs_a_hook_for_every_status_event(client: str, tmp_path: Path) -> None:
    """Each event that says working or idle is hooked; uninstall leaves none of them."""
    scope = Scope(user=False, project=tmp_path, home=tmp_path / "home")
    name, kind = FILES[client]
    path = tmp_path / name
    changes = {c.path: c for c in plan(client, scope, ["ai-connect"], lambda p: None)}
    after = changes[path].after
    assert after is not None
    hooks = json.loads(after)["hooks"]
    events = set(ACTIVITY[kind]) - {"PostToolBatch"}  # Claude Code: PostToolUse covers it
    assert events <= set(hooks), f"{client}: not hooked: {events - set(hooks)}"
    removed = plan(client, scope, ["ai-connect"], lambda p: after if p == path else None,
                   uninstall=True)  # fmt: skip
    (gone,) = [c for c in removed if c.path == path]
    left = json.loads(gone.after)["hooks"] if gone.after else {}
    assert not events & {e for e, entries in left.items() if entries}
