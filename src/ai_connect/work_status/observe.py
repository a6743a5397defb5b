"""What one hook run tells about its session's work: activity, edited files, prompt (pure).

Each client's events map to an activity (a prompt or a tool call: ``working``; a turn
end or a new session: ``idle``); edit tools name the files they wrote: Claude Code's
``Edit``, ``Write``, ``MultiEdit`` (``tool_input.file_path``) and ``NotebookEdit``
(``notebook_path``); Gemini CLI's ``write_file`` and ``replace`` (``file_path``); Codex
CLI's ``apply_patch`` (the ``*** Add/Update/Delete File:`` lines of its patch).
docs/hooks.md lists them. An :class:`Observation` travels to the session's MCP server
as JSON (:mod:`ai_connect.work_status.link`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ai_connect.hooks.contracts import HookInput
from ai_connect.protocol import Activity

__all__ = ["ACTIVITY", "EDIT_TOOLS", "Observation", "edited_files", "observe"]

ACTIVITY: dict[str, dict[str, Activity]] = {
    "claude": {
        "SessionStart": "idle",
        "UserPromptSubmit": "working",
        "PostToolUse": "working",
        "PostToolBatch": "working",
        "Stop": "idle",
    },
    "codex": {  # no SessionStart: Codex runs it on the first prompt, beside UserPromptSubmit
        "UserPromptSubmit": "working",
        "PostToolUse": "working",
        "Stop": "idle",
    },
    "gemini": {
        "SessionStart": "idle",
        "BeforeAgent": "working",
        "AfterTool": "working",
        "AfterAgent": "idle",
    },
    "cursor": {"stop": "idle"},
}
"""Client -> hook event -> the activity it shows. Codex's ``SessionStart`` shows none: Codex
fires it when the first prompt is submitted, not when the session opens, in either order
with that prompt's ``UserPromptSubmit`` (openai/codex#15266); as ``idle`` it could follow
``working`` and show a session at work as idle until its next tool call. A new session
is idle until a hook says otherwise anyway."""

EDIT_TOOLS: dict[str, frozenset[str]] = {
    "claude": frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"}),
    "codex": frozenset({"apply_patch", "Edit", "Write"}),
    "gemini": frozenset({"write_file", "replace", "edit"}),
    "cursor": frozenset(),
}
"""Client -> the tools whose calls write files."""

_PATH_KEYS = ("file_path", "notebook_path", "absolute_path", "path", "filePath")
_PATCH_KEYS = ("input", "patch", "command", "cmd")
_PATCH_FILE = re.compile(
    r"^\*\*\* (?:Add|Update|Delete) File: (.+?)\s*$|^\*\*\* Move to: (.+?)\s*$"
)


@dataclass(frozen=True, slots=True)
class Observation:
    """One hook run: what the session does now and which files it just wrote."""

    activity: Activity | None
    """``None``: the event says nothing about the activity."""
    files: tuple[str, ...] = ()
    """Paths as the tool named them (absolute, or relative to ``cwd``), in call order."""
    cwd: str | None = None
    prompt: str | None = None
    """A person's prompt (only when the user opted in to task summaries)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "activity": self.activity,
            "files": list(self.files),
            "cwd": self.cwd,
            "prompt": self.prompt,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        """The Observation a hook sent; ``ValueError`` if it is not one."""
        activity = data.get("activity")
        if activity not in (None, "working", "idle", "waiting"):
            raise ValueError(f"unknown activity {activity!r}")
        files = data.get("files") or []
        cwd, prompt = data.get("cwd"), data.get("prompt")
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ValueError("files must be a list of paths")
        if not isinstance(cwd, str | None) or not isinstance(prompt, str | None):
            raise ValueError("cwd and prompt must be text")
        return cls(activity, tuple(files), cwd, prompt)


def _patch_files(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        match = _PATCH_FILE.match(line.strip())
        if match:
            found.append(match.group(1) or match.group(2))
    return found


def _patch_text(tool_input: Any) -> str:
    """The patch a tool call carries (``*** Begin Patch`` …), or ""."""
    if isinstance(tool_input, str):
        return tool_input if "*** " in tool_input else ""
    if not isinstance(tool_input, dict):
        return ""
    for key in _PATCH_KEYS:
        value = tool_input.get(key)
        if isinstance(value, list):
            value = "\n".join(v for v in value if isinstance(v, str))
        if isinstance(value, str) and "*** " in value:
            return value
    return ""


def edited_files(client: str, tool: str, tool_input: Any) -> list[str]:
    """The files a tool call wrote, as it named them ([] if it is no edit tool).

    Codex may also run ``apply_patch`` through its shell tool: any of its tool calls that
    carries a ``*** Begin Patch`` counts."""
    if tool not in EDIT_TOOLS.get(client, frozenset()):
        patch = _patch_text(tool_input) if client == "codex" else ""
        return _patch_files(patch) if "*** Begin Patch" in patch else []
    if isinstance(tool_input, dict):
        for key in _PATH_KEYS:
            value = tool_input.get(key)
            if isinstance(value, str) and value.strip():
                return [value.strip()]
    return _patch_files(_patch_text(tool_input))


def observe(hook: HookInput, prompt: str | None = None) -> Observation | None:
    """What ``hook`` tells about its session's work; ``None`` if nothing.

    ``prompt``: the person's prompt of a prompt event, passed only where task summaries
    are wanted (the caller decides what a person typed: hooks/runtime.py).
    """
    activity = ACTIVITY.get(hook.client, {}).get(hook.event)
    tool = hook.raw.get("tool_name")
    files: list[str] = []
    if isinstance(tool, str):
        files = edited_files(hook.client, tool, hook.raw.get("tool_input"))
    if activity is None and not files:
        return None
    cwd = str(hook.cwd) if hook.cwd is not None else None
    return Observation(activity, tuple(files), cwd, prompt)
