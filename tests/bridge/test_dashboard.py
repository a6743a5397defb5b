"""bridge/dashboard.py: ``/ui`` on the bridge's port (off unless enabled), its files and
headers, and WebSocket handshakes from pages of other sites refused. No browser here:
tests/bridge/web drives the page in Chromium."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from ai_connect.bridge import dashboard
from ai_connect.bridge.server import BridgeServer
from ai_connect.config import bridge_settings, load_file, unknown_keys
from ai_connect.protocol import PROTOCOL_VERSION
from tests.client.support import run
from tests.support.bridge import NO_PORT_URL, bridge, socketpair_connect
from tests.support.process import BridgeProcess


async def get(server: BridgeServer, path: str, *headers: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP GET over a socket handed to the bridge: status, headers, body."""
    ours, theirs = socket.socketpair()
    server.accept(theirs)
    reader, writer = await asyncio.open_connection(sock=ours)
    lines = [f"GET {path} HTTP/1.1", "Host: bridge:9999", *headers, "", ""]
    writer.write("\r\n".join(lines).encode())
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *fields = head.decode().split("\r\n")
    found = {k.lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
    return int(status_line.split()[1]), found, body


def test_the_dashboard_is_off_unless_enabled() -> None:
    """Without ui=True, /ui and its files are 404 with the command that turns it on."""

    async def scenario() -> None:
        async with bridge(listen=False) as server:
            for path in ("/ui", "/ui/", "/ui/app.js"):
                status, _, body = await get(server, path)
                assert status == 404 and b"ai-connect bridge --ui" in body

    run(scenario())


def test_the_page_and_its_files_are_served_with_a_strict_policy() -> None:
    """/ui redirects to /ui/; the page, script and style come with their types and a CSP
    that allows nothing but the bridge itself."""

    async def scenario() -> None:
        async with bridge(listen=False, ui=True) as server:
            status, headers, _ = await get(server, "/ui")
            assert (status, headers["location"]) == (308, "/ui/")
            status, headers, body = await get(server, "/ui/")
            assert status == 200 and headers["content-type"].startswith("text/html")
            assert b'src="app.js"' in body and b"<script>" not in body  # no inline script
            assert headers["content-security-policy"] == dashboard.CSP
            assert "script-src 'self'" in dashboard.CSP and "unsafe" not in dashboard.CSP
            assert headers["x-content-type-options"] == "nosniff"
            assert int(headers["content-length"]) == len(body)
            for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
                status, headers, body = await get(server, f"/ui/{name}?v=1")
                assert status == 200 and headers["content-type"].startswith(kind) and body

    run(scenario())


def test_a_known_etag_is_answered_not_modified_and_unknown_files_are_404() -> None:
    """A reload with the file's ETag costs a 304; a path that is no dashboard file is 404."""

    async def scenario() -> None:
        async with bridge(listen=False, ui=True) as server:
            _, headers, _ = await get(server, "/ui/app.js")
            status, _, body = await get(server, "/ui/app.js", f"If-None-Match: {headers['etag']}")
            assert (status, body) == (304, b"")
            status, _, body = await get(server, "/ui/../../etc/passwd")
            assert status == 404 and b"the dashboard is at /ui/" in body
            status, _, _ = await get(server, "/uiother")
            assert status == 426  # not the dashboard's: the bridge's usual answer

    run(scenario())


def test_the_vendored_files_are_small_and_load_nothing_from_elsewhere() -> None:
    """The dashboard's files stay small and name no outside host (no CDN at run time)."""
    total = 0
    for name in dashboard.ASSETS:
        body = dashboard.asset(name).body
        total += len(body)
        assert b"http://" not in body and b"https://" not in body, name
    assert total < 64 * 1024
    script = dashboard.asset("app.js").body.decode()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def test_a_websocket_from_another_sites_page_is_refused() -> None:
    """A handshake whose Origin is another site gets 403; the bridge's own origin and
    clients without an Origin (every non-browser client) are served."""

    async def hello(server: BridgeServer, origin: str | None) -> dict[str, object]:
        headers = {"Origin": origin} if origin else None
        connect = socketpair_connect(server)
        async with connect(NO_PORT_URL, additional_headers=headers) as ws:
            frame = {"type": "hello", "rid": "h", "protocol": PROTOCOL_VERSION}
            await ws.send(json.dumps({**frame, "name": "alice", "project": "p"}))
            answer: dict[str, object] = json.loads(await asyncio.wait_for(ws.recv(), 5))
            return answer

    async def scenario() -> None:
        async with bridge(listen=False, ui=True) as server:
            with pytest.raises(InvalidStatus) as refused:
                await hello(server, "http://evil.example")
            assert refused.value.response.status_code == 403
            assert b"http://evil.example may not connect" in refused.value.response.body
            assert (await hello(server, None))["type"] == "welcome"
            assert (await hello(server, "http://in-process.invalid"))["type"] == "welcome"

    run(scenario())


def test_ui_comes_from_the_flag_or_the_config_file(tmp_path: Path) -> None:
    """server.ui: true in the config (or the --ui flag) turns it on; it is a known key."""
    path = tmp_path / "config.yaml"
    env = {"AI_CONNECT_CONFIG": str(path)}
    path.write_text("server:\n  port: 9999\n", encoding="utf-8")
    assert not bridge_settings(env=env).ui
    assert bridge_settings(ui=True, env=env).ui
    path.write_text("server:\n  ui: true\n", encoding="utf-8")
    assert bridge_settings(env=env).ui
    assert unknown_keys(load_file(path)) == []


def test_the_bridge_process_serves_the_dashboard_with_ui(tmp_path: Path) -> None:
    """`ai-connect bridge --ui` says where the dashboard is, and serves it there."""
    with BridgeProcess(tmp_path, "--ui") as process:
        assert process.proc is not None
        line = process.proc.expect(lambda s: s.startswith("dashboard: "), "dashboard line")
        page = line.split()[1]
        assert page == process.url.replace("ws", "http", 1) + "/ui/"
        with urllib.request.urlopen(page, timeout=10) as answer:
            assert answer.status == 200 and b"ai-connect dashboard" in answer.read()
