"""``ai-connect mcp`` over stdio, started by hand: Ctrl-C (SIGINT) and SIGTERM stop it with
exit code 0 while its stdin stays open, and its advert to the hooks is marked stopped (no
hook attaches to it any more; docs/mcp.md). Real processes, with and without the quick
front (mcp/front.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from ai_connect.hooks import agent_link
from tests.mcp.support import stdio_server


@pytest.mark.parametrize("front", ["on", "off"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_stdio_server_with_0_and_removes_its_advert(
    sig: signal.Signals, front: str, tmp_path: Path
) -> None:
    """Answered initialize, stdin still open: SIGINT or SIGTERM ends it, exit 0, and its
    advert is marked stopped: found by no hook, read as "server gone"."""
    runtime = tmp_path / "run"
    with stdio_server(tmp_path, front, runtime) as proc:
        adverts = list((runtime / "agents").glob("*"))
        assert [p.name.startswith(f"{os.getpid()}-") for p in adverts] == [True]
        proc.send_signal(sig)
        code = proc.wait(30)
        assert code == 0, proc.stderr.read() if proc.stderr else ""
    env = {"AI_CONNECT_RUNTIME_DIR": str(runtime)}
    assert agent_link.find([os.getpid()], env=env) is None
    assert agent_link.server_gone([os.getpid()], env=env)
