"""``ai-connect setup``: register the MCP server and install the hooks in a client's files.

:mod:`~ai_connect.client_setup.edits` (pure JSON/TOML edits) and
:mod:`~ai_connect.client_setup.clients` (per-client plans) compute; only
:mod:`~ai_connect.client_setup.apply` touches files.
"""

from ai_connect.client_setup.apply import Report, apply, read_file
from ai_connect.client_setup.clients import CLIENTS, Change, Options, Scope, plan

__all__ = [
    "CLIENTS",
    "Change",
    "Options",
    "Report",
    "Scope",
    "apply",
    "plan",
    "read_file",
]
