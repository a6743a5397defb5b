"""``ai-connect hook``: what agent clients run to see peer mail without polling (docs/hooks.md).

::

    contracts.py   each client's hook input and output contract (pure)
    runtime.py     the I/O: act as the agent's address, show unread mail once, ack it
    slots.py       cross-process locks and the Claude Code waiter's slot
    agent_link.py  which bridge session a hook acts for: its agent's own MCP server

The command itself is :mod:`ai_connect.cli.hook`. This package's face is the contracts
and the mail texts hooks show (:mod:`ai_connect.text.agent`), as ``hooks.py`` had them.
"""

from ai_connect.hooks.contracts import (
    CLIENTS,
    PROMPT_EVENTS,
    HookInput,
    Role,
    context_output,
    empty_output,
    parse_input,
    role_of,
    turn_end_output,
)
from ai_connect.text.agent import (
    CONTEXT_CAP,
    PER_MESSAGE_CAP,
    context_header,
    mail_text,
    turn_end_header,
    wake_header,
)

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
