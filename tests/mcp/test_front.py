"""``ai-connect mcp``'s quick front (ai_connect.mcp.front): the handshake answered from a
learnt snapshot, exactly as the full server answers it, and the session handed over.

Real processes over stdio, with a throwaway HOME (the snapshot lives under it). The
start-up time itself is measured in bench/mcp_start_bench.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ai_connect.mcp import front

AI_CONNECT = [sys.executable, "-m", "ai_connect"]
VERSIONS = ["2024-11-05", "2025-11-25"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")}
    return base | {
        "HOME": str(home),
        "AI_CONNECT_BRIDGE": "ws://127.0.0.1:9",  # nobody there: the server still serves
        "AI_CONNECT_CONFIG": str(home / "none.yaml"),
        "AI_CONNECT_PEER_NAME": "fronted",
        **extra,
    }


def _session(env: dict[str, str], version: str, call: bool = False) -> list[dict[str, Any]]:
    """initialize, initialized, tools/list (and a tools/call): the answers, in order."""
    requests: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]  # fmt: skip
    if call:
        requests.append({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                         "params": {"name": "peer_status", "arguments": {}}})  # fmt: skip
    return _talk(env, requests)


def _talk(env: dict[str, str], requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answers = []
    with subprocess.Popen(
        [*AI_CONNECT, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=env, cwd=env["HOME"],
    ) as proc:  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        try:
            for request in requests:
                proc.stdin.write((json.dumps(request) + "\n").encode())
                proc.stdin.flush()
                if "id" in request:
                    answers.append(json.loads(proc.stdout.readline()))
        finally:
            proc.stdin.close()
            proc.wait(30)
    return answers


PROBE: dict[str, Any] = {"jsonrpc": "2.0", "id": "probe-1", "method": "server/discover",
    "params": {"_meta": {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {}}}}  # fmt: skip


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME whose front has learnt the handshake and the 2026 probe (as ``ai-connect
    setup`` leaves it)."""
    meta = PROBE["params"]["_meta"]
    _session(_env(tmp_path), "2025-06-18")
    _talk(_env(tmp_path), [PROBE, {"jsonrpc": "2.0", "id": 2, "method": "tools/list",
                                   "params": {"_meta": meta}}])  # fmt: skip
    assert (tmp_path / ".cache" / "ai-connect" / "mcp-front.json").exists()
    return tmp_path


@pytest.mark.parametrize("version", VERSIONS)
def test_early_answers_equal_the_full_servers(home: Path, version: str) -> None:
    """For each handshake version, initialize and tools/list from the front are what the
    full server (AI_CONNECT_MCP_FRONT=off) answers."""
    early = _session(_env(home), version)
    full = _session(_env(home, AI_CONNECT_MCP_FRONT="off"), version)
    assert early == full
    assert early[0]["result"]["protocolVersion"] == version
    assert {t["name"] for t in early[1]["result"]["tools"]} >= {"peer_send", "peer_wait"}


def test_the_full_server_takes_over_after_the_handshake(home: Path) -> None:
    """A tool call after the early handshake is answered by the full server, once."""
    answers = _session(_env(home), "2025-06-18", call=True)
    assert [a["id"] for a in answers] == [1, 2, 3]
    assert "fronted" in json.dumps(answers[2]["result"])


def test_the_2026_probe_is_answered_early_as_the_full_server_answers_it(home: Path) -> None:
    """server/discover (no handshake in the 2026 protocol) gets the full server's answer
    early; a tool call with the 2026 envelope then works."""
    meta = PROBE["params"]["_meta"]
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "peer_status", "arguments": {}, "_meta": meta}}  # fmt: skip
    early = _talk(_env(home), [PROBE, call])
    full = _talk(_env(home, AI_CONNECT_MCP_FRONT="off"), [PROBE])
    assert early[0] == full[0]
    assert "fronted" in json.dumps(early[1]["result"])


def test_the_2026_tools_list_is_answered_early_as_the_full_server_answers_it(
    home: Path,
) -> None:
    """After an early probe, the 2026 protocol's tools/list (its own shape) comes from the
    snapshot too, equal to the full server's: a client that sends its first model request
    as soon as it has the list (Claude Code 2.1.33x) offers ai-connect's tools in it,
    however long the full server takes to load."""
    meta = PROBE["params"]["_meta"]
    tools = {"jsonrpc": "2.0", "id": "t-1", "method": "tools/list", "params": {"_meta": meta}}
    known = json.loads((home / ".cache" / "ai-connect" / "mcp-front.json").read_text())
    assert list(known["modern_tools"]) == ["2026-07-28"]
    early = _talk(_env(home), [PROBE, tools])
    full = _talk(_env(home, AI_CONNECT_MCP_FRONT="off"), [PROBE, tools])
    assert early == full
    assert early[1]["result"]["resultType"] == "complete"
    assert {t["name"] for t in early[1]["result"]["tools"]} >= {"peer_send", "peer_wait"}
    # It is the front that answers (the full server's answer to the same id is dropped):
    path = home / ".cache" / "ai-connect" / "mcp-front.json"
    known["modern_tools"]["2026-07-28"]["tools"][0]["title"] = "from the snapshot"
    path.write_text(json.dumps(known))
    marked = _talk(_env(home), [PROBE, tools])
    assert marked[1]["result"]["tools"][0]["title"] == "from the snapshot"


def test_initialize_after_a_probe_is_left_to_the_full_server(home: Path) -> None:
    """A client that probes, then falls back to initialize without waiting (Claude Code
    2.1.33x when the answer is slow), gets the full server's answers to both, as without
    the front: no early classic answer to a connection the server serves as 2026."""
    path = home / ".cache" / "ai-connect" / "mcp-front.json"
    data = json.loads(path.read_text())
    data["discover"] = {}  # as before the probe was learnt: the probe is not answered early
    path.write_text(json.dumps(data))
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}}  # fmt: skip
    early = _talk(_env(home), [PROBE, init])
    full = _talk(_env(home, AI_CONNECT_MCP_FRONT="off"), [PROBE, init])
    assert [a.get("error", {}).get("code") for a in early] == [
        a.get("error", {}).get("code") for a in full
    ]


def test_a_snapshot_of_other_code_is_not_used(tmp_path: Path) -> None:
    """A snapshot whose key does not match this code and SDK answers nothing: the client
    gets the full server's real answers, and the snapshot is learnt anew."""
    path = tmp_path / ".cache" / "ai-connect" / "mcp-front.json"
    path.parent.mkdir(parents=True)
    stale = {"key": "other", "versions": VERSIONS, "initialize": {}, "tools": {"tools": []}}
    path.write_text(json.dumps(stale))
    answers = _session(_env(tmp_path), VERSIONS[1])
    assert answers[1]["result"]["tools"]
    assert json.loads(path.read_text())["key"] != "other"


@pytest.mark.parametrize(
    ("argv", "mode"),
    [
        (["mcp"], "declared"),
        (["mcp", "--channel", "off"], "off"),
        (["mcp", "--channel=on"], "declared"),
        (["mcp", "--transport", "http"], None),
        (["mcp", "--help"], None),
        (["send", "bob", "hi"], None),
    ],
)
def test_only_stdio_mcp_goes_through_the_front(argv: list[str], mode: str | None) -> None:
    """The front serves `ai-connect mcp` over stdio only; the channel mode keys it."""
    assert front.wants_front(argv, {}) == mode
    assert front.wants_front(argv, {"AI_CONNECT_MCP_FRONT": "off"}) is None
