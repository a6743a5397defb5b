"""``ai-connect mcp`` as a real process: over stdio as an MCP client spawns it, and with
``--transport http --port 0`` reporting its real port; restarts lose no unread mail,
even after kill -9."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp.client.sse import sse_client

from mcp import Client
from tests.client.support import make_client, run
from tests.mcp.support import TOOL_NAMES, call, cli_env, data, stdio_params
from tests.support.bridge import bridge

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)/mcp \(Streamable HTTP\)")


async def _send_three(url: str, to: str) -> None:
    async with make_client(url, "alice") as alice:
        for n in range(3):
            await alice.send(to, f"m{n}")


def test_stdio_server_serves_every_tool_as_its_session_project(tmp_path: Path) -> None:
    """Spawned over stdio in a project directory, it is ``NAME (that project)``."""

    async def scenario() -> None:
        project = tmp_path / "webshop"
        project.mkdir()
        async with bridge() as br, Client(stdio_params(br.url, "sam", project)) as sam:
            assert {t.name for t in (await sam.list_tools()).tools} == TOOL_NAMES
            status = data(await call(sam, "peer_status"))
            assert (status["address"], status["state"]) == ("sam (webshop)", "connected")
            async with make_client(br.url, "alice") as alice:
                await alice.send("sam", "hello over stdio")
                got = data(await call(sam, "peer_wait", timeout_s=5))
                assert [m["content"] for m in got["messages"]] == ["hello over stdio"]

    run(scenario())


def test_stdio_restart_with_unread_messages_loses_none(tmp_path: Path) -> None:
    """Mail delivered to a stdio server that stops unread is read by the next one."""

    async def scenario() -> None:
        async with bridge() as br:
            async with Client(stdio_params(br.url, "sam", tmp_path)) as sam:
                data(await call(sam, "peer_status"))  # sam is known
            await _send_three(br.url, "sam")
            async with Client(stdio_params(br.url, "sam", tmp_path)) as sam:
                first = data(await call(sam, "peer_read", limit=1))
                assert [m["content"] for m in first["messages"]] == ["m0"]
                assert first["more_unread"] == 2  # delivered here, not read: not acked
            async with Client(stdio_params(br.url, "sam", tmp_path)) as sam:
                rest = data(await call(sam, "peer_read"))
                assert [m["content"] for m in rest["messages"]] == ["m1", "m2"]

    run(scenario())


@asynccontextmanager
async def http_process(
    url: str, tmp_path: Path, name: str
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """``ai-connect mcp --transport http --port 0``; yields its base URL once it listens."""
    ready = tmp_path / f"{name}.ready"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ai_connect",
        "mcp",
        "--transport",
        "http",
        "--port",
        "0",
        "--ready-file",
        str(ready),
        "--bridge",
        url,
        "--name",
        name,
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        while (match := LISTENING.search(lines[-1] if lines else "")) is None:
            line = await asyncio.wait_for(proc.stderr.readline(), 10)
            assert line, "ai-connect mcp exited early:\n" + "".join(lines)
            lines.append(line.decode())
        base = match.group(1)
        assert ready.read_text() == base + "\n"
        drain = asyncio.create_task(proc.stderr.read())  # its later logs must not fill the pipe
        yield base, proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await asyncio.wait_for(proc.wait(), 10)
    await asyncio.wait_for(drain, 10)


def test_http_process_reports_its_port_and_serves_both_transports(tmp_path: Path) -> None:
    """With --port 0 it reports its real port; /mcp and /sse work; SIGTERM stops it."""

    async def scenario() -> None:
        async with bridge() as br, http_process(br.url, tmp_path, "srv") as (base, proc):
            for client in (Client(f"{base}/mcp", mode="legacy"), Client(sse_client(f"{base}/sse"))):
                async with client:
                    assert {t.name for t in (await client.list_tools()).tools} == TOOL_NAMES
                    assert data(await call(client, "peer_status"))["address"] == (
                        f"srv ({tmp_path.name})"
                    )
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 10) == 0

    run(scenario(), timeout=40)


def test_kill_9_of_an_http_server_with_unread_messages_loses_none(tmp_path: Path) -> None:
    """Mail delivered to a server killed with SIGKILL before it was read comes back."""

    async def scenario() -> None:
        async with bridge() as br:
            async with (
                http_process(br.url, tmp_path, "srv") as (base, proc),
                Client(f"{base}/mcp", mode="legacy") as srv,
            ):
                data(await call(srv, "peer_status"))  # srv is known
            await _send_three(br.url, f"srv ({tmp_path.name})")
            async with http_process(br.url, tmp_path, "srv") as (base, proc):
                async with Client(f"{base}/mcp", mode="legacy") as srv:
                    first = data(await call(srv, "peer_read", limit=1))
                    assert [m["content"] for m in first["messages"]] == ["m0"]
                    assert first["more_unread"] == 2
                proc.kill()
                await asyncio.wait_for(proc.wait(), 10)
            async with (
                http_process(br.url, tmp_path, "srv") as (base, proc),
                Client(f"{base}/mcp", mode="legacy") as srv,
            ):
                rest = data(await call(srv, "peer_read"))
                assert [m["content"] for m in rest["messages"]] == ["m1", "m2"]

    run(scenario(), timeout=60)
