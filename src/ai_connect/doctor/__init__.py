"""``ai-connect doctor``: what works and what to fix, check by check.

:mod:`~ai_connect.doctor.checks` looks at this machine (config and where each value
came from, ``ai-connect`` on PATH, each agent client's setup, the bridge's database);
:mod:`~ai_connect.doctor.link` talks to the bridge (reachable, ws/wss, TLS, token,
name) in query mode, then makes a real round trip with a peer it forgets afterwards.
"""

from ai_connect.doctor.checks import Check, Outcome

__all__ = ["Check", "Outcome"]
