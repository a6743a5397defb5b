"""``ai-connect setup``: register the MCP server and install the hooks in an agent's files.

:mod:`~ai_connect.agent_setup.edits` (pure JSON/TOML edits) and
:mod:`~ai_connect.agent_setup.clients` (per-client plans) compute; only
:mod:`~ai_connect.agent_setup.apply` touches files.
"""

from ai_connect.agent_setup.apply import Report, apply, read_file
from ai_connect.agent_setup.clients import CLIENTS, Change, Scope, plan

__all__ = ["CLIENTS", "Change", "Report", "Scope", "apply", "plan", "read_file"]
