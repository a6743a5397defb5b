"""The real ``ai-connect bridge`` process with a token and TLS: a deployment, end to end."""

from __future__ import annotations

import asyncio
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from ai_connect.cli import main
from ai_connect.client import BridgeClient
from ai_connect.errors import RequestRejected
from tests.support.process import BridgeProcess

from ..security.certs import make_authority

_PIN = re.compile(r"TLS certificate sha256 ([0-9A-F:]{95})")


def test_a_bridge_with_a_token_and_tls_serves_only_verified_authenticated_clients(
    tmp_path: Path,
) -> None:
    """Token made by the CLI, wss:// with a printed fingerprint: pinned+token in, others out."""
    db = tmp_path / "bridge.db"
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        assert main(["token", "create", "alice", "--db", str(db)]) == 0
    token = out.getvalue().strip()
    cert = make_authority(tmp_path, "ca").issue("bridge")
    tls = ("--tls-cert", str(cert.cert), "--tls-key", str(cert.key))
    with BridgeProcess(tmp_path, *tls, db=db) as bridge:
        assert bridge.url.startswith("wss://127.0.0.1:")
        assert bridge.proc is not None
        auth = bridge.proc.expect(lambda s: s.startswith("auth:"), "auth line")
        pin = _PIN.search(bridge.proc.expect(lambda s: "TLS certificate" in s, "fingerprint line"))
        assert pin and auth.startswith("auth: on (1 tokens")
        url = bridge.url

        async def scenario() -> None:
            async with BridgeClient(url, "alice", "p", token=token, fingerprint=pin[1]) as c:
                assert (await c.status()).address == "alice (p)"
            anonymous = BridgeClient(url, "alice", "p", fingerprint=pin[1], reconnect=False)
            with pytest.raises(RequestRejected, match="requires an auth token"):
                await anonymous.connect()

        asyncio.run(asyncio.wait_for(scenario(), 20))
