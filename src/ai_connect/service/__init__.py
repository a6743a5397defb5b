"""``ai-connect service``: the bridge and the MCP server as systemd services.

:mod:`~ai_connect.service.units` renders the unit files (pure),
:mod:`~ai_connect.service.files` writes and removes exactly them,
:mod:`~ai_connect.service.systemd` runs ``systemctl``/``journalctl``, and
:mod:`~ai_connect.service.health` asks a running server's ``/healthz``.
"""

from ai_connect.service.units import KINDS

__all__ = ["KINDS"]
