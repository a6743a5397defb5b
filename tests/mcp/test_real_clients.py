"""Real MCP clients from npm against all three transports.

The MCP Inspector CLI (Node) lists the tools over Streamable HTTP, legacy SSE and stdio.
It is installed on first use into the repository's ``.cache/npm`` (gitignored); without
Node, or without the npm registry, the test is skipped locally and fails in CI (CI=true).
Claude Code's ``claude mcp list`` (a real connection per server) runs with the pinned
Claude Code that ``scripts/ensure_clients.sh`` installs into ``.cache/clients``
(scripts/test.sh runs it): without it the test is skipped, and fails in CI
(tests/claude_e2e/support.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.claude_e2e.support import claude_binary
from tests.client.support import run
from tests.mcp.support import TOOL_NAMES, cli_env, http_server, settings
from tests.support.bridge import bridge

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
AI_CONNECT = [sys.executable, "-m", "ai_connect", "mcp"]


def _node_env(home: Path) -> dict[str, str]:
    env = cli_env(home)
    env |= {"HOME": str(home), "npm_config_cache": str(CACHE / "npm"), "NO_COLOR": "1"}
    return env


async def _run(*args: str, env: dict[str, str], cwd: Path, timeout: float) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, f"timed out after {timeout:g} s"
    return proc.returncode or 0, out.decode(errors="replace")


def _unavailable(reason: str) -> None:
    """Skip locally; in CI a missing real client is a failure, never a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI needs it: Node, npx and the npm registry)")
    pytest.skip(reason)


def _tools(output: str) -> set[str]:
    start = output.index("{")  # npm may print warnings first
    listing = json.JSONDecoder().raw_decode(output[start:])[0]
    tools = listing["tools"]
    assert all("outputSchema" in t and "annotations" in t for t in tools)
    return {t["name"] for t in tools}


def test_the_mcp_inspector_sees_every_tool_on_all_three_transports(tmp_path: Path) -> None:
    """The Inspector CLI lists all tools over /mcp, /sse and stdio."""
    if shutil.which("npx") is None:
        _unavailable("needs Node's npx")

    async def scenario() -> None:
        env = _node_env(tmp_path)
        npx = ["npx", "-y", INSPECTOR, "--cli"]
        code, out = await _run(*npx, "--version", env=env, cwd=tmp_path, timeout=90)
        if code != 0:
            _unavailable(f"cannot install {INSPECTOR} from npm: {out[-300:]}")
        async with bridge() as br, http_server(settings(br.url, "srv")) as base:
            stdio = [*npx, "--cwd", str(tmp_path), "--method", "tools/list", *AI_CONNECT]
            runs = [
                _run(*npx, f"{base}/mcp", "--transport", "http", "--method", "tools/list",
                     env=env, cwd=tmp_path, timeout=60),
                _run(*npx, f"{base}/sse", "--transport", "sse", "--method", "tools/list",
                     env=env, cwd=tmp_path, timeout=60),
                _run(*stdio, "--bridge", br.url, "--name", "insp",
                     env=env, cwd=tmp_path, timeout=60),
            ]  # fmt: skip
            for code, out in await asyncio.gather(*runs):
                assert code == 0, out
                assert _tools(out) == TOOL_NAMES

    run(scenario(), timeout=110)


def test_claude_code_connects_to_all_three_transports(tmp_path: Path) -> None:
    """``claude mcp add`` for stdio, http and sse, then ``claude mcp list``: all connected."""
    claude = claude_binary()

    async def scenario() -> None:
        env = _node_env(tmp_path) | {
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "HTTPS_PROXY": "http://127.0.0.1:9",  # nothing beyond loopback
            "NO_PROXY": "127.0.0.1,localhost",
        }
        async with bridge() as br, http_server(settings(br.url, "srv")) as base:
            adds = [
                ["stdio", "ai-connect", "--", *AI_CONNECT, "--bridge", br.url, "--name", "cc"],
                ["http", "ai-connect-http", f"{base}/mcp?name=cc-http"],
                ["sse", "ai-connect-sse", f"{base}/sse"],
            ]
            for transport, *rest in adds:
                code, out = await _run(
                    str(claude), "mcp", "add", "--transport", transport, *rest,
                    env=env, cwd=tmp_path, timeout=30,
                )  # fmt: skip
                assert code == 0, out
            code, out = await _run(str(claude), "mcp", "list", env=env, cwd=tmp_path, timeout=60)
            assert code == 0, out
            for name in ("ai-connect:", "ai-connect-http:", "ai-connect-sse:"):
                [line] = [x for x in out.splitlines() if x.startswith(name)]
                assert line.endswith("Connected"), out

    run(scenario(), timeout=110)
