"""``ai-connect mcp`` over stdio, started by hand: Ctrl-C (SIGINT) and SIGTERM stop it with
exit code 0 while its stdin stays open, and its advert to the hooks is marked stopped (no
hook attaches to it any more; docs/mcp.md). Real processes, with and without the quick
front (mcp/front.py)."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ai_connect.hooks import agent_link
from tests.mcp.support import cli_env

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "by-hand", "version": "1"},
    },
}


def _line(stream: object, timeout: float) -> bytes:
    """One line of ``stream``, or an AssertionError after ``timeout`` s (no sleeping)."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)  # type: ignore[arg-type]
        assert sel.select(timeout), f"no answer within {timeout} s"
    return stream.readline()  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("front", ["on", "off"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_stdio_server_with_0_and_removes_its_advert(
    sig: signal.Signals, front: str, tmp_path: Path
) -> None:
    """Answered initialize, stdin still open: SIGINT or SIGTERM ends it, exit 0, and its
    advert is marked stopped: found by no hook, read as "server gone"."""
    runtime = tmp_path / "run"
    env = {**cli_env(tmp_path), "AI_CONNECT_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)}
    if front == "off":
        env["AI_CONNECT_MCP_FRONT"] = "off"
    # A closed port: the server runs with its bridge down, as it may when started by hand.
    argv = [sys.executable, "-m", "ai_connect", "mcp", "--bridge", "ws://127.0.0.1:1"]
    argv += ["--name", "sam"]
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
            proc.stdin.flush()
            answer = json.loads(_line(proc.stdout, 60))
            assert answer["id"] == 1 and "result" in answer
            adverts = list((runtime / "agents").glob("*"))
            assert [p.name.startswith(f"{os.getpid()}-") for p in adverts] == [True]
            proc.send_signal(sig)
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert code == 0, proc.stderr.read() if proc.stderr else ""
        env = {"AI_CONNECT_RUNTIME_DIR": str(runtime)}
        assert agent_link.find([os.getpid()], env=env) is None
        assert agent_link.server_gone([os.getpid()], env=env)
