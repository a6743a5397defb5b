"""``ai-connect hook``: what agent clients run to see peer mail without polling (docs/hooks.md).

::

    contracts.py   each client's hook input and output contract (pure)
    runtime.py     the I/O: act as the agent's address, show unread mail once, ack it
    slots.py       cross-process locks and the Claude Code waiter's slot
    agent_link.py  which bridge session a hook acts for: its agent's own MCP server
    codex_wake.py  waking an idle Codex CLI session with ``codex queue``

The command itself is :mod:`ai_connect.cli.hook`. This package's face is the contracts
and the mail texts hooks show (:mod:`ai_connect.text.agent`), as ``hooks.py`` had them.
"""

from __future__ import annotations

import importlib
from typing import Any

_FACE = {
    "CLIENTS": "ai_connect.hooks.contracts",
    "PROMPT_EVENTS": "ai_connect.hooks.contracts",
    "HookInput": "ai_connect.hooks.contracts",
    "Role": "ai_connect.hooks.contracts",
    "context_output": "ai_connect.hooks.contracts",
    "empty_output": "ai_connect.hooks.contracts",
    "parse_input": "ai_connect.hooks.contracts",
    "role_of": "ai_connect.hooks.contracts",
    "turn_end_output": "ai_connect.hooks.contracts",
    "CONTEXT_CAP": "ai_connect.text.agent",
    "PER_MESSAGE_CAP": "ai_connect.text.agent",
    "context_header": "ai_connect.text.agent",
    "mail_text": "ai_connect.text.agent",
    "turn_end_header": "ai_connect.text.agent",
    "wake_header": "ai_connect.text.agent",
}
"""The package's face, loaded on first use: the pre-edit hook's front imports
:mod:`ai_connect.hooks.agent_link` and must not pay for the client library (issue 15)."""


def __getattr__(name: str) -> Any:
    module = _FACE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "CLIENTS",
    "CONTEXT_CAP",
    "PER_MESSAGE_CAP",
    "PROMPT_EVENTS",
    "HookInput",
    "Role",
    "context_header",
    "context_output",
    "empty_output",
    "mail_text",
    "parse_input",
    "role_of",
    "turn_end_header",
    "turn_end_output",
    "wake_header",
]
