"""Client hook contracts: what each agent sends a hook on stdin, and what it accepts back.

Pure: parsing and output shapes only; :mod:`ai_connect.hooks.runtime` does the I/O and
:mod:`ai_connect.cli.hook` is the ``ai-connect hook …`` shell. Contracts (docs/hooks.md
cites the documentation of each):

============  ======================================  ==================================
client        mid-turn: ``additionalContext``          turn end
============  ======================================  ==================================
Claude Code   SessionStart, UserPromptSubmit,          Stop + ``asyncRewake``: exit 2,
              PostToolUse, PostToolBatch               digest on stderr (``hook wait``)
Codex CLI     SessionStart, UserPromptSubmit,          Stop: ``{"decision": "block",
              PostToolUse                              "reason": …}``
Gemini CLI    SessionStart, BeforeAgent, AfterTool     AfterAgent: ``{"decision": "deny",
                                                       "reason": …}``
Cursor        —                                        stop: ``{"followup_message": …}``
============  ======================================  ==================================

The texts a hook shows (:func:`ai_connect.text.agent.mail_text` and its headers) are in
:mod:`ai_connect.text.agent`, with every other text an agent reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ai_connect.errors import ConfigError

__all__ = [
    "CLIENTS",
    "PROMPT_EVENTS",
    "HookInput",
    "Role",
    "context_output",
    "empty_output",
    "parse_input",
    "role_of",
    "turn_end_output",
]

CLIENTS = ("claude", "codex", "gemini", "cursor")


class Role(Enum):
    """What a hook invocation does for its event."""

    INJECT = "inject"
    """Mid-turn: put unread mail in front of the model as additional context."""
    TURN_END = "turn_end"
    """The turn is ending: continue it with the unread mail, if there is any."""
    IGNORE = "ignore"


_ROLES: dict[str, dict[str, Role]] = {
    "claude": {
        "SessionStart": Role.INJECT,
        "UserPromptSubmit": Role.INJECT,
        "PostToolUse": Role.INJECT,
        "PostToolBatch": Role.INJECT,
        "Stop": Role.TURN_END,
    },
    "codex": {
        "SessionStart": Role.INJECT,
        "UserPromptSubmit": Role.INJECT,
        "PostToolUse": Role.INJECT,
        "Stop": Role.TURN_END,
    },
    "gemini": {
        "SessionStart": Role.INJECT,
        "BeforeAgent": Role.INJECT,
        "AfterTool": Role.INJECT,
        "AfterAgent": Role.TURN_END,
    },
    "cursor": {"stop": Role.TURN_END},
}

PROMPT_EVENTS = frozenset({"UserPromptSubmit", "BeforeAgent"})
"""Events that start a new turn: an idle-time waiter of the session steps aside."""


@dataclass(frozen=True, slots=True)
class HookInput:
    """The fields of a hook's stdin JSON that ai-connect uses (the rest stays in ``raw``)."""

    client: str
    event: str
    session: str
    """The agent's session id (Cursor: the conversation id); "" when absent."""
    cwd: Path | None
    stop_hook_active: bool = False
    loop_count: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


def _text(data: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def parse_input(client: str, text: str) -> HookInput:
    """Parses a hook's stdin; raises :class:`ConfigError` if it is not a JSON object."""
    if client not in CLIENTS:
        raise ConfigError(f"unknown hook client {client!r}; use one of {', '.join(CLIENTS)}")
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise ConfigError(
            f"the {client} hook input on stdin is not JSON ({exc}); run this command only "
            "as a hook, as 'ai-connect setup' installs it"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"the {client} hook input on stdin must be a JSON object")
    cwd = _text(data, "cwd")
    if not cwd:
        roots = data.get("workspace_roots")
        if isinstance(roots, list) and roots and isinstance(roots[0], str):
            cwd = roots[0]  # Cursor sends workspace_roots instead of cwd
    loops = data.get("loop_count")
    return HookInput(
        client=client,
        event=_text(data, "hook_event_name"),
        session=_text(data, "session_id", "conversation_id"),
        cwd=Path(cwd) if cwd else None,
        stop_hook_active=data.get("stop_hook_active") is True,
        loop_count=loops if isinstance(loops, int) and not isinstance(loops, bool) else 0,
        raw=data,
    )


def role_of(hook: HookInput) -> Role:
    return _ROLES.get(hook.client, {}).get(hook.event, Role.IGNORE)


# --- outputs ----------------------------------------------------------------------------


def context_output(hook: HookInput, text: str) -> dict[str, Any]:
    """Mid-turn additional context, in the client's ``hookSpecificOutput`` form."""
    return {"hookSpecificOutput": {"hookEventName": hook.event, "additionalContext": text}}


def turn_end_output(hook: HookInput, text: str) -> dict[str, Any]:
    """Continue the turn with ``text`` as the next instruction-free input."""
    if hook.client == "cursor":
        return {"followup_message": text}
    if hook.client == "gemini":
        return {"decision": "deny", "reason": text}
    return {"decision": "block", "reason": text}


def empty_output(hook: HookInput) -> str:
    """What a hook prints when there is nothing to say (Cursor expects JSON)."""
    return "{}" if hook.client == "cursor" else ""
