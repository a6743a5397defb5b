"""``ai-connect doctor``'s checks against the bridge: reachable, ws/wss, TLS, token, name;
then a real round trip that leaves no peer behind.

The first checks connect in query mode (protocol §2.4): authenticated as your name, no
peer record. The round trip needs a peer: your name in a project of its own
(``ai-connect-doctor-…``, so a token that owns your name owns it too), which sends a
message to itself; the real hook command (``ai-connect hook claude``, as an agent's hooks
run it) must show it; then the peer asks the bridge to forget it (protocol §2.5).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import socket
import ssl
import tempfile
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from ai_connect.client import BridgeClient
from ai_connect.config import DEFAULT_PORT, ClientSettings
from ai_connect.doctor.checks import Check, Outcome
from ai_connect.errors import (
    BridgeError,
    ErrorCode,
    NotConnected,
    RequestRejected,
    TlsError,
)
from ai_connect.hooks.agent_link import bridge_session
from ai_connect.service.health import healthz

__all__ = ["check_bridge", "round_trip"]

DOCTOR_PROJECT = "ai-connect-doctor"


def _client(s: ClientSettings, project: str, timeout: float, **options: Any) -> BridgeClient:
    """The doctor's client: the one constructor every surface uses, in ``project``."""
    return BridgeClient.from_settings(
        dataclasses.replace(s, project=project),
        kind="doctor",
        reconnect=False,
        connect_timeout=timeout,
        request_timeout=timeout,
        **options,
    )


def _host_port(url: str) -> tuple[str, int]:
    """The first node's host and port (``url`` may list several nodes: docs/deploy.md)."""
    parts = urlsplit(url.split(",", 1)[0])
    return parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORT


def _speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether ``host:port`` completes a TLS handshake (any certificate)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


async def _mismatch(url: str, timeout: float) -> str | None:
    """The fix when ``url``'s scheme is not what the port speaks, else ``None``."""
    host, port = _host_port(url)
    if url.lower().startswith("ws://"):
        if await asyncio.to_thread(_speaks_tls, host, port, timeout):
            return f"the bridge at {host}:{port} serves wss://: use wss://{host}:{port}"
        return None
    plain = await asyncio.to_thread(healthz, host, port, tls=False, timeout=timeout)
    if plain.answered:
        return f"the bridge at {host}:{port} serves ws://, not wss://: use ws://{host}:{port}"
    return None


async def check_bridge(s: ClientSettings, timeout: float = 5.0) -> list[Check]:
    """Reachable, scheme, TLS, token and name: one query-mode connection (§2.4)."""
    try:
        client = _client(s, s.project, timeout, mode="query")
    except BridgeError as exc:  # a CA file that is not there, a malformed pin
        return [Check("tls", Outcome.FAIL, str(exc), "fix --ca / --fingerprint")]
    where = f"{s.url} as {s.name} ({s.project})"
    try:
        await client.connect()
        report = await client.status()
    except TlsError as exc:
        return [
            Check("bridge", Outcome.PASS, f"something answers at {s.url}"),
            Check(
                "tls",
                Outcome.FAIL,
                str(exc),
                "take the fingerprint the bridge printed at start (--fingerprint / "
                "AI_CONNECT_FINGERPRINT), or its CA (--ca / AI_CONNECT_CA)",
            ),
        ]
    except RequestRejected as exc:
        checks = [Check("bridge", Outcome.PASS, f"{s.url} answers")]
        if exc.code in (ErrorCode.AUTH_FAILED, ErrorCode.FORBIDDEN):
            token = "token" if s.token else "no token"
            checks.append(Check("token", Outcome.FAIL, f"{exc.message} ({token})", exc.hint))
        else:
            checks.append(Check("bridge hello", Outcome.FAIL, exc.message, exc.hint))
        return checks
    except NotConnected as exc:
        fix = await _mismatch(s.url, timeout)
        if fix is not None:
            return [Check("bridge", Outcome.FAIL, f"cannot speak to {s.url}: {exc}", fix)]
        return [
            Check(
                "bridge",
                Outcome.FAIL,
                f"cannot reach {s.url}: {exc}",
                "start it ('ai-connect bridge', or 'ai-connect service status'), or point "
                "--bridge / AI_CONNECT_BRIDGE / bridge.url at the right host and port",
            )
        ]
    except BridgeError as exc:
        return [Check("bridge", Outcome.FAIL, f"{where}: {exc}", "see 'ai-connect logs bridge'")]
    finally:
        await client.close()
    facts = {
        "url": s.url,
        "server": report.server,
        "storage": report.storage,
        "peers_online": report.peers_online,
        "peers_known": report.peers_known,
    }
    checks = [
        Check(
            "bridge",
            Outcome.PASS,
            f"{s.url}: bridge {report.server} ({report.storage}), "
            f"{report.peers_online} of {report.peers_known} peers online",
            data=facts,
        )
    ]
    if s.url.lower().startswith("wss://"):
        how = f"pinned {s.fingerprint}" if s.fingerprint else (s.ca or "the system's CAs")
        checks.append(Check("tls", Outcome.PASS, f"certificate verified ({how})"))
    if s.token:
        checks.append(
            Check("token", Outcome.PASS, f"the token is valid and may use the name {s.name}")
        )
    else:
        checks.append(Check("token", Outcome.PASS, "no token needed: this bridge has auth off"))
    return checks


async def round_trip(s: ClientSettings, program: Sequence[str], timeout: float = 10.0) -> Check:
    """A message to itself through the bridge, shown by the hook path, then forgotten."""
    project = f"{DOCTOR_PROJECT}-{secrets.token_hex(3)}"
    agent_session = f"doctor-{secrets.token_hex(8)}"
    peer = _client(s, project, timeout, session=bridge_session(agent_session))
    nonce = secrets.token_hex(8)
    started = time.monotonic()
    shown, hook_said, forgotten = False, "", False
    try:
        await peer.connect()
        assert peer.address is not None
        await peer.send(peer.address, f"ai-connect doctor round trip {nonce}")
        shown, hook_said = await _hook_shows(s, project, agent_session, program, nonce, timeout)
        elapsed = time.monotonic() - started
    except BridgeError as exc:
        return Check("round trip", Outcome.FAIL, f"{exc}", "see the bridge check above")
    finally:
        if peer.connected:
            try:
                await peer.forget()
                forgotten = True
            except BridgeError:
                forgotten = False
        await peer.close()
    left = (
        "the bridge forgot the test peer"
        if forgotten
        else f"the test peer {s.name} ({project}) could not be forgotten"
    )
    if not shown:
        return Check(
            "round trip",
            Outcome.FAIL,
            f"the bridge took the message, but the hook did not show it; {left}",
            f"run the hook by hand: {' '.join(program)} hook claude (it said: {hook_said!r})",
        )
    return Check(
        "round trip",
        Outcome.PASS if forgotten else Outcome.WARN,
        f"a message to itself came back through the hook path in {elapsed * 1000:.0f} ms; " + left,
        data={"ms": round(elapsed * 1000), "forgotten": forgotten},
    )


async def _hook_shows(
    s: ClientSettings,
    project: str,
    agent_session: str,
    program: Sequence[str],
    nonce: str,
    timeout: float,
) -> tuple[bool, str]:
    """Runs ``ai-connect hook claude`` as Claude Code would after a tool call."""
    argv = [*program, "hook", "claude", "--name", s.name, "--bridge", s.url]
    if s.ca:
        argv += ["--ca", s.ca]
    if s.fingerprint:
        argv += ["--fingerprint", s.fingerprint]
    with tempfile.TemporaryDirectory(prefix="ai-connect-doctor-") as runtime:
        env = {
            **os.environ,
            "AI_CONNECT_PROJECT": project,
            # No agent's advert here: the hook must act for the test peer, not for a
            # session that happens to run this doctor.
            "AI_CONNECT_RUNTIME_DIR": runtime,
        }
        if s.token:
            env["AI_CONNECT_TOKEN"] = s.token  # not on the command line (ps shows it)
        hook_input = {
            "session_id": agent_session,
            "hook_event_name": "PostToolUse",
            "cwd": runtime,
            "tool_name": "Bash",
        }
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            out, err = await asyncio.wait_for(
                process.communicate(json.dumps(hook_input).encode()), timeout
            )
        except TimeoutError:
            process.kill()
            await process.wait()
            return False, f"no answer within {timeout:g} s"
    text = out.decode("utf-8", "replace")
    return nonce in text, (text or err.decode("utf-8", "replace")).strip()[:300]
